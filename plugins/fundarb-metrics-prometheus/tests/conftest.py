"""A bot on simulated venues, in simulated time, with the Prometheus exporter as a configured observer."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import fundarb_close_maker_first.plugin as maker_first
import fundarb_metrics_prometheus.plugin as metrics_plugin
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fundarb_core.app.runtime import Runtime
from fundarb_core.clock import SimClock
from fundarb_core.config import Config, parse_config
from fundarb_core.plugins import Plugins
from fundarb_core.testing.configs import mechanics_strategy

T = TypeVar("T")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    """GET /metrics over HTTP and parse it with prometheus-client's own parser: (sample name, labels) -> value."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum the samples called `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for (n, ls), v in samples.items():
        if n == name:
            key = dict(ls)[label]
            out[key] = out.get(key, 0.0) + v
    return out


def bot_plugins() -> Plugins:
    plugins = Plugins().load(entry_points=False)
    plugins.register(maker_first, name="close_maker_first", distribution="fundarb-close-maker-first")
    plugins.register(metrics_plugin, name="metrics_prometheus", distribution="fundarb-metrics-prometheus")
    return plugins


def bot_config(data_dir: Path, plugins: Plugins, **sections: Any) -> Config:
    symbols = ["BTC", "ETH", "SOL"]
    data: dict[str, Any] = {
        "bot": {"data_dir": str(data_dir), "log_level": "WARNING"},
        "venues": {
            "aster_sim": {"kind": "sim", "profile": "aster-like", "seed": 7, "symbols": symbols},
            "lighter_sim": {"kind": "sim", "profile": "lighter-like", "seed": 7, "symbols": symbols},
        },
        "strategy": mechanics_strategy(),
        "close_policy": {"kind": "maker_first"},
        "observers": {"metrics": {"kind": "prometheus", "port": 0}},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return parse_config(data, plugins)


class Harness:
    """A runtime (bot, store, observers) under a simulated clock; `close()` releases everything."""

    def __init__(self, config: Config, plugins: Plugins) -> None:
        self.plugins = plugins
        self.loop = asyncio.new_event_loop()
        self.runtime = self.loop.run_until_complete(Runtime.open(config, plugins, observe=True))
        assert self.runtime.bot is not None
        assert self.runtime.observers is not None
        self.bot = self.runtime.bot
        assert isinstance(self.runtime.clock, SimClock)
        self.clock: SimClock = self.runtime.clock
        self.exporter: Any = self.runtime.observers.get("metrics")

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(self.clock.run(coro))

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return self.run(fn())

    def close(self) -> None:
        self.loop.run_until_complete(self.bot.shutdown())
        self.loop.run_until_complete(self.runtime.close())
        self.loop.close()


@pytest.fixture
def harness_factory(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**sections: Any) -> Harness:
        plugins = bot_plugins()
        h = Harness(bot_config(tmp_path / f"data{len(made)}", plugins, **sections), plugins)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()
