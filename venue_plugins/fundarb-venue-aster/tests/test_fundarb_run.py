"""`fundarb run` with `[venues.aster]` on the fake Aster server: a position opens and closes against a sim venue.

The fake runs in this process (its own thread and event loop, 127.0.0.1, an ephemeral port); `fundarb run` and
`fundarb positions` are real subprocesses. BTC funding starts far apart (Aster pays longs, the sim charges them), so
the bot goes long Aster / short the sim. The moment the fake's account holds the long, the fake's funding rate is
raised just above the sim's: the spread flips (an exit) while the reverse pair stays below `min_net_apr` (no
re-entry). When the account is flat again the bot is sent SIGTERM and stops after its tick. On the way, one
`premiumIndex` reply is an HTML page with status 200: the bot logs the typed error and carries on.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fundarb_venue_aster.testing import FakeAsterServer
from fundarb_venue_aster.testing.mutate import Mutation

from .conftest import SIGNER, SIGNER_KEY, USER

FUNDARB = Path(sys.executable).with_name("fundarb")
SYMBOL = "BTCUSDT"
# Per 8 h. The sim's hourly BTC rate is its bias (5 bp/h) plus a draw in [-0.3, +0.6] bp/h: 0.00047..0.00056.
ENTRY_RATE = Decimal("-0.004")  # -5 bp/h: spread ≈ 10 bp/h ≈ 9 APR, far above min_net_apr
FLIPPED_RATE = Decimal("0.00464")  # 5.8 bp/h: the spread turns negative; the reverse pair nets < 1 APR


class FakeInThread:
    """The fake Aster on its own event loop in a thread; records when its account opens and goes flat again."""

    def __init__(self) -> None:
        self.server = FakeAsterServer(seed=7)
        market = self.server.exchange.markets[SYMBOL]
        market.mark = Decimal("60000.0")  # the sim's BTC starts at its catalogue price, 60000
        market.funding_rate = ENTRY_RATE
        self.opened = threading.Event()
        self.flat = threading.Event()
        self.peak = Decimal(0)
        exchange = self.server.exchange
        fill = exchange.fill

        def watched_fill(account: Any, order: Any, qty: Decimal, price: Decimal, *, maker: bool) -> None:
            fill(account, order, qty, price, maker=maker)
            position = account.positions.get(SYMBOL)
            held = position.qty if position is not None else Decimal(0)
            self.peak = max(self.peak, abs(held))
            if held != 0 and not self.opened.is_set():
                market.funding_rate = FLIPPED_RATE  # read by the bot's next rates fetch
                self.opened.set()
            elif held == 0 and self.opened.is_set():
                self.flat.set()

        exchange.fill = watched_fill  # type: ignore[method-assign]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeInThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=10)
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def held(self) -> Decimal:
        account = self.server.v3_account(USER)
        position = account.positions.get(SYMBOL)
        return position.qty if position is not None else Decimal(0)

    def open_orders(self) -> list[Any]:
        account = self.server.v3_account(USER)
        return [o for o in account.orders.values() if o.status in ("NEW", "PARTIALLY_FILLED")]


@pytest.fixture
def fake_aster() -> Iterator[FakeInThread]:
    with FakeInThread() as fake:
        yield fake


def write_config(path: Path, fake: FakeAsterServer) -> None:
    path.write_text(
        f"""
[bot]
data_dir = "data"
log_level = "INFO"

[venues.aster]
kind = "aster"
user = "{USER}"
signer = "{SIGNER}"
private_key = "env:ASTER_TEST_KEY"
base_url = "{fake.url}"
ws_url = "{fake.ws_url}"
symbols = ["BTC"]
timeout = "5s"
connect_timeout = "2s"
reconnect_initial = "10ms"
reconnect_max = "200ms"

[venues.sim_leg]
kind = "sim"
profile = "plain"
seed = 7
symbols = ["BTC"]
starting_balance = "100000"
funding_bias_bps_per_hour = "5"

[strategy]
position_size_usd = "1000"
leverage = "3"
min_net_apr = "2"
expected_hold = "24h"
signal_window = "0s"            # the latest quotes: the fake venue has no history to smooth
max_price_gap = "0.01"
open_timeout = "1s"
scan_interval = "1s"
monitor_interval = "1s"

[risk_manager]                  # exit on the flip at once: no minimum hold, no settlement wait
kind = "combined"
min_hold = "0s"
settlement_wait = "0s"

[close_policy]
kind = "maker_first"
timeout = "2s"
urgent_timeout = "1s"
reprice_interval = "1s"
emergency_timeout = "1s"
""",
        encoding="utf-8",
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNDARB_")}
    env["ASTER_TEST_KEY"] = SIGNER_KEY
    return env


def test_fundarb_run_opens_and_closes_an_aster_position_against_a_sim_leg(
    tmp_path: Path, fake_aster: FakeInThread
) -> None:
    write_config(tmp_path / "live.toml", fake_aster.server)
    # One mark read answers HTML with status 200 (a proxy's error page): a typed, transient error for that tick.
    # (The first one: later ticks read rates and marks from the market streams, not from premiumIndex.)
    fake_aster.server.faults.mutation = Mutation("body", "html", nth=0, endpoint="premiumIndex")
    run = subprocess.Popen(
        [str(FUNDARB), "--log-level", "INFO", "run", "--config", "live.toml", "--duration", "25s", "--no-live"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Waiting on a real subprocess: the fake's fills tell when the bot opened and when it closed.
        closed_in_time = fake_aster.flat.wait(timeout=20)
        if closed_in_time:
            run.send_signal(signal.SIGTERM)
        stdout, stderr = run.communicate(timeout=20)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert fake_aster.opened.is_set(), f"the bot never traded on the fake Aster:\n{stderr[-4000:]}"
    assert closed_in_time, f"the Aster leg was not closed:\n{stderr[-4000:]}"
    assert run.returncode == 0, stderr[-4000:]
    assert "1 closed" in stdout, stdout
    assert fake_aster.server.faults.mutation_applied
    assert "premiumIndex: malformed reply at $: not JSON" in stderr
    # Rates, marks and the BBO came from the market streams once subscribed: REST was asked a few times only.
    market = fake_aster.server.market
    assert any("!markPrice@arr@1s" in streams for streams in market.opened + market.subscribed)
    asked = [path for _, path in fake_aster.server.requests]
    assert sum(p.endswith("/premiumIndex") for p in asked) <= 3, asked

    listed = subprocess.run(
        [str(FUNDARB), "positions", "--config", "live.toml", "--json"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 1, rows
    (row,) = rows
    assert row["status"] == "closed", row
    assert row["symbol"] == "BTC"
    assert (row["long"], row["short"]) == ("aster", "sim_leg"), row
    assert row["exit_reason"] == "divergence_flipped", row
    assert Decimal(row["price_pnl"]) + Decimal(row["funding"]) - Decimal(row["fees"]) == Decimal(row["net"])
    assert Decimal(row["fees"]) > 0

    # The fake's account is flat: no position, no resting order, and it did hold the long (~1000 USD of BTC).
    assert fake_aster.held() == 0
    assert fake_aster.open_orders() == []
    assert fake_aster.peak == Decimal("0.016")
