"""What the dashboard reads: scans, a page of positions, newest events, closed PnL, fees per position."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from fundarb_core.model import OrderStatus, OrderType, PositionStatus, Side
from fundarb_core.store._scans import KEEP, TRIM_EVERY


async def _create(store, symbol: str, notional: str, *, long_venue: str = "aster"):  # type: ignore[no-untyped-def]
    return await store.positions.create(
        symbol=symbol, long_venue=long_venue, short_venue="lighter", long_quantity=Decimal(1),
        short_quantity=Decimal(1), notional_usd=Decimal(notional),
    )  # fmt: skip


async def test_scans_keep_the_latest_with_exact_decimals(store, clock) -> None:
    assert await store.scans.latest() is None
    first = await store.scans.save(clock.now(), [{"symbol": "BTC", "net_apr": Decimal("0.1234567890123")}])
    await clock.advance(60)
    second = await store.scans.save(clock.now(), [])
    latest = await store.scans.latest()
    assert latest == second
    assert latest.opportunities == ()
    assert first.opportunities == ({"symbol": "BTC", "net_apr": "0.1234567890123"},)
    for _ in range(KEEP + 3 * TRIM_EVERY):
        await store.scans.save(clock.now(), [])
    async with store._db.read() as conn:
        count = (await conn.exec_driver_sql("SELECT count(*) FROM scans")).scalar_one()
    assert KEEP <= count < KEEP + TRIM_EVERY


async def test_a_page_filters_sorts_and_counts_in_sql(store, clock) -> None:
    made = []
    for n, (symbol, notional) in enumerate([("BTC", "900"), ("ETH", "1200"), ("BTC", "100"), ("SOL", "50")]):
        made.append(await _create(store, symbol, notional, long_venue="aster" if n % 2 else "hyper"))
        await clock.advance(1)
    closed = await store.positions.update(attrs.evolve(made[1], status=PositionStatus.CLOSED,
                                                       realized_pnl=Decimal("-2.5")))  # fmt: skip
    newest = await store.positions.page(limit=2)
    assert newest.total == 4
    assert [p.id for p in newest.positions] == [made[3].id, made[2].id]
    rest = await store.positions.page(limit=2, offset=2)
    assert [p.id for p in rest.positions] == [made[1].id, made[0].id]
    by_notional = await store.positions.page(sort="notional_usd", descending=True)
    assert [p.notional_usd for p in by_notional.positions] == [Decimal(1200), Decimal(900), Decimal(100), Decimal(50)]
    btc = await store.positions.page(symbol="BTC")
    assert (btc.total, {p.id for p in btc.positions}) == (2, {made[0].id, made[2].id})
    on_aster = await store.positions.page(venue="aster")
    assert {p.id for p in on_aster.positions} == {made[1].id, made[3].id}
    only_closed = await store.positions.page(statuses=[PositionStatus.CLOSED])
    assert [p.id for p in only_closed.positions] == [closed.id]
    nets = await store.positions.page(sort="realized_pnl")
    assert nets.positions[0].id == closed.id  # the only net; the others (NULL) last
    with pytest.raises(ValueError, match="cannot sort positions by 'details'"):
        await store.positions.page(sort="details")


async def test_newest_events_and_closed_pnl_and_fees(store, clock) -> None:
    for n in range(5):
        await store.events.append("alert" if n % 2 else "tick", {"n": n}, position_id="p1" if n < 2 else None)
    assert [e.data["n"] for e in await store.events.recent(3)] == [4, 3, 2]
    assert [e.data["n"] for e in await store.events.recent(5, kind="alert")] == [3, 1]
    assert [e.data["n"] for e in await store.events.recent(5, position_id="p1")] == [1, 0]

    position = await _create(store, "BTC", "1000")
    await clock.advance(3600)
    await store.positions.update(attrs.evolve(position, status=PositionStatus.CLOSED, closed_at=clock.now(),
                                              realized_pnl=Decimal("1.5"), state={"funding": "2"}))  # fmt: skip
    ((pid, at, net, details),) = await store.positions.closed_pnl()
    assert (pid, at, net, details) == (position.id, clock.now(), Decimal("1.5"), {"funding": "2"})
    assert await store.positions.closed_pnl(since=clock.now() + timedelta(seconds=1)) == []

    other = await _create(store, "ETH", "500")
    for n, (pid, fee) in enumerate(((position.id, "0.10"), (position.id, "0.0000001"), (other.id, "0.5"))):
        await store.orders.record_intent(
            client_order_id=f"c{n}", venue="aster", symbol="BTC", side=Side.BUY, quantity=Decimal(1),
            order_type=OrderType.LIMIT, price=Decimal(100), position_id=pid,
        )  # fmt: skip
        await store.orders.update(f"c{n}", status=OrderStatus.FILLED, fees=Decimal(fee))
    assert await store.orders.fees_by_position([]) == {}
    assert await store.orders.fees_by_position([position.id]) == {position.id: Decimal("0.1000001")}
    assert await store.orders.fees_by_position([position.id, other.id, "none"]) == {
        position.id: Decimal("0.1000001"),
        other.id: Decimal("0.5"),
    }
