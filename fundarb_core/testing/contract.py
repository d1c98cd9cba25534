"""The venue contract suite: the tests every venue plugin runs against itself (ARCHITECTURE.md §4, §9).

A venue plugin proves it honours the contract by subclassing `VenueContract` in its tests and providing a `venue`
fixture (its venue, against its fake server)::

    from fundarb_core.testing import VenueContract

    class TestAcmeContract(VenueContract):
        @pytest.fixture
        async def venue(self, fake_acme_server):          # an async fixture is fine (pytest-asyncio)
            venue = AcmeVenue("acme", AcmeConfig(url=fake_acme_server.url), VenueContext(WallClock()))
            yield venue
            await venue.close()

Fixtures a subclass may override:

- `venue` (required): the venue under test, flat, with enough collateral for a few small orders.
- `clock` (default `WallClock()`): the clock the venue runs on. A venue on a `SimClock` also overrides `run`.
- `run` (default: just await): the driver every scenario runs under. For a venue on a `SimClock`, return
  `clock.run`, so that the venue's simulated latency and the suite's waits advance simulated time.
- `symbol` (default `contract_symbol`, "BTC"): the market the suite trades.
- `faulty_venue` (default: the tests that need it are skipped): a venue on the same account whose order
  placements reach the venue but whose replies are lost, so that each raises `AmbiguousOutcome`.

Methods a subclass may override: `open_position` (how the suite gets a position; a market order by default) and
`new_client_order_id`. Class attributes tune sizes and prices (`contract_size`, `contract_passive_offset`,
`contract_slippage`, `contract_funding_on_utc_grid`).

Every test carries the `venue_contract` marker and the `asyncio` marker (pytest-asyncio runs them).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Protocol, TypeVar

import pytest

from fundarb_core.clock import Clock, WallClock, wait_for
from fundarb_core.errors import AmbiguousOutcome, VenueRejected
from fundarb_core.model import OrderStatus, RejectReason, Side, TimeInForce
from fundarb_core.venues import (
    BBO,
    REQUIRED_METHODS,
    Capabilities,
    FundingRate,
    Instrument,
    OrderState,
    PositionSnapshot,
    Rounding,
    Venue,
)

__all__ = ["Driver", "VenueContract"]

T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UNKNOWN_SYMBOL = "NO-SUCH-SYMBOL-XYZ"


class Driver(Protocol):
    """Runs one scenario coroutine to completion: `await run(scenario())`."""

    def __call__(self, coro: Coroutine[Any, Any, T], /) -> Awaitable[T]: ...


async def _just_await(coro: Coroutine[Any, Any, T], /) -> T:
    return await coro


def _reason(error: VenueRejected) -> str:
    return f"{error.reason} ({error})"


async def _attempt(call: Awaitable[T]) -> T | VenueRejected:
    """Await `call`; return its result, or the `VenueRejected` it raised (for 'accepted, or refused so' checks)."""
    try:
        return await call
    except VenueRejected as error:
        return error


class VenueContract:
    """Subclass with a `venue` fixture to run the venue contract against a venue. See the module docstring."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.venue_contract, pytest.mark.asyncio]

    contract_symbol: ClassVar[str] = "BTC"
    # Orders are this many times the smallest order the instrument allows at the current price.
    contract_size: ClassVar[int] = 2
    # Resting limit orders are priced this fraction away from the touch (far enough not to fill).
    contract_passive_offset: ClassVar[Decimal] = Decimal("0.02")
    # Market orders accept prices up to this fraction beyond the touch.
    contract_slippage: ClassVar[Decimal] = Decimal("0.02")
    # Funding times fall on whole multiples of the interval since the Unix epoch (00:00, 08:00, 16:00 UTC for 8 h).
    contract_funding_on_utc_grid: ClassVar[bool] = True
    # How long (clock time) the suite waits for an order to finish or a stream to deliver.
    contract_wait: ClassVar[timedelta] = timedelta(seconds=30)

    _clock: Clock

    # -- fixtures a subclass provides or overrides -------------------------------------------------------------

    @pytest.fixture
    def venue(self) -> Venue:
        """The venue under test, flat at the start of each test (keep the fixture function-scoped).

        Every venue plugin must override this fixture.
        """
        raise NotImplementedError(f"{type(self).__name__} must provide a `venue` fixture (see VenueContract)")

    @pytest.fixture
    def clock(self) -> Clock:
        """The clock the venue runs on."""
        return WallClock()

    @pytest.fixture
    def run(self) -> Driver:
        """The driver for scenarios; `clock.run` for a venue on a `SimClock`."""
        return _just_await

    @pytest.fixture
    def symbol(self) -> str:
        """The canonical symbol the suite trades."""
        return self.contract_symbol

    @pytest.fixture
    def faulty_venue(self) -> Venue:
        """A venue whose order replies are lost (each placement reaches the venue, then raises AmbiguousOutcome)."""
        pytest.skip(f"{type(self).__name__} provides no `faulty_venue` fixture (a venue whose order replies are lost)")

    @pytest.fixture(autouse=True)
    def _contract_clock(self, clock: Clock) -> None:
        self._clock = clock

    # -- hooks a subclass may override -------------------------------------------------------------------------

    def new_client_order_id(self, label: str) -> str:
        """A client order id never used before (venues keep them across tests when the fake server does)."""
        return f"fc-{label}-{uuid.uuid4().hex[:12]}"

    async def open_position(self, venue: Venue, symbol: str, side: Side, quantity: Decimal) -> PositionSnapshot:
        """Open (or add to) a position of `quantity` on `side`; return the snapshot afterwards.

        The default sends a market order with a worst price `contract_slippage` beyond the touch and requires it
        to fill completely.
        """
        instrument = await self.instrument(venue, symbol)
        bbo = await venue.fetch_bbo_prices(symbol)
        state = await venue.place_market_order(
            symbol,
            side,
            quantity,
            worst_price=self.worst_price(instrument, bbo, side),
            client_order_id=self.new_client_order_id("open"),
        )
        state = await self.finished(venue, state)
        assert state.status is OrderStatus.FILLED, f"opening market order did not fill: {state}"
        return await venue.get_position_snapshot(symbol)

    # -- helpers -----------------------------------------------------------------------------------------------

    async def instrument(self, venue: Venue, symbol: str) -> Instrument:
        instruments = await venue.load_instruments()
        assert symbol in instruments, f"{symbol} is not among the venue's instruments {sorted(instruments)}"
        return instruments[symbol]

    def worst_price(self, instrument: Instrument, bbo: BBO, side: Side) -> Decimal:
        """A worst acceptable price `contract_slippage` beyond the touch, on the tick grid."""
        if side is Side.BUY:
            return instrument.round_price(bbo.ask * (1 + self.contract_slippage), Rounding.UP)
        return instrument.round_price(bbo.bid * (1 - self.contract_slippage), Rounding.DOWN)

    def passive_price(self, instrument: Instrument, bbo: BBO, side: Side) -> Decimal:
        """A limit price `contract_passive_offset` behind the touch, on the tick grid: it rests and does not fill."""
        if side is Side.BUY:
            return instrument.round_price(bbo.bid * (1 - self.contract_passive_offset), Rounding.DOWN)
        return instrument.round_price(bbo.ask * (1 + self.contract_passive_offset), Rounding.UP)

    async def order_size(self, venue: Venue, symbol: str) -> tuple[Instrument, BBO, Decimal]:
        """The instrument, the BBO and the suite's order quantity: `contract_size` × the smallest valid order."""
        instrument = await self.instrument(venue, symbol)
        bbo = await venue.fetch_bbo_prices(symbol)
        dearest = self.worst_price(instrument, bbo, Side.BUY)
        cheapest = self.passive_price(instrument, bbo, Side.BUY)
        smallest = max(instrument.min_qty_at(dearest), instrument.min_qty_at(cheapest))
        return instrument, bbo, smallest * self.contract_size

    async def finished(self, venue: Venue, state: OrderState) -> OrderState:
        """Poll `get_order` until the order is final (market orders on venues that acknowledge before filling)."""
        deadline = self._clock.monotonic() + self.contract_wait.total_seconds()
        while not state.final:
            assert self._clock.monotonic() < deadline, f"order did not finish within {self.contract_wait}: {state}"
            await self._clock.sleep(0.2)
            found = await venue.get_order(state.symbol, state.client_order_id)
            assert found is not None, f"get_order lost order {state.client_order_id}"
            state = found
        return state

    async def flatten(self, venue: Venue, symbol: str) -> None:
        """Close whatever position is left with a reduce-only market order (suite clean-up)."""
        snapshot = await venue.get_position_snapshot(symbol)
        if snapshot.quantity == 0:
            return
        instrument = await self.instrument(venue, symbol)
        side = Side.SELL if snapshot.quantity > 0 else Side.BUY
        bbo = await venue.fetch_bbo_prices(symbol)
        state = await venue.place_market_order(
            symbol,
            side,
            instrument.close_qty(snapshot.quantity),
            worst_price=self.worst_price(instrument, bbo, side),
            client_order_id=self.new_client_order_id("flatten"),
            reduce_only=True,
        )
        await self.finished(venue, state)

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

    # -- positions ---------------------------------------------------------------------------------------------

    async def test_flat_snapshot_is_zero(self, venue: Venue, run: Driver, symbol: str) -> None:
        snapshot = await run(venue.get_position_snapshot(symbol))
        assert snapshot.symbol == symbol
        assert snapshot.quantity == 0
        assert snapshot.flat
        assert snapshot.side is None
        assert snapshot.mark_price > 0

    @pytest.mark.parametrize("side", [Side.BUY, Side.SELL], ids=["long", "short"])
    async def test_snapshot_sign_follows_the_side(self, venue: Venue, run: Driver, symbol: str, side: Side) -> None:
        async def scenario() -> None:
            _instrument, _bbo, quantity = await self.order_size(venue, symbol)
            snapshot = await self.open_position(venue, symbol, side, quantity)
            assert snapshot.symbol == symbol
            assert snapshot.quantity == side.sign * quantity, "snapshots are signed: + long, − short"
            assert snapshot.side is side
            assert snapshot.entry_price is not None
            assert snapshot.entry_price > 0
            assert snapshot.mark_price > 0
            assert snapshot.exposure_usd == quantity * snapshot.mark_price
            if snapshot.liquidation_price is not None:
                below = snapshot.liquidation_price < snapshot.mark_price
                assert below if side is Side.BUY else not below, "liquidation price on the wrong side of the mark"
            await self.flatten(venue, symbol)
            assert (await venue.get_position_snapshot(symbol)).quantity == 0

        await run(scenario())

    async def test_balance_locks_margin_for_a_position(self, venue: Venue, run: Driver, symbol: str) -> None:
        async def scenario() -> None:
            _instrument, _bbo, quantity = await self.order_size(venue, symbol)
            before = await venue.fetch_balance()
            assert before.wallet >= 0
            assert before.available <= before.wallet + max(before.unrealized_pnl, Decimal(0))
            await self.open_position(venue, symbol, Side.BUY, quantity)
            after = await venue.fetch_balance()
            assert after.margin_used > before.margin_used
            assert after.available < before.available
            await self.flatten(venue, symbol)

        await run(scenario())

    async def test_set_leverage_is_capped_at_the_maximum(self, venue: Venue, run: Driver, symbol: str) -> None:
        async def scenario() -> None:
            instrument = await self.instrument(venue, symbol)
            assert await venue.set_leverage(symbol, Decimal(1)) == 1
            applied = await _attempt(venue.set_leverage(symbol, instrument.max_leverage * 10))
            if isinstance(applied, VenueRejected):
                assert applied.reason == RejectReason.LEVERAGE, _reason(applied)
            else:
                assert 1 <= applied <= instrument.max_leverage

        await run(scenario())

    # -- market data -------------------------------------------------------------------------------------------

    async def test_bbo_and_book_are_ordered_and_on_tick(self, venue: Venue, run: Driver, symbol: str) -> None:
        async def scenario() -> None:
            instrument = await self.instrument(venue, symbol)
            bbo = await venue.fetch_bbo_prices(symbol)
            assert bbo.symbol == symbol
            assert 0 < bbo.bid < bbo.ask
            assert instrument.on_tick(bbo.bid)
            assert instrument.on_tick(bbo.ask)
            book = await venue.fetch_order_book(symbol, depth=5)
            assert 0 < len(book.bids) <= 5
            assert 0 < len(book.asks) <= 5
            assert all(a.price > b.price for a, b in zip(book.bids, book.bids[1:], strict=False))
            assert all(a.price < b.price for a, b in zip(book.asks, book.asks[1:], strict=False))
            assert book.bids[0].price < book.asks[0].price
            assert all(level.quantity > 0 for level in (*book.bids, *book.asks))

        await run(scenario())

    async def test_funding_rates_are_per_interval_with_the_next_time_ahead(
        self, venue: Venue, run: Driver, symbol: str
    ) -> None:
        async def scenario() -> tuple[
            Mapping[str, Instrument], Mapping[str, FundingRate], Mapping[str, FundingRate], datetime
        ]:
            instruments = await venue.load_instruments()
            now = self._clock.now()
            return instruments, await venue.fetch_funding_rates([symbol]), await venue.fetch_funding_rates(), now

        instruments, one, every, now = await run(scenario())
        assert set(one) == {symbol}
        assert set(every) <= set(instruments)
        assert symbol in every
        for key, rate in every.items():
            assert rate.symbol == key
            assert isinstance(rate.rate, Decimal)
            assert rate.interval == instruments[key].funding_interval, "the rate's interval is the instrument's"
            hours = Decimal(int(rate.interval.total_seconds())) / 3600
            assert rate.hourly == rate.rate / hours, "hourly is the rate per interval over the interval in hours"
            assert abs(rate.rate) < Decimal("0.05"), f"{key}: {rate.rate} per interval is not a plausible rate"
            assert rate.mark_price > 0
            assert rate.next_funding_time > now, f"{key}: next funding {rate.next_funding_time} is not after {now}"
            assert rate.next_funding_time - now <= rate.interval + timedelta(minutes=1)
            if self.contract_funding_on_utc_grid:
                offset = (rate.next_funding_time - EPOCH).total_seconds()
                assert offset % rate.interval.total_seconds() == 0, f"{key}: {rate.next_funding_time} off the grid"

    # -- typed errors ------------------------------------------------------------------------------------------

    async def test_unknown_symbol_is_a_typed_rejection(self, venue: Venue, run: Driver, symbol: str) -> None:
        async def scenario() -> None:
            _instrument, bbo, quantity = await self.order_size(venue, symbol)
            calls: list[Coroutine[Any, Any, object]] = [
                venue.place_limit_order(
                    UNKNOWN_SYMBOL, Side.BUY, quantity, bbo.bid, client_order_id=self.new_client_order_id("unknown")
                ),
                venue.place_market_order(
                    UNKNOWN_SYMBOL,
                    Side.BUY,
                    quantity,
                    worst_price=bbo.ask,
                    client_order_id=self.new_client_order_id("unknown"),
                ),
                venue.fetch_bbo_prices(UNKNOWN_SYMBOL),
                venue.fetch_order_book(UNKNOWN_SYMBOL),
                venue.get_position_snapshot(UNKNOWN_SYMBOL),
            ]
            for call in calls:
                with pytest.raises(VenueRejected) as info:
                    await call
                assert info.value.reason == RejectReason.UNKNOWN_SYMBOL, _reason(info.value)

        await run(scenario())

    @pytest.mark.parametrize(
        "reason",
        [
            RejectReason.OFF_TICK,
            RejectReason.OFF_STEP,
            RejectReason.BELOW_MIN_QUANTITY,
            RejectReason.BELOW_MIN_NOTIONAL,
            RejectReason.INSUFFICIENT_MARGIN,
        ],
    )
    async def test_invalid_order_is_a_typed_rejection(
        self, venue: Venue, run: Driver, symbol: str, reason: RejectReason
    ) -> None:
        async def scenario() -> None:
            found = await self._invalid_order(venue, symbol, reason)
            if found is None and reason is RejectReason.BELOW_MIN_QUANTITY:
                # No on-grid order lies below a minimum (a minimum of one step): test the minimum from above.
                await self._minimum_quantity_is_accepted(venue, symbol)
                return
            if found is None:
                pytest.skip(f"no instrument of this venue allows an on-grid order that is {reason}")
            instrument, quantity, price = found
            cid = self.new_client_order_id("invalid")
            with pytest.raises(VenueRejected) as info:
                await venue.place_limit_order(instrument.symbol, Side.BUY, quantity, price, client_order_id=cid)
            assert info.value.reason == reason, _reason(info.value)
            state = await venue.get_order(instrument.symbol, cid)
            assert state is None or state.status is OrderStatus.REJECTED, state
            assert (await venue.get_position_snapshot(instrument.symbol)).quantity == 0

        await run(scenario())

    async def _minimum_quantity_is_accepted(self, venue: Venue, symbol: str) -> None:
        """A resting order of exactly an instrument's minimum quantity is accepted: the announced minimum is real.

        The venue's true minimum could be higher than `Instrument.min_qty` says; then this order is refused.
        """
        instruments = await venue.load_instruments()
        for instrument in [instruments[symbol], *(i for s, i in sorted(instruments.items()) if s != symbol)]:
            minimum = max(instrument.step_size, instrument.round_qty(instrument.min_qty, Rounding.UP))
            price = self.passive_price(instrument, await venue.fetch_bbo_prices(instrument.symbol), Side.BUY)
            if minimum * price < instrument.min_notional:
                continue  # the minimum notional hides the minimum quantity here
            assert instrument.check_order(minimum, price) is None
            cid = self.new_client_order_id("minimum")
            placed = await venue.place_limit_order(instrument.symbol, Side.BUY, minimum, price, client_order_id=cid)
            assert placed.status is OrderStatus.OPEN, f"an order of the announced minimum {minimum}: {placed}"
            assert placed.quantity == minimum
            assert (await venue.cancel_order(instrument.symbol, cid)).status is OrderStatus.CANCELLED
            return
        pytest.skip("every instrument's minimum notional exceeds its minimum quantity: the quantity rule is hidden")

    async def _invalid_order(
        self, venue: Venue, symbol: str, reason: RejectReason
    ) -> tuple[Instrument, Decimal, Decimal] | None:
        """A resting buy (instrument, quantity, price) that breaks exactly one rule, or None if none can."""
        instruments = await venue.load_instruments()
        ordered = [instruments[symbol], *(i for s, i in sorted(instruments.items()) if s != symbol)]
        for instrument in ordered:
            bbo = await venue.fetch_bbo_prices(instrument.symbol)
            price = self.passive_price(instrument, bbo, Side.BUY)
            smallest = instrument.min_qty_at(price)
            step, tick = instrument.step_size, instrument.tick_size
            candidate: tuple[Decimal, Decimal] | None = None
            if reason is RejectReason.OFF_TICK:
                candidate = (smallest, price - tick / 2)
            elif reason is RejectReason.OFF_STEP:
                candidate = (smallest + step / 2, price)
            elif reason is RejectReason.BELOW_MIN_QUANTITY:
                below = instrument.round_qty(instrument.min_qty, Rounding.UP) - step
                if below > 0 and below * price >= instrument.min_notional:
                    candidate = (below, price)
            elif reason is RejectReason.BELOW_MIN_NOTIONAL:
                qty = max(step, instrument.round_qty(instrument.min_qty, Rounding.UP))
                if qty * price < instrument.min_notional:
                    candidate = (qty, price)
            elif reason is RejectReason.INSUFFICIENT_MARGIN:
                balance = await venue.fetch_balance()
                notional = (balance.wallet + balance.available + 1) * instrument.max_leverage * 3
                candidate = (max(smallest, instrument.round_qty(notional / price, Rounding.UP)), price)
            if candidate is not None:
                assert instrument.check_order(*candidate) in (reason, None)
                return instrument, *candidate
        return None

    # -- streams -----------------------------------------------------------------------------------------------

    async def test_order_stream_reports_changes(self, venue: Venue, run: Driver, symbol: str) -> None:
        if not venue.capabilities.order_stream:
            pytest.skip("the venue announces no order stream (the executor polls)")

        async def scenario() -> list[OrderState]:
            instrument, bbo, quantity = await self.order_size(venue, symbol)
            stream: AsyncIterator[OrderState] = venue.order_updates()
            cid = self.new_client_order_id("stream")
            seen: list[OrderState] = []
            try:
                first = _anext_task(stream)
                await self._clock.sleep(0)  # let the subscription start before the order is sent
                price = self.passive_price(instrument, bbo, Side.BUY)
                await venue.place_limit_order(symbol, Side.BUY, quantity, price, client_order_id=cid)
                await venue.cancel_order(symbol, cid)
                seen.append(await wait_for(self._clock, first, self.contract_wait))
                while not any(s.client_order_id == cid and s.final for s in seen):
                    seen.append(await wait_for(self._clock, anext(stream), self.contract_wait))
            finally:
                await _aclose(stream)
            return seen

        updates = [s for s in await run(scenario()) if s.symbol == symbol]
        assert updates, "the order stream delivered nothing for the order"
        assert updates[-1].status is OrderStatus.CANCELLED


def _anext_task(stream: AsyncIterator[OrderState]) -> Awaitable[OrderState]:
    async def first() -> OrderState:
        return await anext(stream)

    return asyncio.ensure_future(first())


async def _aclose(stream: AsyncIterator[Any]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
