#!/usr/bin/env python3
"""Durable order intents journalled per second: one `record_intent` per transaction, each committed on return.

    .venv/bin/python benchmarks/store_intents.py [--count 2000]

SQLite always (a file in a temporary directory: WAL, synchronous=FULL, so each commit is fsynced); PostgreSQL too
when FUNDARB_TEST_DATABASE_URL is set (a throw-away schema, dropped afterwards). Intents are written one after the
other, as the executor writes them (it waits for the commit before it sends the order), so the figure is the
latency-bound rate of a single bot, not the database's throughput under concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from fundarb_core.model import Side
from fundarb_core.store import Store, resolve_location

PG_ENV = "FUNDARB_TEST_DATABASE_URL"


async def journal(store: Store, count: int, prefix: str) -> list[float]:
    """Record `count` intents one by one; return each one's latency in seconds."""
    latencies = []
    for n in range(count):
        start = time.perf_counter()
        await store.orders.record_intent(
            client_order_id=f"{prefix}-{n}",
            venue="aster",
            symbol="BTC",
            side=Side.BUY if n % 2 else Side.SELL,
            quantity=Decimal("0.015"),
            price=Decimal("100000.1") + n,
        )
        latencies.append(time.perf_counter() - start)
    return latencies


def report(name: str, latencies: list[float]) -> None:
    total = sum(latencies)
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{name:<11} {len(latencies) / total:8.0f} intents/s  "
        f"(median {statistics.median(latencies) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, n={len(latencies)})"
    )


async def bench_sqlite(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(Path(tmp) / "bench.sqlite3") as store:
            await journal(store, min(100, count), "warm-up")  # not measured
            report("sqlite", await journal(store, count, "bench"))


async def bench_postgres(url: str, count: int) -> None:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(resolve_location(url).url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            async with await Store.open(url, schema=schema) as store:
                await journal(store, min(100, count), "warm-up")  # not measured
                report("postgresql", await journal(store, count, "bench"))
        finally:
            async with admin.connect() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=2000, help="intents per backend (default 2000)")
    args = parser.parse_args(argv)
    asyncio.run(bench_sqlite(args.count))
    url = os.environ.get(PG_ENV)
    if url:
        asyncio.run(bench_postgres(url, args.count))
    else:
        print(f"postgresql  skipped ({PG_ENV} not set)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
