"""The venue contract suite's base: its fixtures, hooks and helpers (the tests are in `contract`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Coroutine
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Protocol, TypeVar

import pytest

from fundarb_core.clock import Clock, WallClock
from fundarb_core.errors import VenueRejected
from fundarb_core.model import OrderStatus, Side
from fundarb_core.venues import (
    BBO,
    Instrument,
    OrderState,
    PositionSnapshot,
    Rounding,
    Venue,
)

__all__ = ["ContractBase", "Driver"]

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


class ContractBase:
    """Fixtures, hooks and helpers of `VenueContract` (see `fundarb_core.testing.contract`)."""

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
