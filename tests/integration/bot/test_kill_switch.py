"""The kill switch counts what the old one missed: a failed (rolled-back) open's fees and price loss."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fundarb_core.events import Alert
from fundarb_core.model import PositionStatus, RejectReason
from tests.integration.bot.conftest import Harness


def test_a_failed_opens_fees_count_towards_the_kill_switch(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(
        bot={"max_loss_usd": "0.2"}, strategy={"symbols": ["BTC"], "max_positions": 1, "min_net_apr": "0"}
    )
    lighter = h.bot.venues["lighter_sim"]
    validate = lighter._validate  # type: ignore[attr-defined]

    def refuse(order: Any, instrument: Any, check_price: Any) -> None:  # every opening order on Lighter
        if not order.reduce_only:
            raise lighter._reject(order, RejectReason.INSUFFICIENT_MARGIN, "refused (test)")  # type: ignore[attr-defined]
        validate(order, instrument, check_price)

    lighter._validate = refuse  # type: ignore[attr-defined]
    h.call(lambda: h.bot.tick(scan=True))
    (failed,) = h.call(lambda: h.runtime.store.positions.list())
    assert failed.status is PositionStatus.FAILED
    fees = sum((o.fees for o in h.call(lambda: h.runtime.store.orders.list(position_id=failed.id))), Decimal(0))
    assert fees > Decimal("0.2"), "the other leg filled and was rolled back, paying fees both ways"
    assert not h.bot.paused

    h.call(lambda: h.bot.tick(scan=False))
    assert h.bot.paused, "the failed open's loss reached the limit"
    (alert,) = [e.data for e in h.bot.events if isinstance(e.payload, Alert) and e.payload.alert == "max_loss"]
    assert Decimal(alert["fees"]) == fees
    assert Decimal(alert["net"]) <= -fees  # the rollback also lost the spread
