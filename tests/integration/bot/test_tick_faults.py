"""The loop survives everything but a bug in itself: a failing step or venue is a counted, alerted fault; a venue
that keeps failing trips its circuit breaker (no new opens there) until it answers again; positions stay guarded."""

from __future__ import annotations

from typing import Any

from fundarb_core.events import EventKind
from fundarb_core.model import PositionStatus
from tests.integration.bot.conftest import Harness


async def _aboom(*_: Any, **__: Any) -> Any:
    raise RuntimeError("garbage from the venue")


def test_a_failing_step_is_alerted_and_the_rest_of_the_tick_runs(harness_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(strategy={"symbols": ["BTC"], "max_positions": 1})
    h.call(lambda: h.bot.tick(scan=True))
    (position,) = h.call(lambda: h.runtime.store.positions.list_open())
    monkeypatch.setattr(h.bot.funding, "record", _aboom)

    h.call(lambda: h.bot.tick(scan=True))  # does not raise

    assert h.bot.faults == {"funding": 1}
    alerts = [
        e for e in h.call(lambda: h.runtime.store.events.list(kind=EventKind.ALERT)) if e.data["alert"] == "tick_fault"
    ]
    assert [a.data["step"] for a in alerts] == ["funding"]
    marked = h.call(lambda: h.runtime.store.positions.get(position.id))
    assert marked is not None
    assert marked.version > position.version  # the positions step ran before: marks written


def test_a_venue_that_keeps_failing_trips_then_recovers(harness_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(
        strategy={"symbols": ["BTC", "ETH", "SOL"], "max_positions": 3, "max_new_per_tick": 1, "min_net_apr": "0"}
    )
    h.call(lambda: h.bot.tick(scan=True))
    (position,) = h.call(lambda: h.runtime.store.positions.list_open())
    venue = h.bot.venues[position.long_venue]
    for name in ("fetch_funding_rates", "get_position_snapshot", "get_position_snapshots"):
        monkeypatch.setattr(venue, name, _aboom)

    for _ in range(h.bot.gateway.trip_after):
        h.call(lambda: h.bot.tick(scan=True))  # untyped errors from a venue never end the loop

    assert h.bot.gateway.faults[position.long_venue] >= h.bot.gateway.trip_after
    assert h.bot.gateway.tripped(position.long_venue)
    still = h.call(lambda: h.runtime.store.positions.get(position.id))
    assert still is not None
    assert still.status is PositionStatus.OPEN  # one leg unseen: nothing closed blind, nothing naked
    assert h.bot.venues[position.short_venue].ledger.position(position.symbol).qty != 0  # type: ignore[attr-defined]
    tick = h.call(lambda: h.bot.tick(scan=True))
    free = [o for o in tick.opportunities if o.symbol != position.symbol]
    assert free, "there was something else to open (else this shows nothing)"
    assert tick.opened == []  # but nothing new on a tripped venue

    monkeypatch.undo()
    h.call(lambda: h.bot.tick(scan=True))
    assert not h.bot.gateway.tripped(position.long_venue), h.bot.gateway.failures  # one good answer resets it
