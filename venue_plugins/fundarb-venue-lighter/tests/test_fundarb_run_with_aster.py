"""`fundarb run` across the two fakes: Aster (8-hourly funding) against Lighter (hourly funding), end to end.

Both fake servers listen on 127.0.0.1 (ephemeral ports); the bot is configured by a real config with
`[venues.aster]` and `[venues.lighter]` sections, built through the plugin registry, and driven tick by tick on the
wall clock. Nothing sleeps: real time passes only while the venues answer.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import fundarb_close_maker_first.plugin as maker_first
import fundarb_venue_aster.plugin as aster_plugin
import fundarb_venue_lighter.plugin as lighter_plugin
import pytest
import pytest_asyncio
from eth_account import Account
from fundarb_venue_aster.testing import FakeAsterServer
from fundarb_venue_lighter.testing import FakeLighter, throwaway_key_pair

from fundarb_core.app.runtime import Runtime
from fundarb_core.config import Config, parse_config
from fundarb_core.execution import Urgency
from fundarb_core.model import ExitReason, PositionStatus
from fundarb_core.plugins import Plugins
from fundarb_core.strategy.exits import ExitRules, Waterfall

from .hostile import replace_reply

# Lighter: a test account and API key index; the key pair is a throw-away one made by the SDK's signer.
LIGHTER_ACCOUNT = 7
LIGHTER_KEY = 3
LIGHTER_BTC = 1  # the fake's BTC market id
# Aster: the demonstration key of Aster's V3 docs (public, worthless) and a made-up user address.
ASTER_SIGNER_KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"
ASTER_SIGNER = Account.from_key(ASTER_SIGNER_KEY).address
ASTER_USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"
MARK = Decimal(60000)
# Aster pays 0.1 % per 8 h (0.0125 %/h) on BTC, Lighter 0.001 %/h: short Aster, long Lighter.
ASTER_RATE_8H = Decimal("0.001")
LIGHTER_RATE_1H = Decimal("0.00001")
HOUR_MS = 3_600_000


@dataclass
class Fakes:
    aster: FakeAsterServer
    lighter: FakeLighter

    async def lighter_control(self, action: str, **body: Any) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.post(f"{self.lighter.url}/fake/{action}", json=body) as r:
            assert r.status == 200, await r.text()
            reply: dict[str, Any] = await r.json()
            return reply

    def aster_position(self) -> Decimal:
        return self.aster.v3_account(ASTER_USER).position("BTCUSDT").qty

    def lighter_position(self) -> Decimal:
        account = self.lighter.exchange.accounts.get(LIGHTER_ACCOUNT)
        if account is None or LIGHTER_BTC not in account.positions:
            return Decimal(0)
        return account.positions[LIGHTER_BTC].size


@pytest_asyncio.fixture
async def fakes() -> AsyncIterator[Fakes]:
    lighter = FakeLighter()
    btc = lighter.exchange.markets[LIGHTER_BTC]
    assert btc.symbol == "BTC"
    assert lighter.exchange.mids[LIGHTER_BTC] == MARK
    lighter.exchange.markets[LIGHTER_BTC] = replace(btc, hourly_rate=LIGHTER_RATE_1H)
    lighter.exchange.register_key(LIGHTER_ACCOUNT, LIGHTER_KEY, throwaway_key_pair()[1])
    await lighter.start()
    aster = FakeAsterServer()
    aster.exchange.markets["BTCUSDT"].funding_rate = ASTER_RATE_8H
    aster.exchange.set_mark("BTCUSDT", MARK)  # marks side by side: the venues' mids are well within 1 %
    await aster.start()
    try:
        yield Fakes(aster, lighter)
    finally:
        await aster.stop()
        await lighter.stop()


def plugins() -> Plugins:
    loaded = Plugins().load(entry_points=False)
    loaded.register(aster_plugin, name="venue_aster", distribution="fundarb-venue-aster")
    loaded.register(lighter_plugin, name="venue_lighter", distribution="fundarb-venue-lighter")
    loaded.register(maker_first, name="close_maker_first", distribution="fundarb-close-maker-first")
    return loaded


def config_data(fakes: Fakes, data_dir: Path) -> dict[str, Any]:
    return {
        "bot": {"data_dir": str(data_dir), "log_level": "WARNING"},
        "venues": {
            "aster": {
                "kind": "aster",
                "auth": "v3",
                "user": ASTER_USER,
                "signer": ASTER_SIGNER,
                "private_key": ASTER_SIGNER_KEY,
                "base_url": fakes.aster.url,
                "ws_url": fakes.aster.ws_url,
                "symbols": ["BTC"],
                "timeout": "5s",
                "connect_timeout": "2s",
                "reconnect_initial": "1ms",
                "reconnect_max": "20ms",
            },
            "lighter": {
                "kind": "lighter",
                "account_index": LIGHTER_ACCOUNT,
                "api_key_index": LIGHTER_KEY,
                "api_private_key": throwaway_key_pair()[0],
                "base_url": fakes.lighter.url,
                "requests_per_minute": 1_000_000,
                "symbols": ["BTC"],
                "timeout": "5s",
            },
        },
        "strategy": {
            "symbols": ["BTC"],
            "position_size_usd": "1000",
            "leverage": "3",
            "max_positions": 1,
            "min_net_apr": "0.05",
            "signal_window": "0s",  # the latest quotes: the fake venues have no history to smooth
            "maker_share": "1",
            "open_timeout": "2s",
            "scan_interval": "1s",
            "monitor_interval": "1s",
        },
        "close_policy": {
            "kind": "maker_first",
            "timeout": "1s",
            "urgent_timeout": "1s",
            "reprice_interval": "200ms",
            "emergency_timeout": "2s",
        },
    }


def make_config(fakes: Fakes, data_dir: Path, loaded: Plugins) -> Config:
    return parse_config(config_data(fakes, data_dir), loaded)


@pytest_asyncio.fixture
async def runtime(fakes: Fakes, tmp_path: Path) -> AsyncIterator[Runtime]:
    loaded = plugins()
    opened = await Runtime.open(make_config(fakes, tmp_path / "data", loaded), loaded)
    if opened.bot is not None:  # exit on a flip at once (the default exit rules hold a position 24 h first)
        opened.bot.closer.fallback = Waterfall.of(ExitRules(min_hold=timedelta(0), settlement_wait=timedelta(0)))
    try:
        yield opened
    finally:
        if opened.bot is not None:
            await opened.bot.shutdown()
        await opened.close()


async def _open(runtime: Runtime, fakes: Fakes) -> Any:
    bot = runtime.bot
    assert bot is not None
    tick = await bot.tick(scan=True)
    assert tick.opportunities, "the 8-hourly Aster rate against the hourly Lighter rate is a spread"
    best = tick.opportunities[0]
    assert (best.symbol, best.long_venue, best.short_venue) == ("BTC", "lighter", "aster")
    assert len(tick.opened) == 1, tick
    (position,) = await runtime.store.positions.list_open()
    assert position.status is PositionStatus.OPEN
    assert (position.long_venue, position.short_venue) == ("lighter", "aster")
    (qty,) = {leg.quantity for leg in position.legs}
    assert all(leg.filled_quantity == qty for leg in position.legs), position.legs
    assert fakes.lighter_position() == qty > 0
    assert fakes.aster_position() == -qty
    return position, qty


async def aster_rate_streamed(venue: Any, fakes: Fakes, rate: Decimal) -> None:
    """Push Aster's marks now and wait until the venue's mark-price stream has `rate` (rates come from it, once per
    second on the real Aster), or until the venue would ask REST anyway (its stream is not up)."""
    stream = venue.market_stream

    async def seen() -> None:
        while stream.connected.is_set() and getattr(stream.mark("BTCUSDT"), "r", None) != rate:
            stream.changed.clear()
            fakes.aster.market.push_marks()
            await stream.changed.wait()

    await asyncio.wait_for(seen(), 5.0)


async def test_open_fund_on_both_schedules_and_close(runtime: Runtime, fakes: Fakes) -> None:
    bot = runtime.bot
    assert bot is not None
    position, qty = await _open(runtime, fakes)

    # Funding: Lighter settles every hour (two hours have ended), Aster once per 8 h interval.
    next_hour = (int(time.time() * 1000) // HOUR_MS + 1) * HOUR_MS  # when this hour ends
    for k in range(2):
        reply = await fakes.lighter_control("funding", now_ms=next_hour + k * HOUR_MS)
        assert reply["payments"] == 1
    fakes.aster.exchange.settle_funding("BTCUSDT")
    await bot.funding.record()
    payments = await runtime.store.funding.list(position_id=position.id)
    by_venue = {v: [p for p in payments if p.venue == v] for v in ("aster", "lighter")}
    assert len(by_venue["lighter"]) == 2
    assert len(by_venue["aster"]) == 1
    assert all(p.amount < 0 for p in by_venue["lighter"]), "the long pays a positive hourly rate"
    assert by_venue["aster"][0].amount > 0, "the short receives the 8-hourly rate"
    # The Aster payment is one 8-hour interval: about eight Lighter hours' worth at its (higher) rate.
    assert by_venue["aster"][0].amount == (qty * MARK * ASTER_RATE_8H).quantize(Decimal("1e-8"))
    await bot.funding.record()  # idempotent
    assert len(await runtime.store.funding.list(position_id=position.id)) == 3

    # Aster's rate turns negative: the spread has flipped, the next tick closes the position.
    fakes.aster.exchange.markets["BTCUSDT"].funding_rate = Decimal("-0.001")
    await aster_rate_streamed(bot.venues["aster"], fakes, Decimal("-0.001"))
    tick = await bot.tick(scan=False)
    assert tick.closed == [position.id]
    record = await runtime.store.positions.get(position.id)
    assert record is not None
    assert record.status is PositionStatus.CLOSED
    assert record.exit_reason is ExitReason.DIVERGENCE_FLIPPED
    assert record.details["emergency"] is False
    assert fakes.lighter_position() == 0
    assert fakes.aster_position() == 0
    d = record.details
    for part in ("price_pnl", "funding", "fees"):
        assert part in d, d
    funding = sum((p.amount for p in payments), Decimal(0))
    assert Decimal(d["funding"]) == funding
    assert Decimal(d["fees"]) > 0, "Aster charges fees"
    assert Decimal(d["price_pnl"]) + Decimal(d["funding"]) - Decimal(d["fees"]) == record.realized_pnl
    assert await runtime.store.positions.list_open() == []


async def test_a_leg_liquidated_on_lighter_closes_aster_as_an_emergency(runtime: Runtime, fakes: Fakes) -> None:
    bot = runtime.bot
    assert bot is not None
    position, qty = await _open(runtime, fakes)

    reply = await fakes.lighter_control("liquidate", account_index=LIGHTER_ACCOUNT, market_id=LIGHTER_BTC)
    assert Decimal(reply["closed"]) == qty
    assert fakes.lighter_position() == 0

    tick = await bot.tick(scan=False)
    assert tick.closed == [position.id]
    record = await runtime.store.positions.get(position.id)
    assert record is not None
    assert record.status is PositionStatus.CLOSED
    assert record.exit_reason is ExitReason.LEG_LIQUIDATED
    assert record.details["emergency"] is True
    assert fakes.aster_position() == 0
    assert fakes.lighter_position() == 0


@pytest.mark.parametrize("endpoint", ["funding-rates", "account"])
async def test_an_html_200_from_lighter_keeps_the_bot_running(runtime: Runtime, fakes: Fakes, endpoint: str) -> None:
    bot = runtime.bot
    assert bot is not None
    position, _ = await _open(runtime, fakes)
    replaced = replace_reply(fakes.lighter, endpoint, "<html><body>maintenance</body></html>", content_type="text/html")
    await bot.tick(scan=False)  # a typed venue error inside the tick: logged, not raised
    await bot.tick(scan=False)
    record = await runtime.store.positions.get(position.id)
    assert record is not None
    assert record.status is PositionStatus.OPEN  # still held and guarded
    record = await bot.close_position(record, ExitReason.MANUAL, Urgency.URGENT)
    assert replaced == [1]
    assert record.status is PositionStatus.CLOSED
    assert fakes.aster_position() == 0
    assert fakes.lighter_position() == 0


async def test_manual_close_flattens_both_fakes(runtime: Runtime, fakes: Fakes) -> None:
    bot = runtime.bot
    assert bot is not None
    position, _ = await _open(runtime, fakes)
    record = await bot.book.close(position, ExitReason.MANUAL, Urgency.URGENT)
    assert record.status is PositionStatus.CLOSED
    assert fakes.aster_position() == 0
    assert fakes.lighter_position() == 0


async def test_fundarb_run_subprocess_with_both_venues(fakes: Fakes, tmp_path: Path) -> None:
    fundarb = Path(sys.executable).with_name("fundarb")
    if not fundarb.exists():
        pytest.skip("the fundarb console script is not installed next to this interpreter")
    data = config_data(fakes, tmp_path / "data")
    config = tmp_path / "fundarb.toml"
    config.write_text(_toml(data), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNDARB_")}
    # The fakes run in this test's event loop: the subprocess must run while the loop serves them.
    proc = await asyncio.create_subprocess_exec(
        str(fundarb), "run", "--config", str(config), "--duration", "3s",
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, (stdout.decode(), stderr.decode())
    assert fakes.lighter.requests.get("funding-rates", 0) > 0, "the run asked Lighter for rates"
    assert any("premiumIndex" in path for _, path in fakes.aster.requests), "the run asked Aster for rates"
    # It traded: a hedged position is left open on the fakes (a run that ends does not close positions).
    assert fakes.lighter_position() > 0
    assert fakes.aster_position() == -fakes.lighter_position()


def _toml(data: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines: list[str] = []

    def table(name: str, body: dict[str, Any]) -> None:
        lines.append(f"[{name}]")
        nested = {k: v for k, v in body.items() if isinstance(v, dict)}
        lines.extend(f"{k} = {value(v)}" for k, v in body.items() if not isinstance(v, dict))
        lines.append("")
        for k, v in nested.items():
            table(f"{name}.{k}", v)

    for name, body in data.items():
        table(name, body)
    return "\n".join(lines)
