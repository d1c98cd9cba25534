"""An open cut short by an error that is not the venue's (a store write, a bug) is not left `opening` — unwatched by
the closer and the kill switch — until a restart: the next tick settles its orders and adopts what the venues hold."""

from __future__ import annotations

from typing import Any

from fundarb_core.model import PositionStatus
from tests.integration.bot.conftest import Harness


def test_the_next_tick_adopts_an_open_an_error_cut_short(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(strategy={"symbols": ["BTC"], "max_positions": 1, "min_net_apr": "0"})
    store = h.runtime.store
    atomic = h.bot.book.atomic
    real_open = atomic.open

    async def open_then_fail(*args: Any, **kwargs: Any) -> Any:
        await real_open(*args, **kwargs)  # the legs are on the venues...
        raise RuntimeError("database is locked (test)")  # ...but the open never records them

    atomic.open = open_then_fail  # type: ignore[method-assign]
    h.call(lambda: h.bot.tick(scan=True))
    (position,) = h.call(lambda: store.positions.list_open())
    assert position.status is PositionStatus.OPENING
    atomic.open = real_open  # type: ignore[method-assign]

    h.call(lambda: h.bot.tick(scan=False))
    adopted = h.call(lambda: store.positions.get(position.id))
    assert adopted is not None
    assert adopted.status is PositionStatus.OPEN
    held = {leg.venue: leg.filled_quantity for leg in adopted.legs}
    venues = {name: abs(v.ledger.position("BTC").qty) for name, v in h.bot.venues.items()}  # type: ignore[attr-defined]
    assert held == venues
    assert all(q > 0 for q in held.values())


def test_an_order_left_live_by_an_unanswered_cancel_is_cancelled_at_the_next_tick(harness_factory) -> None:  # type: ignore[no-untyped-def]
    """An execution whose cancels went unanswered gives up on the order (with an alert) and leaves it `open` in the
    store: between ticks nothing works an order, so the next tick asks the venue again and cancels it. An intent
    the venue never answered is left to its action."""
    from decimal import Decimal

    from fundarb_core.model import OrderStatus, Side

    h: Harness = harness_factory(strategy={"symbols": ["BTC"]})
    store, venue = h.runtime.store, h.bot.venues["aster_sim"]
    bbo = h.call(lambda: venue.fetch_bbo_prices("BTC"))
    price, qty = bbo.bid - 50, Decimal("0.01")  # rests below the book: nothing fills it
    for cid in ("stuck", "never-sent"):
        h.call(lambda cid=cid: store.orders.record_intent(
            client_order_id=cid, venue="aster_sim", symbol="BTC", side=Side.BUY, quantity=qty, price=price
        ))  # fmt: skip
    h.call(lambda: venue.place_limit_order("BTC", Side.BUY, qty, price, client_order_id="stuck"))
    h.call(lambda: store.orders.update("stuck", status=OrderStatus.OPEN))

    h.call(lambda: h.bot.tick(scan=False))
    stuck = h.call(lambda: store.orders.get("stuck"))
    assert stuck is not None
    assert stuck.status is OrderStatus.CANCELLED
    assert h.call(lambda: venue.get_order("BTC", "stuck")).status is OrderStatus.CANCELLED
    untouched = h.call(lambda: store.orders.get("never-sent"))
    assert untouched is not None
    assert untouched.status is None
