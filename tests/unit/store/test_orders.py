"""Order intents: journalled before sending, idempotent by client order id, updated by venue reports."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fundarb_core.errors import StoreError
from fundarb_core.model import OrderStatus, OrderType, Side, TimeInForce


async def _intent(store, coid: str = "fa-1-0", **kwargs):
    terms = {
        "client_order_id": coid,
        "venue": "aster",
        "symbol": "BTC",
        "side": Side.BUY,
        "quantity": Decimal("0.015"),
        "price": Decimal("100000.5"),
        "time_in_force": TimeInForce.POST_ONLY,
        "reduce_only": False,
        "attempt": 0,
    }
    terms.update(kwargs)
    return await store.orders.record_intent(**terms)


async def test_an_intent_is_stored_with_every_term_and_no_outcome(store, open_store) -> None:
    intent = await _intent(store, order_type=OrderType.LIMIT, reduce_only=True, attempt=2)
    assert intent.status is None
    assert not intent.finished
    # Committed on return: a second connection (another process, after a crash) sees it.
    seen = await (await open_store()).orders.get("fa-1-0")
    assert seen == intent
    assert (seen.venue, seen.symbol, seen.side, seen.quantity, seen.price) == (
        "aster",
        "BTC",
        Side.BUY,
        Decimal("0.015"),
        Decimal("100000.5"),
    )
    assert (seen.time_in_force, seen.reduce_only, seen.attempt) == (TimeInForce.POST_ONLY, True, 2)
    assert (seen.filled_quantity, seen.avg_price, seen.fees) == (Decimal(0), None, Decimal(0))


async def test_recording_the_same_intent_again_returns_the_stored_one(store) -> None:
    first = await _intent(store)
    again = await _intent(store, quantity=Decimal("0.0150"))  # same number, other spelling
    assert again == first
    assert len(await store.orders.list()) == 1


async def test_a_client_order_id_names_one_order_only(store) -> None:
    await _intent(store)
    with pytest.raises(StoreError, match=r"already names a different order \(quantity 0.015 vs 0.02\)"):
        await _intent(store, quantity=Decimal("0.02"))


async def test_updates_record_status_fills_and_fees(store) -> None:
    await _intent(store)
    part = await store.orders.update(
        "fa-1-0", status=OrderStatus.PARTIALLY_FILLED, filled_quantity=Decimal("0.005"), venue_order_id="V1"
    )
    assert (part.status, part.filled_quantity, part.venue_order_id) == (
        OrderStatus.PARTIALLY_FILLED,
        Decimal("0.005"),
        "V1",
    )
    done = await store.orders.update(
        "fa-1-0",
        status=OrderStatus.FILLED,
        filled_quantity=Decimal("0.015"),
        avg_price=Decimal("100000.4666666666666666666666667"),
        fees=Decimal("0.3000014"),
    )
    assert done.finished
    assert done.venue_order_id == "V1"  # kept when not given
    assert await store.orders.get("fa-1-0") == done
    assert done.avg_price == Decimal("100000.4666666666666666666666667")  # 31 digits, kept exactly


async def test_a_final_order_cannot_reopen_and_fills_never_shrink(store) -> None:
    await _intent(store)
    await store.orders.update("fa-1-0", status=OrderStatus.PARTIALLY_FILLED, filled_quantity=Decimal("0.01"))
    with pytest.raises(StoreError, match="cannot go down"):
        await store.orders.update("fa-1-0", status=OrderStatus.PARTIALLY_FILLED, filled_quantity=Decimal("0.005"))
    await store.orders.update("fa-1-0", status=OrderStatus.CANCELLED)
    with pytest.raises(StoreError, match="already cancelled"):
        await store.orders.update("fa-1-0", status=OrderStatus.OPEN)
    # The same final status reported again is harmless.
    assert (await store.orders.update("fa-1-0", status=OrderStatus.CANCELLED)).status is OrderStatus.CANCELLED


async def test_updating_an_unknown_order_fails(store) -> None:
    with pytest.raises(StoreError, match="record the intent first"):
        await store.orders.update("ghost", status=OrderStatus.FILLED)


async def test_list_unfinished_is_what_a_restart_must_reconcile(store) -> None:
    await _intent(store, "pending")
    await _intent(store, "open")
    await _intent(store, "partial", venue="lighter")
    await _intent(store, "filled")
    await _intent(store, "rejected")
    await store.orders.update("open", status=OrderStatus.OPEN)
    await store.orders.update("partial", status=OrderStatus.PARTIALLY_FILLED, filled_quantity=Decimal("0.001"))
    await store.orders.update("filled", status=OrderStatus.FILLED, filled_quantity=Decimal("0.015"))
    await store.orders.update("rejected", status=OrderStatus.REJECTED, error="post_only_would_cross")
    assert sorted(o.client_order_id for o in await store.orders.list_unfinished()) == ["open", "partial", "pending"]
    assert [o.client_order_id for o in await store.orders.list_unfinished(venue="lighter")] == ["partial"]
    assert (await store.orders.get("rejected")).error == "post_only_would_cross"


async def test_orders_link_to_positions_legs_and_actions(store) -> None:
    from fundarb_core.model.records import PlannedAction

    position = await store.positions.create(
        symbol="BTC",
        long_venue="aster",
        short_venue="lighter",
        long_quantity=Decimal(1),
        short_quantity=Decimal(1),
        notional_usd=Decimal(1),
    )
    [action] = await store.actions.append_plan([PlannedAction("close_position", position_id=position.id)])
    order = await _intent(store, position_id=position.id, leg_id=position.legs[0].id, action_id=action.id)
    assert await store.orders.list(position_id=position.id) == [order]
    assert await store.orders.list(action_id=action.id) == [order]
    with pytest.raises(StoreError, match="store write failed"):  # foreign keys are enforced on both backends
        await _intent(store, "other", position_id="no-such-position")


async def test_the_journal_writes_one_state_once_and_retries_a_failed_write(store, monkeypatch) -> None:
    """An execution reports a market order's final state when the venue answers and again when it settles: the
    store journal writes that very state once. A write that failed is tried again at the next report."""
    from datetime import UTC, datetime

    from fundarb_core.positions.journal import StoreJournal
    from fundarb_core.venues import OrderState

    await _intent(store, order_type=OrderType.MARKET, time_in_force=TimeInForce.IOC)
    state = OrderState(
        "fa-1-0", "v-1", "BTC", Side.BUY, OrderType.MARKET, TimeInForce.IOC, Decimal("0.015"), None, False,
        OrderStatus.FILLED, Decimal("0.015"), Decimal("100000"), Decimal("0.75"), updated_at=datetime.now(UTC),
    )  # fmt: skip
    journal = StoreJournal(store)
    update = store.orders.update
    writes: list[str] = []
    failing = [True]

    async def counted(coid, **changes):  # type: ignore[no-untyped-def]
        writes.append(coid)
        if failing[0]:
            failing[0] = False
            raise StoreError("store write failed: the database is locked")
        return await update(coid, **changes)

    monkeypatch.setattr(store.orders, "update", counted)
    await journal.record_state(state)  # fails: not remembered
    assert (await store.orders.get("fa-1-0")).status is None
    await journal.record_state(state)  # tried again, and written
    await journal.record_state(state)  # the same state: not written again
    assert writes == ["fa-1-0", "fa-1-0"]
    row = await store.orders.get("fa-1-0")
    assert (row.status, row.filled_quantity, row.fees) == (OrderStatus.FILLED, Decimal("0.015"), Decimal("0.75"))
