#!/usr/bin/env python3
"""The dashboard's speed with a big store: 10,000 positions (9,900 closed, 100 open) in SQLite.

    .venv/bin/python benchmarks/dashboard.py [--positions 10000] [--requests 300]

- API: p50/p99 latency of `GET /api/positions` (one page of 50, over real HTTP on 127.0.0.1 to uvicorn), for the
  default order, a deep page, the open ones, and sorted by net. Target: p99 ≤ 50 ms.
- Browser: the overview's load time in Debian's chromium (Playwright): from navigation to the open positions and
  the equity curve drawn. Target: ≤ 500 ms. Skipped (and said so) without chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from fundarb_core.app.api import bind, create_app, serve_forever, server_for
from fundarb_core.clock import EPOCH
from fundarb_core.config import parse_config
from fundarb_core.plugins import Plugins
from fundarb_core.store import Store
from fundarb_core.store._schema import legs, positions

SYMBOLS = ["BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "AVAX", "LINK", "ARB", "SUI"]


async def fill(store: Store, count: int, open_count: int) -> None:
    """Insert `count` positions (the last `open_count` open) with their legs, in one transaction."""
    rows, leg_rows = [], []
    for n in range(count):
        pid = uuid.uuid4().hex
        at = EPOCH + timedelta(minutes=5 * n)
        is_open = n >= count - open_count
        net = Decimal(n % 97 - 40) / 10
        details: dict[str, Any] = (
            {"marks": {"aster": "100.5", "lighter": "100.6"}, "funding_accrued": {"aster": "0.12", "lighter": "-0.03"},
             "liquidation_distance": {"aster": "0.31", "lighter": "0.29"}, "unrealized_pnl": "0.42",
             "net_apr": "0.25"}
            if is_open
            else {"price_pnl": str(net - 1), "funding": "1.20", "fees": "0.20", "net_apr": "0.25"}
        )  # fmt: skip
        rows.append({"id": pid, "symbol": SYMBOLS[n % len(SYMBOLS)], "status": "open" if is_open else "closed",
                     "long_venue": "lighter", "short_venue": "aster", "notional_usd": Decimal(1000 + n % 500),
                     "version": 3, "entry_spread": Decimal("0.00002"), "exit_reason": None if is_open else
                     "profit_erosion", "realized_pnl": None if is_open else net, "opened_at": at,
                     "closed_at": None if is_open else at + timedelta(hours=6), "created_at": at, "updated_at": at,
                     "details": details})  # fmt: skip
        for venue, side in (("lighter", "buy"), ("aster", "sell")):
            leg_rows.append({"id": uuid.uuid4().hex, "position_id": pid, "venue": venue, "side": side,
                             "quantity": Decimal("0.01"), "filled_quantity": Decimal("0.01"),
                             "entry_price": Decimal("100.5"), "exit_price": None, "fees": Decimal("0.1"),
                             "funding": Decimal(0)})  # fmt: skip
    async with store._db.write() as conn:  # a benchmark's shortcut: 10,000 positions in one transaction
        await conn.execute(sa.insert(positions), rows)
        await conn.execute(sa.insert(legs), leg_rows)


class Server:
    """The app on 127.0.0.1 in a thread with its own loop and store connection (as `fundarb serve` runs)."""

    def __init__(self, config: Any, data_dir: Path) -> None:
        self.config, self.data_dir, self.url = config, data_dir, ""
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None

    async def _main(self) -> None:
        self.loop, self.stop_event = asyncio.get_running_loop(), asyncio.Event()
        store = await Store.open(None, data_dir=self.data_dir)
        try:
            sock = bind("127.0.0.1", 0)
            self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            app = create_app(store, self.config, data_dir=self.data_dir, simulated=True)
            self.ready.set()
            await serve_forever(server_for(app, "127.0.0.1", 0), self.stop_event, sock)
        finally:
            await store.close()

    def __enter__(self) -> Server:
        self.thread.start()
        self.ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def bench_api(url: str, requests: int) -> None:
    queries = {
        "first page (newest 50)": "/api/positions?limit=50",
        "deep page (offset 9000)": "/api/positions?limit=50&offset=9000&order=asc",
        "open positions": "/api/positions?status=open&limit=50",
        "sorted by net": "/api/positions?sort=realized_pnl&order=desc&limit=50",
    }
    # TCP_NODELAY as browsers set it: without it, Nagle's algorithm and delayed ACKs add ~40 ms to each request.
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    with httpx.Client(base_url=url, transport=transport) as client:
        for name, path in queries.items():
            for _ in range(10):  # warm-up: connections, statement caches
                client.get(path).raise_for_status()
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - started)
                response.raise_for_status()
            total = response.json()["total"]
            print(f"  GET positions, {name:<24} p50 {statistics.median(times) * 1000:6.1f} ms  "
                  f"p99 {percentile(times, 0.99) * 1000:6.1f} ms  (n={requests}, total {total})")  # fmt: skip


def bench_page(url: str, loads: int) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("  overview page: skipped (playwright not installed)")
        return
    if not Path(chromium).is_file():
        print(f"  overview page: skipped (no chromium at {chromium})")
        return
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        times = []
        for n in range(loads + 2):
            page.goto("about:blank")
            started = time.perf_counter()
            page.goto(url + "/")
            page.wait_for_selector("table.positions tbody tr[data-position]")
            page.wait_for_selector(".chart svg path")
            if n >= 2:  # the first loads warm the server's and the browser's caches
                times.append(time.perf_counter() - started)
        browser.close()
    print(f"  overview page load: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
          f"(n={loads}; navigation → open positions and equity curve drawn)")  # fmt: skip


def main(argv: list[str] | None = None, *, quick: bool = False) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50 if quick else 300)
    parser.add_argument("--loads", type=int, default=3 if quick else 10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        config = parse_config({"bot": {"data_dir": str(data_dir)}}, Plugins().load(entry_points=False))

        async def setup() -> None:
            async with await Store.open(None, data_dir=data_dir) as store:
                await fill(store, args.positions, 100)

        started = time.perf_counter()
        asyncio.run(setup())
        print(f"  store: {args.positions} positions (100 open) in SQLite, written in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        with Server(config, data_dir) as server:
            bench_api(server.url, args.requests)
            bench_page(server.url, args.loads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
