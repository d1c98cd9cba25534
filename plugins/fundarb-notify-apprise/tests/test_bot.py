"""The notifier inside a running bot on simulated venues: a liquidation's message, and a slow service's cost.

The bot, its SQLite store and both simulated venues run in simulated time; the notification service is a real
HTTP server on 127.0.0.1 that answers, fails (HTTP 500) or hangs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fundarb_notify_apprise.messages import usd

from fundarb_core import hookimpl
from fundarb_core.events import Alert, Event, Severity
from fundarb_core.model import ExitReason, PositionStatus
from fundarb_core.plugins import Plugins

from .conftest import Harness, Receiver, bot_config, bot_plugins

SECRET_PASSWORD = "pw-c4d1e8f07b"
SECRET_PATH = "tok-5e2b9a61f0d4"


def observers(monkeypatch: pytest.MonkeyPatch, receiver: Receiver, **settings: Any) -> dict[str, Any]:
    monkeypatch.setenv("FUNDARB_TEST_HOOK", receiver.url(f"hooks/{SECRET_PATH}", auth=f"ops:{SECRET_PASSWORD}@"))
    target = {"url": "env:FUNDARB_TEST_HOOK", **settings.pop("target", {})}
    return {"phone": {"kind": "apprise", "targets": [target], **settings}}


def test_a_liquidated_leg_gives_exactly_one_message_with_the_position_figures(
    monkeypatch: pytest.MonkeyPatch,
    receiver_factory: Callable[..., Receiver],
    harness_factory: Callable[..., Harness],
    captured_logs: list[str],
) -> None:
    receiver = receiver_factory()
    h = harness_factory(
        strategy={"symbols": ["BTC"], "max_positions": 1},
        observers=observers(monkeypatch, receiver, target={"min_severity": "warning"}),
    )
    h.call(lambda: h.bot.tick(scan=True))
    (position,) = h.call(lambda: h.runtime.store.positions.list_open())
    short = h.bot.venues[position.short_venue]
    short._liquidate("BTC", short.mark("BTC"), h.clock.now())  # the venue closes the short itself
    h.call(lambda: h.bot.tick(scan=False))
    record = h.call(lambda: h.runtime.store.positions.get(position.id))
    assert record is not None
    assert record.status is PositionStatus.CLOSED
    assert record.exit_reason is ExitReason.LEG_LIQUIDATED
    assert record.details["emergency"] is True
    notifier = h.observer("phone")
    assert notifier.flush(10)
    h.close()

    (message,) = receiver.received
    assert "EMERGENCY" in message.title
    assert "BTC" in message.title
    assert f"position {position.id}, BTC: long on {position.long_venue}, short on {position.short_venue}" in (
        message.message
    )
    assert "leg liquidated" in message.message
    assert record.realized_pnl is not None
    assert f"Net PnL {usd(record.realized_pnl)}" in message.message
    for secret in (SECRET_PASSWORD, SECRET_PATH):
        assert secret not in message.raw
        assert not any(secret in line for line in captured_logs)


class Probe:
    """Counts the typed events observers receive, and stands in for them while the core still emits untyped ones.

    Until the core's recorder gives every event its payload (issue 13), each untyped event is re-emitted as a typed
    critical `Alert`, so that a tick hands the notifier real work. Once events are typed, the probe only counts.
    """

    def __init__(self, plugins: Plugins) -> None:
        self.plugins = plugins
        self.typed = 0
        self.tick_seconds: list[float] = []

    @hookimpl
    def fundarb_on_event(self, event: Any) -> None:
        if event.payload is None:
            alert = Alert(alert=f"probe_{event.kind}", level=Severity.CRITICAL, details={"n": self.typed})
            self.plugins.emit(Event.of(alert, event.at))
        else:
            self.typed += 1

    @hookimpl
    def fundarb_on_tick(self, at: datetime, seconds: float) -> None:
        self.tick_seconds.append(seconds)


_BASELINE: dict[str, Any] = {}


def run_bot(h: Harness, duration: timedelta) -> tuple[list[datetime], float]:
    """Run the bot; return each tick's simulated start time, and the real seconds the loop took (its own clock)."""
    ticks: list[datetime] = []
    began = h.loop.time()
    h.run(h.bot.run(duration=duration, on_tick=lambda tick, _: ticks.append(tick.at)))
    return ticks, h.loop.time() - began


@pytest.mark.parametrize("mode", ["hang", "fail"])
def test_a_hanging_or_failing_service_does_not_delay_a_tick_and_the_loss_is_counted(
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
    receiver_factory: Callable[..., Receiver],
    harness_factory: Callable[..., Harness],
    captured_logs: list[str],
) -> None:
    duration = timedelta(hours=1)
    if not _BASELINE:  # the same run without a notifier (deterministic: computed once for both modes)
        baseline_plugins = bot_plugins()
        baseline_probe = Probe(baseline_plugins)
        baseline_plugins.register(baseline_probe, name="probe")
        baseline_ticks, _ = run_bot(harness_factory(baseline_plugins), duration)
        _BASELINE.update(ticks=baseline_ticks, seconds=baseline_probe.tick_seconds)

    receiver = receiver_factory(mode, hang_seconds=30)
    plugins = bot_plugins()
    probe = Probe(plugins)
    plugins.register(probe, name="probe")
    settings = {"queue_size": 2, "timeout": "60s", "dedupe_window": "0s", "target": {"min_severity": "info"}}
    h = harness_factory(plugins, observers=observers(monkeypatch, receiver, **settings))
    ticks, loop_seconds = run_bot(h, duration)
    notifier = h.observer("phone")

    # Simulated clock: every tick started when it would have without a notifier, and took as long.
    assert ticks == _BASELINE["ticks"]
    assert len(ticks) > 10
    assert probe.tick_seconds == _BASELINE["seconds"]
    # The loop's own clock: the whole run took less than one hung request (a blocking send would take 30 s each).
    assert loop_seconds < receiver.hang_seconds
    assert probe.typed > settings["queue_size"] + 1, "the run gave the notifier more than its queue holds"

    receiver.release.set()
    h.close()  # flushes what is queued within close_timeout
    stats = notifier.stats
    assert stats.sent + stats.failed + stats.dropped == probe.typed  # every message is accounted for
    if mode == "hang":
        assert stats.failed == 0
        assert stats.dropped >= probe.typed - (settings["queue_size"] + 1)  # one in flight, two waiting
        assert any("queue full" in line for line in captured_logs)
    else:
        assert stats.sent == 0
        assert stats.failed >= 1
        assert stats.lost == probe.typed
        assert any("not delivered" in line for line in captured_logs)
    assert len(receiver.received) == stats.sent + stats.failed
    for secret in (SECRET_PASSWORD, SECRET_PATH):
        assert not any(secret in line for line in captured_logs)
        assert not any(secret in r.message or secret in r.title for r in receiver.received)


def test_the_observer_section_is_checked_like_any_plugin_section(harness_factory: Callable[..., Harness]) -> None:
    from fundarb_core.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        harness_factory(observers={"phone": {"kind": "apprise", "targets": []}, "other": {"kind": "pager"}})
    problems = list(err.value.problems)
    assert "observers.phone.targets: needs at least one target" in "\n".join(problems)
    assert any(p.startswith("observers.other.kind: unknown observer kind 'pager' (known: apprise") for p in problems)


def test_observers_stop_with_the_runtime(
    monkeypatch: pytest.MonkeyPatch, receiver_factory: Callable[..., Receiver], harness_factory: Callable[..., Harness]
) -> None:
    receiver = receiver_factory()
    h = harness_factory(observers=observers(monkeypatch, receiver))
    notifier = h.observer("phone")
    assert h.plugins.pm.has_plugin("observer:phone")
    assert notifier._thread is not None
    assert notifier._thread.is_alive()
    thread = notifier._thread
    h.close()
    assert not h.plugins.pm.has_plugin("observer:phone")
    assert not thread.is_alive()


def test_only_the_process_that_runs_the_bot_observes(
    monkeypatch: pytest.MonkeyPatch, receiver_factory: Callable[..., Receiver], tmp_path: Path
) -> None:
    import asyncio

    from fundarb_core.app.runtime import Runtime

    plugins = bot_plugins()
    config = bot_config(tmp_path / "data", plugins, observers=observers(monkeypatch, receiver_factory()))

    async def one_off_command() -> None:  # what `fundarb scan` or `fundarb close` opens
        runtime = await Runtime.open(config, plugins)
        try:
            assert runtime.observers is None
            assert not plugins.pm.has_plugin("observer:phone")
        finally:
            assert runtime.bot is not None
            await runtime.bot.shutdown()
            await runtime.close()

    asyncio.run(one_off_command())
