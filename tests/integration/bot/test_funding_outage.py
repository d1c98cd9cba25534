"""Funding settled while a venue's funding history is down is read once it answers, also after the position closed:
stored against that position, and its PnL brought up to date. (The outage itself: tests/integration/positions.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fundarb_core.errors import VenueUnavailable
from fundarb_core.execution import Urgency
from fundarb_core.model import ExitReason, PositionStatus
from tests.integration.bot.conftest import Harness


def test_a_payment_read_after_the_close_goes_to_the_closed_position_and_its_pnl(  # type: ignore[no-untyped-def]
    harness_factory, monkeypatch
) -> None:
    symbols = ["BTC"]
    h: Harness = harness_factory(
        venues={
            "aster_sim": {"kind": "sim", "profile": "aster-like", "seed": 7, "symbols": symbols},
            "lighter_sim": {"kind": "sim", "profile": "lighter-like", "seed": 7, "symbols": symbols,
                            "funding_interval": "5m"},
        },
        strategy={"symbols": symbols, "max_positions": 1, "min_net_apr": "0"},
    )  # fmt: skip
    h.call(lambda: h.bot.tick(scan=True))
    (position,) = h.call(lambda: h.runtime.store.positions.list_open())
    read = h.bot.gateway.funding_payments

    async def down(name: str, since: datetime) -> Any:
        if name == "lighter_sim":
            raise VenueUnavailable("funding history down (test)", venue=name)
        return await read(name, since)

    monkeypatch.setattr(h.bot.gateway, "funding_payments", down)
    h.run(h.clock.sleep(timedelta(minutes=17).total_seconds()))  # three settlements
    closed = h.call(lambda: h.bot.book.close(position, ExitReason.MANUAL, Urgency.URGENT))
    assert closed.status is PositionStatus.CLOSED
    assert h.call(lambda: h.runtime.store.funding.list(venue="lighter_sim")) == []

    monkeypatch.setattr(h.bot.gateway, "funding_payments", read)  # the venue answers again
    h.call(h.bot.funding.record)
    paid = [p for p in h.bot.venues["lighter_sim"].payments if p.at >= position.created_at]  # type: ignore[attr-defined]
    assert len(paid) == 3
    stored = h.call(lambda: h.runtime.store.funding.list(position_id=position.id))
    assert {s.venue_payment_id for s in stored if s.venue == "lighter_sim"} == {p.payment_id for p in paid}
    record = h.call(lambda: h.runtime.store.positions.get(position.id))
    assert record is not None
    pnl = h.call(lambda: h.bot.book.pnl(position.id))  # from the store: orders and every payment now stored
    assert (record.realized_pnl, Decimal(record.details["funding"])) == (pnl.net, pnl.funding)
    assert record.realized_pnl != closed.realized_pnl
