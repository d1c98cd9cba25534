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
from collections.abc import AsyncIterator, Awaitable, Coroutine, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fundarb_core.clock import wait_for
from fundarb_core.errors import VenueRejected
from fundarb_core.model import OrderStatus, RejectReason, Side
from fundarb_core.testing._contract_base import EPOCH, UNKNOWN_SYMBOL, Driver, _attempt, _reason
from fundarb_core.testing._contract_orders import OrderContract
from fundarb_core.venues import (
    FundingRate,
    Instrument,
    OrderState,
    Rounding,
    Venue,
)

__all__ = ["Driver", "VenueContract"]


class VenueContract(OrderContract):
    """Subclass with a `venue` fixture to run the venue contract against a venue. See the module docstring."""

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
