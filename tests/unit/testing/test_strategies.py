"""The shared hypothesis strategies draw what they promise: on-grid values, valid orders, signed snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from fundarb_core.model import OrderType, Side
from fundarb_core.testing import strategies as fst
from fundarb_core.venues import Balance, FundingRate, Instrument

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(data=st.data(), grid=fst.grids())
def test_on_grid_and_off_grid(data: st.DataObject, grid: Decimal) -> None:
    low, high = grid * 3, grid * 1000
    on = data.draw(fst.on_grid(grid, min_value=low, max_value=high))
    off = data.draw(fst.off_grid(grid, min_value=low, max_value=high))
    assert low <= on <= high
    assert on % grid == 0
    assert off % grid != 0
    assert low < off < high + grid


@given(instrument=fst.instruments())
def test_instruments_are_coherent(instrument: Instrument) -> None:
    assert instrument.min_qty % instrument.step_size == 0
    assert instrument.min_qty >= instrument.step_size
    assert instrument.funding_interval in fst.FUNDING_INTERVALS


@settings(deadline=None)
@given(data=st.data(), instrument=fst.instruments(), mid_ticks=st.integers(10_000, 1_000_000))
def test_order_requests_fit_the_instrument(data: st.DataObject, instrument: Instrument, mid_ticks: int) -> None:
    mid = instrument.tick_size * mid_ticks
    request = data.draw(fst.order_requests(instrument, mid, reduce_only=st.just(False)))
    assert request.price is not None
    assert instrument.check_order(request.quantity, request.price) is None
    if request.type is OrderType.MARKET:
        beyond = request.price >= mid if request.side is Side.BUY else request.price <= mid
        assert beyond, "a market order's worst price lies beyond the mid"


@given(data=st.data(), instrument=fst.instruments(), mark_ticks=st.integers(1_000, 100_000))
def test_position_snapshots_are_signed_and_consistent(
    data: st.DataObject, instrument: Instrument, mark_ticks: int
) -> None:
    mark = instrument.tick_size * mark_ticks
    snapshot = data.draw(fst.position_snapshots(instrument, mark))
    if snapshot.quantity == 0:
        assert (snapshot.side, snapshot.entry_price, snapshot.liquidation_price) == (None, None, None)
        return
    assert snapshot.entry_price is not None
    assert snapshot.side is (Side.BUY if snapshot.quantity > 0 else Side.SELL)
    assert snapshot.unrealized_pnl == snapshot.quantity * (mark - snapshot.entry_price)
    if snapshot.liquidation_price is not None:
        losing = snapshot.liquidation_price < snapshot.entry_price
        assert losing if snapshot.quantity > 0 else not losing


@given(rate=fst.funding_rates(now=datetime(2026, 3, 1, 5, 17, tzinfo=UTC)))
def test_funding_rates_are_per_interval_on_the_utc_grid(rate: FundingRate) -> None:
    now = datetime(2026, 3, 1, 5, 17, tzinfo=UTC)
    assert now < rate.next_funding_time <= now + rate.interval
    assert (rate.next_funding_time - EPOCH) % rate.interval == timedelta(0)
    assert abs(rate.hourly) <= Decimal("0.003")


@given(balance=fst.balances())
def test_balances_add_up(balance: Balance) -> None:
    assert balance.available + balance.margin_used == balance.wallet
    assert balance.at.tzinfo is not None
