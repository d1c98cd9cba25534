"""The venue contract suite, part one: instruments, the order lifecycle, reduce-only, idempotency."""

from __future__ import annotations

import contextlib
from collections.abc import Coroutine
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from fundarb_core.errors import AmbiguousOutcome, VenueRejected
from fundarb_core.model import OrderStatus, RejectReason, Side, TimeInForce
from fundarb_core.testing._contract_base import ContractBase, Driver, _attempt, _reason
from fundarb_core.venues import (
    REQUIRED_METHODS,
    Capabilities,
    Instrument,
    OrderState,
    Rounding,
    Venue,
)

__all__ = ["OrderContract"]


class OrderContract(ContractBase):
    """The contract's tests of instruments and orders (part of `VenueContract`)."""

    # -- the venue and its instruments -------------------------------------------------------------------------

    async def test_venue_implements_the_protocol(self, venue: Venue, run: Driver, symbol: str) -> None:
        assert isinstance(venue, Venue)
        assert isinstance(venue.name, str)
        assert venue.name
        assert isinstance(venue.capabilities, Capabilities)
        assert not hasattr(venue, "close_position"), "closing is the execution layer's job, not the venue's"
        for method in REQUIRED_METHODS:
            assert callable(getattr(venue, method)), method

    async def test_instruments_are_well_formed(self, venue: Venue, run: Driver, symbol: str) -> None:
        instruments = await run(venue.load_instruments())
        assert symbol in instruments
        for key, instrument in instruments.items():
            assert key == instrument.symbol
            assert instrument.tick_size > 0
            assert instrument.step_size > 0
            assert instrument.min_qty >= 0
            assert instrument.min_notional >= 0
            assert instrument.max_leverage >= 1
            assert instrument.funding_interval > timedelta(0)
            assert instrument.funding_interval.total_seconds() % 60 == 0, instrument.funding_interval
            for value in (instrument.tick_size, instrument.step_size, instrument.min_qty, instrument.min_notional):
                assert isinstance(value, Decimal), f"{key}: {value!r} is not a Decimal"

    async def test_rounding_respects_grids_minimums_and_live_size(self, venue: Venue, run: Driver) -> None:
        # hypothesis is imported here, not at the top: the suite (and the pytest plugin) load without it.
        from hypothesis import HealthCheck, given, settings
        from hypothesis import strategies as st

        from fundarb_core.testing.strategies import raw_decimals

        instruments = sorted((await run(venue.load_instruments())).values(), key=lambda i: i.symbol)

        @settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
        @given(instrument=st.sampled_from(instruments), value=raw_decimals(max_value=Decimal(1_000_000)))
        def check(instrument: Instrument, value: Decimal) -> None:
            step, tick = instrument.step_size, instrument.tick_size
            down = instrument.round_qty(value, Rounding.DOWN)
            up = instrument.round_qty(value, Rounding.UP)
            assert down % step == 0
            assert up % step == 0
            assert down <= value < down + step
            assert up - step < value <= up
            close = instrument.close_qty(value)
            assert close <= value, "a reduce-only quantity above the live size could open the other side"
            assert close % step == 0
            assert value - close < step
            assert instrument.close_qty(-value) == close
            price = instrument.round_price(value)
            assert price % tick == 0
            assert abs(price - value) <= tick / 2
            assert instrument.round_price(value, Rounding.DOWN) <= value <= instrument.round_price(value, Rounding.UP)
            if price > 0:
                smallest = instrument.min_qty_at(price)
                assert smallest % step == 0
                assert smallest >= instrument.min_qty
                assert smallest * price >= instrument.min_notional
                assert instrument.check_order(smallest, price) is None
                if smallest - step > 0 and smallest - step >= instrument.min_qty:
                    assert (smallest - step) * price < instrument.min_notional, "min_qty_at is not the smallest"

        check()

    # -- the order lifecycle -----------------------------------------------------------------------------------

    async def test_limit_order_rests_then_cancels(self, venue: Venue, run: Driver, symbol: str) -> None:
        async def scenario() -> None:
            instrument, bbo, quantity = await self.order_size(venue, symbol)
            price = self.passive_price(instrument, bbo, Side.BUY)
            cid = self.new_client_order_id("rest")
            placed = await venue.place_limit_order(symbol, Side.BUY, quantity, price, client_order_id=cid)
            assert placed.status is OrderStatus.OPEN, placed
            assert (placed.client_order_id, placed.symbol, placed.side) == (cid, symbol, Side.BUY)
            assert (placed.quantity, placed.price, placed.filled_qty) == (quantity, price, Decimal(0))
            assert not placed.reduce_only
            found = await venue.get_order(symbol, cid)
            assert found is not None
            assert found.status is OrderStatus.OPEN
            assert (found.client_order_id, found.quantity, found.price, found.side) == (cid, quantity, price, Side.BUY)
            assert found.venue_order_id == placed.venue_order_id
            cancelled = await venue.cancel_order(symbol, cid)
            assert cancelled.status is OrderStatus.CANCELLED, cancelled
            assert cancelled.filled_qty == 0
            after = await venue.get_order(symbol, cid)
            assert after is not None
            assert after.status is OrderStatus.CANCELLED
            again = await venue.cancel_order(symbol, cid)
            assert again.status is OrderStatus.CANCELLED, "cancelling a finished order must return it unchanged"
            assert (await venue.get_position_snapshot(symbol)).quantity == 0

        await run(scenario())

    async def test_market_order_fills_within_its_worst_price(self, venue: Venue, run: Driver, symbol: str) -> None:
        async def scenario() -> None:
            instrument, bbo, quantity = await self.order_size(venue, symbol)
            for side in (Side.BUY, Side.SELL):
                worst = self.worst_price(instrument, bbo, side)
                cid = self.new_client_order_id("market")
                state = await venue.place_market_order(
                    symbol, side, quantity, worst_price=worst, client_order_id=cid, reduce_only=side is Side.SELL
                )
                state = await self.finished(venue, state)
                assert state.status is OrderStatus.FILLED, state
                assert state.filled_qty == quantity
                assert state.avg_price is not None
                assert state.avg_price > 0
                assert state.avg_price <= worst if side is Side.BUY else state.avg_price >= worst
                assert state.fees >= 0
                found = await venue.get_order(symbol, cid)
                assert found is not None
                assert (found.status, found.filled_qty) == (OrderStatus.FILLED, quantity)
                expected = quantity if side is Side.BUY else 0
                assert (await venue.get_position_snapshot(symbol)).quantity == expected
                bbo = await venue.fetch_bbo_prices(symbol)

        await run(scenario())

    async def test_get_order_of_an_unknown_id_is_none(self, venue: Venue, run: Driver, symbol: str) -> None:
        assert await run(venue.get_order(symbol, self.new_client_order_id("never-sent"))) is None

    async def test_cancel_of_an_unknown_order_is_rejected(self, venue: Venue, run: Driver, symbol: str) -> None:
        with pytest.raises(VenueRejected) as info:
            await run(venue.cancel_order(symbol, self.new_client_order_id("never-sent")))
        assert info.value.reason == RejectReason.UNKNOWN_ORDER, _reason(info.value)

    async def test_post_only_that_would_cross_is_rejected(self, venue: Venue, run: Driver, symbol: str) -> None:
        async def scenario() -> None:
            _instrument, bbo, quantity = await self.order_size(venue, symbol)
            for side, price in ((Side.BUY, bbo.ask), (Side.SELL, bbo.bid)):
                cid = self.new_client_order_id("post-only")
                with pytest.raises(VenueRejected) as info:
                    await venue.place_limit_order(
                        symbol, side, quantity, price, client_order_id=cid, time_in_force=TimeInForce.POST_ONLY
                    )
                assert info.value.reason == RejectReason.POST_ONLY_WOULD_CROSS, _reason(info.value)
                found = await venue.get_order(symbol, cid)
                assert found is None or (found.status is OrderStatus.REJECTED and found.filled_qty == 0), found
                assert (await venue.get_position_snapshot(symbol)).quantity == 0

        await run(scenario())

    async def test_post_only_behind_the_touch_rests(self, venue: Venue, run: Driver, symbol: str) -> None:
        async def scenario() -> None:
            instrument, bbo, quantity = await self.order_size(venue, symbol)
            price = self.passive_price(instrument, bbo, Side.SELL)
            cid = self.new_client_order_id("post-only")
            state = await venue.place_limit_order(
                symbol, Side.SELL, quantity, price, client_order_id=cid, time_in_force=TimeInForce.POST_ONLY
            )
            assert state.status is OrderStatus.OPEN, state
            assert (await venue.cancel_order(symbol, cid)).status is OrderStatus.CANCELLED

        await run(scenario())

    # -- reduce-only -------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("market", [True, False], ids=["market", "limit"])
    async def test_reduce_only_without_a_position_is_rejected(
        self, venue: Venue, run: Driver, symbol: str, market: bool
    ) -> None:
        async def scenario() -> None:
            instrument, bbo, quantity = await self.order_size(venue, symbol)
            for side in (Side.BUY, Side.SELL):
                cid = self.new_client_order_id("ro-flat")
                worst = self.worst_price(instrument, bbo, side)  # for the limit order too: marketable at once
                call = (
                    venue.place_market_order(
                        symbol, side, quantity, worst_price=worst, client_order_id=cid, reduce_only=True
                    )
                    if market
                    else venue.place_limit_order(symbol, side, quantity, worst, client_order_id=cid, reduce_only=True)
                )
                with pytest.raises(VenueRejected) as info:
                    await call
                assert info.value.reason == RejectReason.REDUCE_ONLY_WOULD_INCREASE, _reason(info.value)
                snapshot = await venue.get_position_snapshot(symbol)
                assert snapshot.quantity == 0, f"a reduce-only {side} opened a position: {snapshot}"

        await run(scenario())

    @pytest.mark.parametrize("side", [Side.BUY, Side.SELL], ids=["long", "short"])
    async def test_reduce_only_on_the_side_of_the_position_is_rejected(
        self, venue: Venue, run: Driver, symbol: str, side: Side
    ) -> None:
        async def scenario() -> None:
            instrument, _bbo, quantity = await self.order_size(venue, symbol)
            before = await self.open_position(venue, symbol, side, quantity)
            assert before.quantity == side.sign * quantity
            with pytest.raises(VenueRejected) as info:
                await venue.place_market_order(
                    symbol,
                    side,
                    quantity,
                    worst_price=self.worst_price(instrument, await venue.fetch_bbo_prices(symbol), side),
                    client_order_id=self.new_client_order_id("ro-same"),
                    reduce_only=True,
                )
            assert info.value.reason == RejectReason.REDUCE_ONLY_WOULD_INCREASE, _reason(info.value)
            after = await venue.get_position_snapshot(symbol)
            assert after.quantity == before.quantity, f"a reduce-only {side} changed a position of {before.quantity}"
            await self.flatten(venue, symbol)

        await run(scenario())

    @pytest.mark.parametrize("side", [Side.BUY, Side.SELL], ids=["long", "short"])
    async def test_reduce_only_larger_than_the_position_never_flips_it(
        self, venue: Venue, run: Driver, symbol: str, side: Side
    ) -> None:
        async def scenario() -> None:
            instrument, _bbo, quantity = await self.order_size(venue, symbol)
            before = await self.open_position(venue, symbol, side, quantity)
            closing = side.opposite
            outcome = await _attempt(
                venue.place_market_order(
                    symbol,
                    closing,
                    quantity * 2,
                    worst_price=self.worst_price(instrument, await venue.fetch_bbo_prices(symbol), closing),
                    client_order_id=self.new_client_order_id("ro-big"),
                    reduce_only=True,
                )
            )
            if isinstance(outcome, VenueRejected):
                assert outcome.reason == RejectReason.REDUCE_ONLY_WOULD_INCREASE, _reason(outcome)
                assert (await venue.get_position_snapshot(symbol)).quantity == before.quantity
            else:
                state = await self.finished(venue, outcome)
                assert state.filled_qty <= quantity, f"a reduce-only order filled beyond the position: {state}"
            after = await venue.get_position_snapshot(symbol)
            assert after.quantity * side.sign >= 0, f"reduce-only flipped a {side} position: {after.quantity}"
            assert abs(after.quantity) <= quantity
            await self.flatten(venue, symbol)

        await run(scenario())

    async def test_reduce_only_closes_exactly_the_position(self, venue: Venue, run: Driver, symbol: str) -> None:
        async def scenario() -> None:
            instrument, _bbo, quantity = await self.order_size(venue, symbol)
            before = await self.open_position(venue, symbol, Side.SELL, quantity)
            state = await venue.place_market_order(
                symbol,
                Side.BUY,
                instrument.close_qty(before.quantity),
                worst_price=self.worst_price(instrument, await venue.fetch_bbo_prices(symbol), Side.BUY),
                client_order_id=self.new_client_order_id("ro-close"),
                reduce_only=True,
            )
            state = await self.finished(venue, state)
            assert state.status is OrderStatus.FILLED, state
            assert (await venue.get_position_snapshot(symbol)).quantity == 0

        await run(scenario())

    # -- idempotency and ambiguity -----------------------------------------------------------------------------

    async def test_same_client_order_id_twice_is_one_order(self, venue: Venue, run: Driver, symbol: str) -> None:
        async def scenario() -> None:
            instrument, bbo, quantity = await self.order_size(venue, symbol)
            cid = self.new_client_order_id("twice")
            worst = self.worst_price(instrument, bbo, Side.BUY)
            first = await venue.place_market_order(symbol, Side.BUY, quantity, worst_price=worst, client_order_id=cid)
            first = await self.finished(venue, first)
            second = await _attempt(
                venue.place_market_order(symbol, Side.BUY, quantity, worst_price=worst, client_order_id=cid)
            )
            if isinstance(second, VenueRejected):
                assert second.reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID, _reason(second)
            else:
                assert second.venue_order_id == first.venue_order_id, "a second order was made under the same id"
            snapshot = await venue.get_position_snapshot(symbol)
            assert snapshot.quantity == first.filled_qty, f"two orders under one client id: {snapshot.quantity}"
            found = await venue.get_order(symbol, cid)
            assert found is not None
            assert found.filled_qty == first.filled_qty
            await self.flatten(venue, symbol)

        await run(scenario())

    async def test_same_client_order_id_twice_rests_once(self, venue: Venue, run: Driver, symbol: str) -> None:
        async def scenario() -> None:
            instrument, bbo, quantity = await self.order_size(venue, symbol)
            cid = self.new_client_order_id("twice")
            price = self.passive_price(instrument, bbo, Side.BUY)
            first = await venue.place_limit_order(symbol, Side.BUY, quantity, price, client_order_id=cid)
            second = await _attempt(venue.place_limit_order(symbol, Side.BUY, quantity, price, client_order_id=cid))
            if isinstance(second, VenueRejected):
                assert second.reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID, _reason(second)
            else:
                assert second.venue_order_id == first.venue_order_id, "a second order was made under the same id"
            assert (await venue.cancel_order(symbol, cid)).status is OrderStatus.CANCELLED
            found = await venue.get_order(symbol, cid)
            assert found is not None
            assert found.status is OrderStatus.CANCELLED, "the same id still names a live order after its cancel"

        await run(scenario())

    @pytest.mark.parametrize("market", [True, False], ids=["market", "limit"])
    async def test_ambiguous_order_is_found_by_client_id(
        self, faulty_venue: Venue, run: Driver, symbol: str, market: bool
    ) -> None:
        venue = faulty_venue

        async def scenario() -> None:
            instrument, bbo, quantity = await self.order_size(venue, symbol)
            cid = self.new_client_order_id("ambiguous")
            worst = self.worst_price(instrument, bbo, Side.BUY)
            price = self.passive_price(instrument, bbo, Side.BUY)

            def send() -> Coroutine[Any, Any, OrderState]:
                if market:
                    return venue.place_market_order(symbol, Side.BUY, quantity, worst_price=worst, client_order_id=cid)
                return venue.place_limit_order(symbol, Side.BUY, quantity, price, client_order_id=cid)

            with pytest.raises(AmbiguousOutcome) as info:
                await send()
            assert info.value.client_order_id in (None, cid)
            found = await venue.get_order(symbol, cid)
            assert found is not None, "the order reached the venue but get_order cannot find it by client id"
            assert (found.client_order_id, found.side, found.quantity) == (cid, Side.BUY, quantity)
            if market:
                found = await self.finished(venue, found)
                assert found.status is OrderStatus.FILLED, found
                assert (await venue.get_position_snapshot(symbol)).quantity == quantity
            else:
                assert found.status is OrderStatus.OPEN, found
            # Sending it again (what a naive retry does) must not make a second order.
            with contextlib.suppress(AmbiguousOutcome):
                retry = await _attempt(send())
                if isinstance(retry, VenueRejected):
                    assert retry.reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID, _reason(retry)
            if market:
                assert (await venue.get_position_snapshot(symbol)).quantity == quantity, "the retry made a second order"
            else:
                cancelled = await venue.cancel_order(symbol, cid)
                assert cancelled.status is OrderStatus.CANCELLED
                assert (await venue.get_position_snapshot(symbol)).quantity == 0, "the retry made a second order"

        await run(scenario())
