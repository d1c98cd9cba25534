"""SIGKILL in the middle of writes: every intent acknowledged before the kill is in the store, and the store is sound.

A real subprocess journals order intents in a loop and prints each client order id once `record_intent` has
returned (committed). Between two acknowledgements it goes on writing (a status update, an event, the next
intent), so each kill lands somewhere in those transactions. The test kills it after k acknowledgements for
several k, reopens the store each time (SQLite recovers its WAL) and checks it. One kill lands while the store is
being created and migrated.
"""

from __future__ import annotations

import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from fundarb_core.store import Store, resolve_location

pytestmark = pytest.mark.slow

PG_ENV = "FUNDARB_TEST_DATABASE_URL"
OPENING = "opening"

WRITER = """
import asyncio, sys
from decimal import Decimal
from fundarb_core.model import OrderStatus, Side
from fundarb_core.store import Store

async def main(url, schema, tag):
    print("opening", flush=True)
    store = await Store.open(url, schema=schema or None)
    n = 0
    while True:
        coid = f"{tag}-{n}"
        await store.orders.record_intent(
            client_order_id=coid, venue="v", symbol="BTC", side=Side.BUY,
            quantity=Decimal("0.001") * (n + 1), price=Decimal("100000.25"), attempt=n,
        )
        print(coid, flush=True)  # the acknowledgement: printed only after the commit returned
        await store.orders.update(coid, status=OrderStatus.OPEN, venue_order_id=str(n))
        await store.events.append("order_sent", {"coid": coid, "n": n})
        n += 1

asyncio.run(main(*sys.argv[1:]))
"""


def _read_line(proc: subprocess.Popen[str], selector: selectors.BaseSelector) -> str:
    # The timeout is a safety net against a hung writer, not a wait: lines arrive within milliseconds.
    if not selector.select(timeout=60):
        raise AssertionError("the writer printed nothing for 60 s")
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        raise AssertionError(f"the writer stopped on its own: {proc.stderr.read() if proc.stderr else ''}")
    return line.strip()


def run_and_kill(url: str, schema: str, tag: str, kill_after: int | str) -> list[str]:
    """Start a writer, SIGKILL it after `kill_after` acknowledgements (or as it starts opening the store)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, schema, tag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    acknowledged: list[str] = []
    try:
        with selectors.DefaultSelector() as selector:
            assert proc.stdout is not None
            selector.register(proc.stdout, selectors.EVENT_READ)
            assert _read_line(proc, selector) == OPENING
            if kill_after != OPENING:
                assert isinstance(kill_after, int)
                while len(acknowledged) < kill_after:
                    acknowledged.append(_read_line(proc, selector))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode == -signal.SIGKILL
    return acknowledged


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str, str]]:
    if request.param == "sqlite":
        yield "sqlite", str(tmp_path / "crash.sqlite3"), ""
        return
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} not set: the PostgreSQL crash test needs a server")
    schema = f"crash_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(resolve_location(url).url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        yield "postgresql", url, schema
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await engine.dispose()


async def test_every_acknowledged_intent_survives_sigkill(target: tuple[str, str, str]) -> None:
    backend, url, schema = target
    # The first kill lands while the store is created and migrated; the rest mid-writes, after k intents.
    kill_points: list[int | str] = [OPENING, 1, 0, 2, 5, 13, 40, 97] if backend == "sqlite" else [OPENING, 3, 25]
    acknowledged: list[str] = []
    for run, kill_after in enumerate(kill_points):
        acknowledged += run_and_kill(url, schema, f"r{run}", kill_after)
        async with await Store.open(url, schema=schema or None) as store:
            assert await store.check_integrity() == []  # integrity_check and foreign_key_check on SQLite
            stored = {o.client_order_id: o for o in await store.orders.list()}
            missing = [coid for coid in acknowledged if coid not in stored]
            assert missing == [], f"acknowledged intents lost after kill #{run} (after {kill_after})"
            for coid in acknowledged:  # and each is whole, not a torn row
                n = int(coid.split("-")[1])
                assert stored[coid].attempt == n
                assert stored[coid].quantity == Decimal("0.001") * (n + 1)
    assert len(acknowledged) == sum(k for k in kill_points if isinstance(k, int))
    if backend == "sqlite":
        # Independently of the store's code: the file itself is sound.
        with closing(sqlite3.connect(url)) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
