"""Fills and funding payments: stored once per venue id, refused when a repeat disagrees."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from fundarb_core.errors import StoreError
from fundarb_core.model import Side


async def _order(store, coid: str = "c1", venue: str = "aster"):
    return await store.orders.record_intent(
        client_order_id=coid, venue=venue, symbol="ETH", side=Side.SELL, quantity=Decimal(2), price=Decimal(3000)
    )


async def test_a_fill_takes_symbol_side_and_position_from_its_order(store, clock) -> None:
    await _order(store)
    fill, new = await store.fills.add(
        venue="aster",
        venue_fill_id="T1",
        client_order_id="c1",
        quantity=Decimal("1.5"),
        price=Decimal("3000.01"),
        fee=Decimal("-0.0045"),  # a maker rebate
        at=clock.now(),
        liquidity="maker",
    )
    assert new
    assert (fill.symbol, fill.side, fill.fee, fill.liquidity) == ("ETH", Side.SELL, Decimal("-0.0045"), "maker")
    assert await store.fills.list(client_order_id="c1") == [fill]


async def test_the_same_fill_reported_twice_is_stored_once(store, clock) -> None:
    await _order(store)
    terms = dict(
        venue="aster",
        venue_fill_id="T1",
        client_order_id="c1",
        quantity=Decimal(1),
        price=Decimal(3000),
        fee=Decimal(0),
    )
    first, new1 = await store.fills.add(at=clock.now(), **terms)
    second, new2 = await store.fills.add(at=clock.now(), **terms)
    assert (new1, new2) == (True, False)
    assert first == second
    assert len(await store.fills.list()) == 1
    with pytest.raises(StoreError, match=r"already stored with different values \(quantity 1 vs 2\)"):
        await store.fills.add(at=clock.now(), **{**terms, "quantity": Decimal(2)})


async def test_a_fill_needs_its_order_on_the_same_venue(store, clock) -> None:
    await _order(store)
    common = dict(venue_fill_id="T", quantity=Decimal(1), price=Decimal(1), fee=Decimal(0), at=clock.now())
    with pytest.raises(StoreError, match="unknown client order id"):
        await store.fills.add(venue="aster", client_order_id="nope", **common)
    with pytest.raises(StoreError, match="comes from 'lighter'"):
        await store.fills.add(venue="lighter", client_order_id="c1", **common)


async def test_funding_payments_are_idempotent_on_the_venue_payment_id(store, clock) -> None:
    kwargs = dict(venue="lighter", venue_payment_id="P9", symbol="BTC", amount=Decimal("0.731"), rate=Decimal("0.0001"))
    first, new1 = await store.funding.add(at=clock.now(), **kwargs)
    again, new2 = await store.funding.add(at=clock.now() + timedelta(hours=1), **kwargs)
    assert (new1, new2) == (True, False)
    assert again == first
    with pytest.raises(StoreError, match=r"amount 0\.731 vs -0\.731"):
        await store.funding.add(at=clock.now(), **{**kwargs, "amount": Decimal("-0.731")})
    # The same id on another venue is another payment.
    _, new3 = await store.funding.add(at=clock.now(), **{**kwargs, "venue": "aster"})
    assert new3
    assert [p.venue for p in await store.funding.list()] == ["lighter", "aster"]
    assert [p.venue for p in await store.funding.list(venue="aster")] == ["aster"]


async def test_funding_lists_filter_by_position_and_time(store, clock) -> None:
    position = await store.positions.create(
        symbol="BTC",
        long_venue="aster",
        short_venue="lighter",
        long_quantity=Decimal(1),
        short_quantity=Decimal(1),
        notional_usd=Decimal(1),
    )
    t0 = clock.now()
    await store.funding.add(venue="aster", venue_payment_id="1", symbol="BTC", amount=Decimal(1), at=t0)
    await store.funding.add(
        venue="aster",
        venue_payment_id="2",
        symbol="BTC",
        amount=Decimal(2),
        at=t0 + timedelta(hours=8),
        position_id=position.id,
    )
    assert [p.amount for p in await store.funding.list(position_id=position.id)] == [Decimal(2)]
    assert [p.amount for p in await store.funding.list(since=t0 + timedelta(hours=1))] == [Decimal(2)]


async def test_a_positions_funding_total_is_the_exact_sum_of_its_payments(store, clock) -> None:
    position = await store.positions.create(
        symbol="BTC", long_venue="aster", short_venue="lighter", long_quantity=Decimal(1),
        short_quantity=Decimal(1), notional_usd=Decimal(1),
    )  # fmt: skip
    assert await store.funding.total(position.id) == 0
    amounts = ["0.1", "0.2", "-0.00000001", "12345678.12345678"]  # 0.1 + 0.2 in floats is 0.30000000000000004
    for k, amount in enumerate(amounts):
        await store.funding.add(venue="aster", venue_payment_id=f"p{k}", symbol="BTC", amount=Decimal(amount),
                                at=clock.now(), position_id=position.id)  # fmt: skip
    await store.funding.add(venue="aster", venue_payment_id="other", symbol="BTC", amount=Decimal(7), at=clock.now())
    total = await store.funding.total(position.id)
    assert total == sum(p.amount for p in await store.funding.list(position_id=position.id))
    assert str(total) == "12345678.42345677"


async def test_many_funding_payments_are_stored_in_one_call_once_each(store, clock) -> None:
    def pay(pid: str, amount: str, venue: str = "lighter") -> dict[str, object]:
        return {"venue": venue, "venue_payment_id": pid, "symbol": "ETH", "amount": Decimal(amount), "at": clock.now()}

    await store.funding.add(**pay("1", "0.5"))
    added = await store.funding.add_many(
        [pay("1", "0.5"), pay("2", "-0.25"), pay("2", "-0.25"), pay("1", "1", "aster")]
    )
    assert added == 2  # lighter/1 was stored before; lighter/2 is given twice
    assert sorted((p.venue, p.venue_payment_id, p.amount) for p in await store.funding.list()) == [
        ("aster", "1", Decimal(1)), ("lighter", "1", Decimal("0.5")), ("lighter", "2", Decimal("-0.25")),
    ]  # fmt: skip
    with pytest.raises(StoreError, match="already stored with different values"):
        await store.funding.add_many([pay("3", "1"), pay("2", "-0.26")])
    assert len(await store.funding.list()) == 3  # all or nothing
    assert await store.funding.add_many([]) == 0
    sent: list[str] = []
    if store.backend == "sqlite":  # all new: one insert, no lookup of payments stored before
        engine = store._db._inline_engine if store._db.inline else store._db.engine.sync_engine
        sa.event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2].split()[0].upper()))
    assert await store.funding.add_many([pay("4", "2"), pay("5", "3")]) == 2
    if store.backend == "sqlite":
        assert [s for s in sent if s not in ("BEGIN", "COMMIT")] == ["INSERT"]
    assert len(await store.funding.list()) == 5


async def test_a_payment_with_a_key_that_names_no_column_is_refused_whole(store, clock) -> None:
    # `add_payment` takes the payment as a mapping: a misspelt key must fail loudly, not store the row without it.
    payment = dict(venue="lighter", venue_payment_id="P1", symbol="BTC", amont=Decimal("0.5"), at=clock.now(),
                   position_id=None)  # fmt: skip
    with pytest.raises(ValueError, match="funding_payments: no column named amont"):
        await store.positions.add_payment(payment, lambda position: position)
    assert await store.funding.list() == []
