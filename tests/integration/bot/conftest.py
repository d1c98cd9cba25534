"""A bot on simulated venues, in simulated time, with a real SQLite store in a temporary directory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import fundarb_close_maker_first.plugin as maker_first
import pytest

from fundarb_core.app.runtime import Runtime
from fundarb_core.clock import SimClock
from fundarb_core.config import Config, parse_config
from fundarb_core.plugins import Plugins
from fundarb_core.testing.configs import mechanics_strategy

T = TypeVar("T")


def bot_plugins() -> Plugins:
    plugins = Plugins().load(entry_points=False)
    plugins.register(maker_first, name="close_maker_first", distribution="fundarb-close-maker-first")
    return plugins


def make_config(
    data_dir: Path, plugins: Plugins, *, venues: dict[str, dict[str, Any]] | None = None, **sections: Any
) -> Config:
    symbols = ["BTC", "ETH", "SOL"]
    data: dict[str, Any] = {
        "bot": {"data_dir": str(data_dir), "log_level": "WARNING"},
        "venues": venues
        or {
            # A persistent spread (the sim's funding is calibrated to real data: with no bias, spreads are noise
            # and the first tick may well find nothing worth opening).
            "aster_sim": {
                "kind": "sim",
                "profile": "aster-like",
                "seed": 7,
                "symbols": symbols,
                "funding_bias_bps_per_hour": "0.25",
            },
            "lighter_sim": {"kind": "sim", "profile": "lighter-like", "seed": 7, "symbols": symbols},
        },
        # These tests are about mechanics: the first tick opens (see fundarb_core.testing.configs).
        "strategy": mechanics_strategy(),
        "close_policy": {"kind": "maker_first"},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return parse_config(data, plugins)


class Harness:
    """Open a runtime, run coroutines under its simulated clock, close everything at the end."""

    def __init__(self, config: Config, plugins: Plugins) -> None:
        self.config = config
        self.plugins = plugins
        self.loop = asyncio.new_event_loop()
        self.runtime = self.loop.run_until_complete(Runtime.open(config, plugins))
        assert self.runtime.bot is not None
        self.bot = self.runtime.bot
        assert isinstance(self.runtime.clock, SimClock)
        self.clock: SimClock = self.runtime.clock

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(self.clock.run(coro))

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return self.run(fn())

    def close(self) -> None:
        self.loop.run_until_complete(self.bot.shutdown())
        self.loop.run_until_complete(self.runtime.close())
        self.loop.close()


@pytest.fixture
def harness_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Harness] = []

    def make(**kwargs: Any) -> Harness:
        plugins = bot_plugins()
        h = Harness(make_config(tmp_path / "data", plugins, **kwargs), plugins)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()
