"""A close that cannot finish: CLOSE_FAILED with the exposure, one `close_failed` event; the next attempt closes.

ARCHITECTURE §9 invariant 1 at the layer that records it (the execution property test checks the executor's part).
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from fundarb_core.events import CloseFailed, EventKind
from fundarb_core.execution import Urgency
from fundarb_core.model import ExitReason, PositionStatus
from fundarb_core.venues.sim import FaultConfig
from tests.integration.bot.conftest import Harness


def test_a_failed_close_records_its_exposure_once_and_the_next_attempt_closes(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(strategy={"symbols": ["BTC"], "max_positions": 1})
    h.call(lambda: h.bot.tick(scan=True))
    (position,) = h.call(lambda: h.runtime.store.positions.list_open())
    venue = h.bot.venues[position.long_venue]
    healthy = venue.config  # type: ignore[attr-defined]
    venue.config = attrs.evolve(healthy, faults=FaultConfig(reject_probability=Decimal(1)))  # type: ignore[attr-defined]

    failed = h.call(lambda: h.bot.book.close(position, ExitReason.MANUAL, Urgency.NORMAL))

    assert failed.status is PositionStatus.CLOSE_FAILED
    held = venue.ledger.position("BTC").qty  # type: ignore[attr-defined]
    assert held != 0
    assert failed.state.open_exposure == {f"{position.long_venue}:BTC": held}
    assert failed.state.close_attempt == 1
    events = h.call(lambda: h.runtime.store.events.list(kind=EventKind.CLOSE_FAILED))
    assert len(events) == 1
    assert events[0].position_id == position.id
    assert Decimal(events[0].data["open_exposure"][f"{position.long_venue}:BTC"]) == held
    assert events[0].data["severity"] == "critical"
    assert isinstance(h.bot.recorder.recent[-1].payload, CloseFailed)

    venue.config = healthy  # type: ignore[attr-defined]
    closed = h.call(lambda: h.bot.book.close(failed, ExitReason.MANUAL, Urgency.NORMAL))
    assert closed.status is PositionStatus.CLOSED
    assert closed.state.close_attempt == 2  # a new attempt: new client order ids, none reused
    assert venue.ledger.position("BTC").qty == 0  # type: ignore[attr-defined]
    assert len(h.call(lambda: h.runtime.store.events.list(kind=EventKind.POSITION_CLOSED))) == 1
