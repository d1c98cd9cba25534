"""Observers with settings: built from `[observers.<name>]`, wired to the event and tick hooks, closed in order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from fundarb_core import hookimpl
from fundarb_core.app.observers import ObserverContext, Observers
from fundarb_core.clock import SimClock
from fundarb_core.config import parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.events import Event
from fundarb_core.plugins import Plugins, Register

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@attrs.frozen
class RecorderConfig:
    label: str
    fail_start: bool = False


class Recorder:
    log: list[str] = []  # noqa: RUF012  # shared across instances on purpose: the order of starts and closes

    def __init__(self, config: RecorderConfig, context: ObserverContext) -> None:
        self.config = config
        self.context = context
        self.events: list[str] = []
        self.ticks: list[float] = []

    async def start(self) -> None:
        if self.config.fail_start:
            raise RuntimeError(f"{self.config.label} cannot start")
        Recorder.log.append(f"start {self.config.label}")

    def on_event(self, event: Event) -> None:
        self.events.append(event.kind)

    def on_tick(self, at: datetime, seconds: float) -> None:
        self.ticks.append(seconds)

    async def aclose(self) -> None:
        Recorder.log.append(f"close {self.config.label}")


class RecorderPlugin:
    @hookimpl
    def fundarb_register_observers(self, register: Register) -> None:
        register("recorder", RecorderConfig, Recorder)


@pytest.fixture
def plugins() -> Plugins:
    Recorder.log = []
    p = Plugins().load(entry_points=False)
    p.register(RecorderPlugin(), name="recorder", distribution="fundarb-recorder")
    return p


def config(plugins: Plugins, **observers: dict[str, Any]) -> Any:
    return parse_config({"observers": {k: {"kind": "recorder", **v} for k, v in observers.items()}}, plugins)


async def test_observers_see_events_and_ticks_until_closed(plugins: Plugins) -> None:
    clock = SimClock(T0)
    observers = await Observers.start(config(plugins, a={"label": "A"}, b={"label": "B"}), plugins, clock)
    a, b = observers.get("a"), observers.get("b")
    assert isinstance(a, Recorder)
    assert isinstance(b, Recorder)
    assert a.context.name == "a"
    assert a.context.clock is clock
    plugins.emit(Event("alert", T0, {}))
    plugins.tick_done(T0, 1.5)
    assert a.events == b.events == ["alert"]
    assert a.ticks == b.ticks == [1.5]
    assert plugins.distribution_of("observer:a") == "fundarb-recorder"

    await observers.aclose()
    plugins.emit(Event("alert", T0, {}))
    plugins.tick_done(T0, 2.0)
    assert a.events == ["alert"]
    assert a.ticks == [1.5]
    assert Recorder.log == ["start A", "start B", "close A", "close B"]
    assert not plugins.pm.has_plugin("observer:a")


async def test_a_failed_start_closes_the_observers_already_started(plugins: Plugins) -> None:
    cfg = config(plugins, a={"label": "A"}, b={"label": "B", "fail_start": True})
    with pytest.raises(RuntimeError, match="B cannot start"):
        await Observers.start(cfg, plugins, SimClock(T0))
    assert Recorder.log == ["start A", "close A"]
    assert not plugins.pm.has_plugin("observer:a")
    assert not plugins.pm.has_plugin("observer:b")


def test_a_raising_tick_observer_is_logged_not_raised(plugins: Plugins) -> None:
    class Broken:
        @hookimpl
        def fundarb_on_tick(self, at: datetime, seconds: float) -> None:
            raise ValueError("boom")

    seen: list[float] = []

    class Fine:
        @hookimpl
        def fundarb_on_tick(self, seconds: float) -> None:
            seen.append(seconds)

    plugins.register(Broken(), name="broken")
    plugins.register(Fine(), name="fine")
    plugins.tick_done(T0, 0.25)
    assert seen == [0.25]


def test_observer_sections_are_validated_by_the_registered_class(plugins: Plugins) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(
            {"observers": {"a": {"kind": "recorder"}, "b": {"kind": "recorder", "label": "x", "colour": 1},
                           "c": {"kind": "pager"}}},
            plugins,
        )  # fmt: skip
    assert list(err.value.problems) == [
        "observers.a.label: missing",
        "observers.b.colour: unknown key",
        "observers.c.kind: unknown observer kind 'pager' (known: recorder)",
    ]
