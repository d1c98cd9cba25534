"""A running bot whose lease is lost (taken over, or expired while the store was unreachable) stops before its next
tick and `fundarb run` exits 1 with one line saying why, instead of going on beside the bot that took the store over
(found by review: the heartbeat task's `LeaseLost` was only looked at when the run ended)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fundarb_core.app.bot import Bot
from fundarb_core.cli import main
from fundarb_core.cli._load import load
from fundarb_core.store import LeaseLost
from fundarb_core.store._lease import Lease


def test_a_bot_that_loses_its_lease_stops_before_its_next_tick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    config = tmp_path / "paper.toml"
    init = runner.invoke(main, ["init", str(config), "--data-dir", str(tmp_path / "data")])
    assert init.exit_code == 0, init.output
    ticks: list[bool] = []
    ticked = asyncio.Event()
    tick = Bot.tick
    released: list[Lease] = []
    release = Lease.release

    async def counted(self: Bot, *, scan: bool) -> Any:
        ticks.append(scan)
        result = await tick(self, scan=scan)
        ticked.set()
        return result

    async def taken_over_after_a_tick(self: Lease, interval: object = None) -> None:
        await ticked.wait()
        raise LeaseLost("bot 'fundarb-run' lost its lease: held by another bot now")

    async def spy_release(self: Lease) -> None:
        released.append(self)
        await release(self)

    monkeypatch.setattr(Bot, "tick", counted)
    monkeypatch.setattr(Lease, "heartbeat", taken_over_after_a_tick)
    monkeypatch.setattr(Lease, "release", spy_release)
    result = runner.invoke(main, ["--log-level", "ERROR", "run", "--config", str(config), "--duration", "30d",
                                  "--no-live"])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "stopped: bot 'fundarb-run' lost its lease: held by another bot now" in result.output
    assert 1 <= len(ticks) <= 2  # 30 days were asked for: thousands of ticks
    assert released == []  # no longer this bot's: not released (it may be the other bot's now)


def _paper_with_an_open_position(tmp_path: Path) -> tuple[Path, str]:
    """A config file over a store holding one open position (opened by a bot's first tick, then stopped)."""
    import tomli_w

    from fundarb_core.testing.configs import mechanics_strategy
    from tests.integration.bot.conftest import Harness, bot_plugins

    symbols = ["BTC", "ETH"]
    data = {
        "bot": {"data_dir": str(tmp_path / "data"), "log_level": "WARNING"},
        "venues": {
            "aster_sim": {"kind": "sim", "profile": "aster-like", "seed": 7, "symbols": symbols,
                          "funding_bias_bps_per_hour": "0.25"},
            "lighter_sim": {"kind": "sim", "profile": "lighter-like", "seed": 7, "symbols": symbols},
        },
        "strategy": {**mechanics_strategy(), "max_positions": 1},
    }  # fmt: skip
    path = tmp_path / "bot.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    plugins = bot_plugins()
    h = Harness(load(path), plugins)
    try:
        h.call(lambda: h.bot.tick(scan=True))
        (position,) = h.call(lambda: h.runtime.store.positions.list_open())
    finally:
        h.close()
    return path, position.id


def test_fundarb_close_asks_a_running_bot_to_close_and_closes_itself_when_none_runs(tmp_path: Path) -> None:
    """Found by review: `fundarb close` closed the position itself beside a running bot, whose closer or plans could
    be closing it at the same moment. While a bot holds the store's lease, it journals the close for that bot (as the
    API does); when none runs, it holds the lease while it closes (no bot starts meanwhile)."""
    from fundarb_core.store import Store

    path, position_id = _paper_with_an_open_position(tmp_path)
    config = load(path)
    runner = CliRunner()

    async def holding(then: Any) -> Any:
        store = await Store.open(config.store.url, data_dir=config.bot.data_dir, migrate=False)
        try:
            lease = await store.acquire_lease("fundarb-run:elsewhere", ttl=300)
            try:
                return await asyncio.to_thread(then)
            finally:
                await lease.release()
        finally:
            await store.close()

    asked = asyncio.run(holding(lambda: runner.invoke(main, ["close", "--config", str(path), position_id])))
    assert asked.exit_code == 0, asked.output
    assert "asked the running bot to close it" in asked.output

    async def state() -> tuple[Any, list[Any]]:
        store = await Store.open(config.store.url, data_dir=config.bot.data_dir)
        try:
            position = await store.positions.get(position_id)
            return position, await store.actions.list(position_id=position_id)
        finally:
            await store.close()

    position, actions = asyncio.run(state())
    assert position.is_open  # not closed beside the bot
    assert [(a.action_type, a.status.value) for a in actions] == [("close_position", "pending")]
    again = asyncio.run(holding(lambda: runner.invoke(main, ["close", "--config", str(path), position_id])))
    assert "already asked the running bot" in again.output
    assert len(asyncio.run(state())[1]) == 1  # one close asked for, not two

    closed = runner.invoke(main, ["close", "--config", str(path), position_id])  # no bot runs now
    assert closed.exit_code == 0, closed.output
    assert f"{position_id}: closed" in closed.output.splitlines()
    assert not asyncio.run(state())[0].is_open
