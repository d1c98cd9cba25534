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
