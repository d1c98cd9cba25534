"""Positions and legs: create, read, list open, and updates guarded by the version column."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from fundarb_core.errors import StoreError
from fundarb_core.model import ExitReason, PositionStatus, Side
from fundarb_core.model.state import PositionState
from fundarb_core.store import StaleVersion


async def _create(store, symbol: str = "BTC", **kwargs):
    return await store.positions.create(
        symbol=symbol,
        long_venue="aster",
        short_venue="lighter",
        long_quantity=Decimal("0.015"),
        short_quantity=Decimal("0.015"),
        notional_usd=Decimal("1500.00"),
        **kwargs,
    )


async def test_create_then_get_returns_the_same_record(store) -> None:
    state = PositionState(net_apr=Decimal("0.31"), close_attempt=2).update(note="x")
    created = await _create(store, entry_spread=Decimal("0.000125"), state=state)
    assert created.version == 1
    assert [(leg.venue, leg.side) for leg in created.legs] == [("aster", Side.BUY), ("lighter", Side.SELL)]
    assert created.state == state
    assert created.details == {"note": "x", "net_apr": "0.31", "close_attempt": 2}  # the flat JSON view
    assert await store.positions.get(created.id) == created
    assert await store.positions.get("nope") is None


async def test_timestamps_come_from_the_store_clock(store, clock) -> None:
    await clock.advance(90)
    created = await _create(store)
    assert created.created_at == clock.now()
    assert created.created_at.tzinfo is not None


async def test_update_bumps_the_version_and_stores_legs(store, clock) -> None:
    position = await _create(store)
    await clock.advance(5)
    long_leg, short_leg = position.legs
    changed = attrs.evolve(
        position,
        status=PositionStatus.OPEN,
        opened_at=clock.now(),
        legs=(
            attrs.evolve(long_leg, filled_quantity=Decimal("0.015"), entry_price=Decimal("100000.1")),
            attrs.evolve(short_leg, filled_quantity=Decimal("0.015"), entry_price=Decimal("100010.2")),
        ),
    )
    updated = await store.positions.update(changed)
    assert updated.version == 2
    assert updated.updated_at == clock.now()
    assert await store.positions.get(position.id) == updated


async def test_a_stale_update_is_refused_and_writes_nothing(store) -> None:
    position = await _create(store)
    first = await store.positions.update(attrs.evolve(position, status=PositionStatus.OPEN))
    stale = attrs.evolve(
        position, status=PositionStatus.CLOSING, legs=(attrs.evolve(position.legs[0], fees=Decimal(9)),)
    )
    with pytest.raises(StaleVersion, match=r"version 1, stored version is 2") as info:
        await store.positions.update(stale)
    assert isinstance(info.value, StoreError)
    assert await store.positions.get(position.id) == first  # nothing of the stale write landed


async def test_two_writers_from_the_same_read_one_wins(store, open_store) -> None:
    other = await open_store()
    position = await _create(store)
    mine = await store.positions.get(position.id)
    theirs = await other.positions.get(position.id)
    await store.positions.update(attrs.evolve(mine, status=PositionStatus.CLOSING))
    with pytest.raises(StaleVersion):
        await other.positions.update(attrs.evolve(theirs, status=PositionStatus.OPEN))
    assert (await other.positions.get(position.id)).status is PositionStatus.CLOSING


async def test_updating_a_missing_position_or_foreign_leg_fails(store) -> None:
    a = await _create(store)
    b = await _create(store, symbol="ETH")
    with pytest.raises(StoreError, match="does not exist"):
        await store.positions.update(attrs.evolve(a, id="missing"))
    with pytest.raises(StoreError, match="is not a leg of position"):
        await store.positions.update(attrs.evolve(a, legs=b.legs))
    assert (await store.positions.get(a.id)).version == 1  # rolled back whole


async def test_list_open_leaves_closed_and_failed_out(store) -> None:
    opened = await _create(store, symbol="BTC", status=PositionStatus.OPEN)
    closing = await _create(store, symbol="ETH", status=PositionStatus.CLOSING)
    closed = await _create(store, symbol="SOL")
    await store.positions.update(
        attrs.evolve(
            closed, status=PositionStatus.CLOSED, exit_reason=ExitReason.TIME_LIMIT, realized_pnl=Decimal("-1.25")
        )
    )
    await _create(store, symbol="XRP", status=PositionStatus.FAILED)
    assert {p.id for p in await store.positions.list_open()} == {opened.id, closing.id}
    assert len(await store.positions.list()) == 4
    [only] = await store.positions.list(statuses=[PositionStatus.CLOSED])
    assert only.exit_reason is ExitReason.TIME_LIMIT
    assert only.realized_pnl == Decimal("-1.25")


async def test_a_position_needs_two_venues(store) -> None:
    with pytest.raises(ValueError, match="two different venues"):
        await store.positions.create(
            symbol="BTC",
            long_venue="a",
            short_venue="a",
            long_quantity=Decimal(1),
            short_quantity=Decimal(1),
            notional_usd=Decimal(1),
        )


async def test_floats_never_reach_the_store(store) -> None:
    with pytest.raises(TypeError, match="must be a Decimal"):
        await store.positions.create(
            symbol="BTC",
            long_venue="a",
            short_venue="b",
            long_quantity=0.1,  # type: ignore[arg-type]
            short_quantity=Decimal(1),
            notional_usd=Decimal(1),
        )


async def test_update_many_writes_all_or_none(store) -> None:  # type: ignore[no-untyped-def]
    """A batch of position updates is one transaction: a stale record in it means nothing is written."""
    import attrs

    from fundarb_core.store import StaleVersion

    made = [
        await store.positions.create(
            symbol=s,
            long_venue="a",
            short_venue="b",
            long_quantity=Decimal(1),
            short_quantity=Decimal(1),
            notional_usd=Decimal(100),
        )
        for s in ("BTC", "ETH")
    ]
    written = await store.positions.update_many(
        [attrs.evolve(p, state=PositionState(unrealized_pnl=Decimal(1))) for p in made]
    )
    assert [p.version for p in written] == [2, 2]
    assert [(await store.positions.get(p.id)).state.unrealized_pnl for p in made] == [Decimal(1), Decimal(1)]
    # The first record is now stale (version 1 was read before the batch above).
    with pytest.raises(StaleVersion, match=made[0].id) as caught:
        await store.positions.update_many(
            [attrs.evolve(written[1], state=PositionState(unrealized_pnl=Decimal(2))), made[0]]
        )
    assert made[1].id not in str(caught.value)  # only the stale one is named
    assert (await store.positions.get(made[1].id)).state.unrealized_pnl == 1  # nothing of the failed batch
    # The same position twice is a caller's mistake: refused before anything is written.
    with pytest.raises(ValueError, match="twice"):
        await store.positions.update_many(
            [attrs.evolve(written[0], state=PositionState(unrealized_pnl=Decimal(n))) for n in (3, 4)]
        )
    assert (await store.positions.get(made[0].id)).version == 2
