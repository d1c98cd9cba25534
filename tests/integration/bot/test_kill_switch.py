"""The kill switch counts what the old one missed — a failed (rolled-back) open's fees and price loss — and, once
tripped, pauses and closes every open position."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from fundarb_core.events import Alert
from fundarb_core.model import PositionStatus, RejectReason
from fundarb_core.positions.losses import account_of
from tests.integration.bot.conftest import Harness

LIMIT = Decimal(2)


def test_a_failed_opens_fees_count_and_the_kill_switch_closes_everything(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(
        bot={"max_loss_usd": str(LIMIT)},
        strategy={"symbols": ["BTC"], "max_positions": 1, "min_net_apr": "0", "entry_cooldown": "1m"},
    )
    store = h.runtime.store
    lighter = h.bot.venues["lighter_sim"]
    validate = lighter._validate  # type: ignore[attr-defined]

    def refuse(order: Any, instrument: Any, check_price: Any) -> None:  # every opening order on Lighter
        if not order.reduce_only:
            raise lighter._reject(order, RejectReason.INSUFFICIENT_MARGIN, "refused (test)")  # type: ignore[attr-defined]
        validate(order, instrument, check_price)

    lighter._validate = refuse  # type: ignore[attr-defined]
    h.call(lambda: h.bot.tick(scan=True))
    (failed,) = h.call(lambda: store.positions.list())
    assert failed.status is PositionStatus.FAILED
    failed_orders = h.call(lambda: store.orders.list(position_id=failed.id))
    fees = sum((o.fees for o in failed_orders), Decimal(0))
    assert fees > 0, "the other leg filled and was rolled back, paying fees both ways"
    failed_net = account_of(failed, failed_orders).net
    assert failed_net <= -fees

    lighter._validate = validate  # type: ignore[attr-defined]
    h.run(h.clock.sleep(120))  # past the entry cooldown
    h.call(lambda: h.bot.tick(scan=True))  # under the limit: it opens
    assert not h.bot.paused
    (position,) = h.call(lambda: store.positions.list_open())
    # Mark it down so that the loss crosses the limit with the failed open's part, and would not without it.
    before = h.call(h.bot.losses.account).net
    unrealized = -LIMIT - before + failed_net / 2
    h.call(
        lambda: store.positions.update(attrs.evolve(position, state=position.state.update(unrealized_pnl=unrealized)))
    )
    h.call(h.bot.check_max_loss)

    assert h.bot.paused
    assert h.call(lambda: store.positions.list_open()) == []
    closed = h.call(lambda: store.positions.get(position.id))
    assert closed is not None
    assert closed.status is PositionStatus.CLOSED
    (alert,) = [e.data for e in h.bot.events if isinstance(e.payload, Alert) and e.payload.alert == "max_loss"]
    assert Decimal(alert["fees"]) > fees  # the failed open's and the open position's
    assert Decimal(alert["net"]) <= -LIMIT


def test_a_tripped_kill_switch_retries_a_failed_close_and_a_pause_does_not_disarm_it(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(
        bot={"max_loss_usd": str(LIMIT)}, strategy={"symbols": ["BTC"], "max_positions": 1, "min_net_apr": "0"}
    )
    store = h.runtime.store
    h.call(lambda: h.bot.tick(scan=True))
    (position,) = h.call(lambda: store.positions.list_open())
    h.bot.paused = True  # an operator's pause: the limit still holds
    before = h.call(h.bot.losses.account).net
    h.call(
        lambda: store.positions.update(
            attrs.evolve(position, state=position.state.update(unrealized_pnl=-LIMIT - before - 1))
        )
    )
    close = h.bot.book.close
    failures = []

    async def failing_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(args[0].id)
            raise RuntimeError("store blip (test)")
        return await close(*args, **kwargs)

    h.bot.book.close = failing_once  # type: ignore[method-assign]
    h.call(h.bot.check_max_loss)  # trips; the close fails
    assert failures == [position.id]
    assert h.bot.loss_tripped
    assert [p.id for p in h.call(lambda: store.positions.list_open())] == [position.id]
    h.call(h.bot.check_max_loss)  # the next tick closes it
    assert h.call(lambda: store.positions.list_open()) == []
    alerts = [e for e in h.bot.events if isinstance(e.payload, Alert) and e.payload.alert == "max_loss"]
    assert len(alerts) == 1  # one alert, however many ticks the closing takes
