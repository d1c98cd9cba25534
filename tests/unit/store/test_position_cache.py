"""The position repository's in-memory records: used only while the stored version is theirs, and equal to a read."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from fundarb_core.model import ExitReason, PositionStatus
from fundarb_core.model.state import PositionState


async def _create(store, symbol: str):
    return await store.positions.create(
        symbol=symbol, long_venue="aster", short_venue="lighter", long_quantity=Decimal("1E+1"),
        short_quantity=Decimal("10.000"), notional_usd=Decimal("0.1") * 3, status=PositionStatus.OPEN,
        state=PositionState(net_apr=Decimal("0.31")).update(note=Decimal("1.50"), at=None),
    )  # fmt: skip


async def test_what_was_written_is_cached_exactly_as_a_fresh_store_reads_it(store, open_store, clock) -> None:
    a = await _create(store, "BTC")
    b = await _create(store, "ETH")
    clock_now = clock.now() + timedelta(microseconds=123457)
    a = attrs.evolve(
        a,
        opened_at=clock_now,
        entry_spread=Decimal("-0.0000125"),
        legs=tuple(attrs.evolve(leg, filled_quantity=Decimal("9.99"), entry_price=Decimal(1) / 3) for leg in a.legs),
        state=a.state.update(marks={"aster": Decimal("3.10"), "lighter": None}, urgency="urgent", extra_key=[1, "x"]),
    )
    a = await store.positions.update(a)
    (a, b) = await store.positions.update_many([a, attrs.evolve(b, exit_reason=ExitReason.PROFIT_EROSION)])
    fresh = await open_store()  # another store: nothing cached, everything read from the database
    assert await store.positions.list_open() == await fresh.positions.list_open()
    assert await store.positions.get(a.id) == await fresh.positions.get(a.id)
    assert [str(leg.quantity) for leg in (await store.positions.get(b.id)).legs] == ["10", "10.000"]


async def test_a_change_by_another_writer_is_seen(store, open_store, target) -> None:
    if target.inline:
        pytest.skip("an inline store is exclusive: by its contract nothing else writes to it (see docs/store.md)")
    mine = await _create(store, "BTC")
    assert [p.version for p in await store.positions.list_open()] == [1]
    other = await open_store()
    (theirs,) = await other.positions.list_open()
    await other.positions.update(attrs.evolve(theirs, notional_usd=Decimal(7)))
    (seen,) = await store.positions.list_open()
    assert (seen.version, seen.notional_usd) == (2, Decimal(7))
    got = await other.positions.get(mine.id)
    await other.positions.update(attrs.evolve(got, status=PositionStatus.CLOSED))
    assert await store.positions.list_open() == []
    assert (await store.positions.get(mine.id)).status is PositionStatus.CLOSED


async def test_a_marks_only_update_caches_what_a_read_gives_and_changed_legs_are_written(store, open_store) -> None:
    a = await _create(store, "BTC")
    b = await _create(store, "ETH")
    (a, b) = await store.positions.list_open()
    marked = attrs.evolve(a, state=a.state.update(marks={"aster": Decimal("3.10")}, unrealized_pnl=Decimal("1E+1")))
    legs_changed = attrs.evolve(b, legs=tuple(attrs.evolve(leg, filled_quantity=Decimal("2.50")) for leg in b.legs))
    await store.positions.update_many([marked, legs_changed])
    fresh = await open_store()
    mine, theirs = await store.positions.list_open(), await fresh.positions.list_open()
    assert mine == theirs
    assert [str(p.state.marks.get("aster")) for p in theirs] == ["3.10", "None"]
    assert [str(p.state.unrealized_pnl) for p in mine] == [str(p.state.unrealized_pnl) for p in theirs]
    assert [str(leg.filled_quantity) for p in theirs for leg in p.legs] == ["0", "0", "2.50", "2.50"]
    assert [p.version for p in theirs] == [2, 2]


async def test_marks_that_read_back_as_themselves_are_cached_as_written(store, open_store) -> None:
    """A tick's marks (Decimals or None) read back exactly: the record written is cached as it is, and still equals a
    fresh read, digit for digit. Anything else in the state that changed goes through the full round trip."""
    await _create(store, "BTC")
    await _create(store, "ETH")
    await _create(store, "SOL")
    a, b, c = await store.positions.list_open()
    marks = {"marks": {"aster": Decimal("3.10"), "lighter": None}, "unrealized_pnl": Decimal("-0E-8")}
    exact = attrs.evolve(a, state=a.state.update(**marks, liquidation_distance={"aster": Decimal("0.250")}))
    inexact = attrs.evolve(b, state=b.state.update(marks={"aster": 3.1}))  # a float: stored as text "3.1"
    with_extra = attrs.evolve(c, state=c.state.update(**marks, note=Decimal("2.50")))  # extra: stored as "2.50"
    written = await store.positions.update_many([exact, inexact, with_extra])
    mine = await store.positions.list_open()
    assert mine[0] is written[0]
    assert mine[1] is not written[1]
    assert mine[2] is not written[2]
    theirs = await (await open_store()).positions.list_open()
    assert mine == theirs
    assert [repr(p.state.as_dict()) for p in mine] == [repr(p.state.as_dict()) for p in theirs]
    assert type(mine[1].state.marks["aster"]) is Decimal
    assert mine[2].state.extra["note"] == "2.50"


async def test_a_marks_only_write_over_another_writers_change_is_refused_whole(store, open_store) -> None:
    """The narrow marks statement checks the version like the whole-row one: a position another writer changed
    since it was read fails the batch, and the other position in it (written by the whole-row statement) is not
    written either."""
    from fundarb_core.store import StaleVersion

    await _create(store, "BTC")
    await _create(store, "ETH")
    a, b = await store.positions.list_open()
    other = await open_store()
    await other.positions.update(attrs.evolve(await other.positions.get(a.id), notional_usd=Decimal(7)))
    marked = attrs.evolve(a, state=a.state.update(marks={"aster": Decimal("3.10")}))  # narrow: a is as read
    whole = attrs.evolve(b, exit_reason=ExitReason.PROFIT_EROSION)  # a column changed: the whole row
    with pytest.raises(StaleVersion, match=a.id) as caught:
        await store.positions.update_many([marked, whole])
    assert b.id not in str(caught.value)
    fresh = await open_store()
    assert [(p.version, p.exit_reason, p.state.marks) for p in await fresh.positions.list_open()] == [
        (2, None, {}),
        (1, None, {}),
    ]


async def test_a_positions_orders_and_the_payments_count_are_read_again_once_written(store, open_store, clock) -> None:
    """What the kill switch asks every tick, kept on an exclusive store until written (found by the second review:
    the kill switch's own test runs on a shared store, where nothing is kept): every write is seen at once."""
    from fundarb_core.model import OrderStatus, Side

    a = await _create(store, "BTC")
    assert await store.orders.list(position_id=a.id) == []
    assert await store.funding.count_attributed() == 0
    await store.orders.record_intent(client_order_id="c1", venue="aster", symbol="BTC", side=Side.BUY,
                                     quantity=Decimal(1), price=Decimal(100), position_id=a.id)  # fmt: skip
    assert [o.client_order_id for o in await store.orders.list(position_id=a.id)] == ["c1"]
    await store.orders.update("c1", status=OrderStatus.FILLED, filled_quantity=Decimal(1), avg_price=Decimal(100),
                              fees=Decimal("0.1"))  # fmt: skip
    (order,) = await store.orders.list(position_id=a.id)
    assert (order.status, order.fees) == (OrderStatus.FILLED, Decimal("0.1"))
    await store.funding.add(venue="aster", venue_payment_id="p1", symbol="BTC", amount=Decimal("0.5"), at=clock.now(),
                            position_id=a.id)  # fmt: skip
    assert await store.funding.count_attributed() == 1
    await store.funding.add_many([
        {"venue": "aster", "venue_payment_id": "p2", "symbol": "BTC", "amount": Decimal(1), "at": clock.now()},
        {"venue": "aster", "venue_payment_id": "p3", "symbol": "BTC", "amount": Decimal(2), "at": clock.now(),
         "position_id": a.id},
    ])  # fmt: skip
    assert await store.funding.count_attributed() == 2  # p2 belongs to no position
    assert [p.venue_payment_id for p in await store.funding.attributed_after(None)] == ["p1", "p3"]
    first = (await store.funding.attributed_after(None))[0].id
    assert [p.venue_payment_id for p in await store.funding.attributed_after(first)] == ["p3"]
    fresh = await open_store()
    assert await store.orders.list(position_id=a.id) == await fresh.orders.list(position_id=a.id)
    assert await fresh.funding.count_attributed() == 2
