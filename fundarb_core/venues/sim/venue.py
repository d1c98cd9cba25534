"""The simulated perpetual-futures venue: the embedded default for paper trading, backtests and tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fundarb_core.errors import AmbiguousOutcome, VenueRejected, VenueUnavailable
from fundarb_core.model import OrderStatus, OrderType, RejectReason, Side, TimeInForce
from fundarb_core.venues._types import (
    BBO,
    Balance,
    FundingHistoryEntry,
    FundingPayment,
    FundingRate,
    Instrument,
    LiquidationNotice,
    OrderBook,
    OrderState,
    PositionSnapshot,
    PriceCandle,
)
from fundarb_core.venues.sim import history
from fundarb_core.venues.sim._market import ZERO, SimMarket, _dec
from fundarb_core.venues.sim.book import SimOrder
from fundarb_core.venues.sim.world import STEP

__all__ = ["SimVenue"]


class SimVenue(SimMarket):
    """A perp venue simulated in `clock` time on a shared `SimWorld`: the Venue protocol over `SimMarket`."""

    # -- the contract: market data -----------------------------------------------------------------------------

    async def load_instruments(self) -> Mapping[str, Instrument]:
        await self._enter("query")
        return dict(self.instruments)

    async def fetch_funding_rates(self, symbols: Sequence[str] | None = None) -> Mapping[str, FundingRate]:
        await self._enter("query")
        now = self.clock.now()
        out = {}
        for symbol in symbols if symbols is not None else list(self.instruments):
            if symbol not in self.instruments:
                continue
            instrument = self.instruments[symbol]
            out[symbol] = FundingRate(
                symbol=symbol,
                rate=self.world.funding_rate(self.name, symbol, self.last_step, instrument.funding_interval),
                interval=instrument.funding_interval,
                next_funding_time=self.next_funding_time(symbol, now),
                mark_price=self.mark(symbol),
                index_price=instrument.round_price(_dec(self.world.index_price(symbol, self.last_step))),
            )
        return out

    async def fetch_funding_history(self, symbol: str, start: datetime, end: datetime) -> Sequence[FundingHistoryEntry]:
        """Every rate this venue settled at `start <= at < end` (up to now), oldest first."""
        await self._enter("query")
        return history.funding_history(self, symbol, start, end)

    async def fetch_price_candles(
        self, symbol: str, resolution: timedelta, start: datetime, end: datetime
    ) -> Sequence[PriceCandle]:
        """Mark-price candles opening at `start <= at < end` (complete ones, up to now), oldest first."""
        await self._enter("query")
        return history.price_candles(self, symbol, resolution, start, end)

    async def fetch_bbo_prices(self, symbol: str) -> BBO:
        await self._enter("query")
        self._instrument_or_reject(symbol)
        bid, ask = self._side(symbol, self.last_step, Side.BUY)[0], self._side(symbol, self.last_step, Side.SELL)[0]
        return BBO(symbol, bid.price, ask.price, bid.quantity, ask.quantity, self.clock.now())

    async def fetch_order_book(self, symbol: str, depth: int = 10) -> OrderBook:
        await self._enter("query")
        self._instrument_or_reject(symbol)
        bids, asks = self._levels(symbol, self.last_step)
        return OrderBook(symbol, tuple(bids[:depth]), tuple(asks[:depth]), self.clock.now())

    # -- the contract: orders ----------------------------------------------------------------------------------

    def _new_order(
        self,
        cid: str,
        symbol: str,
        side: Side,
        otype: OrderType,
        tif: TimeInForce,
        quantity: Decimal,
        price: Decimal | None,
        reduce_only: bool,
    ) -> SimOrder:
        if cid in self.orders:
            raise VenueRejected(
                f"duplicate client order id {cid!r}", venue=self.name, reason=RejectReason.DUPLICATE_CLIENT_ORDER_ID
            )
        self._seq += 1
        now = self.clock.now()
        order = SimOrder(
            cid, f"{self.name}-{self._seq}", symbol, side, otype, tif, quantity, price, reduce_only,
            OrderStatus.OPEN, now, now,
        )  # fmt: skip
        self.orders[cid] = order
        self._dirty = True
        return order

    def _reject(self, order: SimOrder, reason: RejectReason, message: str) -> VenueRejected:
        order.finish(OrderStatus.REJECTED, self.clock.now(), reason)
        self._publish(order)
        self._save()
        return VenueRejected(message, venue=self.name, reason=reason)

    def _validate(self, order: SimOrder, instrument: Instrument, check_price: Decimal) -> None:
        reason = instrument.check_order(order.quantity, order.price, reduce_only=order.reduce_only)
        if reason is not None:
            raise self._reject(order, reason, f"{reason.value}: qty {order.quantity} price {order.price}")
        pos = self.ledger.qty(order.symbol)
        dq = order.side.sign * order.quantity
        if order.reduce_only and (pos == 0 or (pos > 0) == (dq > 0) or order.quantity > abs(pos)):
            raise self._reject(
                order,
                RejectReason.REDUCE_ONLY_WOULD_INCREASE,
                f"reduce-only {order.side.value} {order.quantity} against position {pos}",
            )
        if not order.reduce_only:
            fee = max(self.maker_fee, self.taker_fee)
            needed = self.ledger.margin_needed(order.symbol, dq, check_price, fee, self.default_leverage(order.symbol))
            if needed > self.ledger.cash:
                raise self._reject(
                    order, RejectReason.INSUFFICIENT_MARGIN, f"needs {needed:.2f} margin, {self.ledger.cash:.2f} free"
                )
        if self._chance(self.config.faults.reject_probability):
            raise self._reject(order, RejectReason.OTHER, "order rejected (simulated fault)")

    def _take(self, order: SimOrder, limit: Decimal) -> None:
        """Walk the book as a taker up to `limit`."""
        levels = self._side(order.symbol, self.last_step, order.side.opposite)  # a buyer takes the resting sells
        now = self.clock.now()
        for level in levels:
            if order.remaining <= 0 or order.status.final:
                break
            beyond = level.price > limit if order.side is Side.BUY else level.price < limit
            if beyond:
                break
            qty = min(order.remaining, level.quantity)
            if qty <= 0:
                continue
            before = order.filled_qty
            if not self._fill(order, qty, level.price, maker=False, at=now):
                break
            # What was taken is gone from the level until the next step. A buyer takes the asks (resting sells),
            # which `_levels` looks up under SELL; a reduce-only fill may have been clipped below `qty`.
            self._consumed_level(order.symbol, order.side.opposite, level.price, order.filled_qty - before)

    def _ambiguous(self, order: SimOrder) -> None:
        if self._chance(self.config.faults.ambiguous_probability):
            self._save()
            raise AmbiguousOutcome(
                "request timed out after it was sent (simulated)",
                venue=self.name,
                client_order_id=order.client_order_id,
            )

    async def place_limit_order(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        *,
        client_order_id: str,
        time_in_force: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
    ) -> OrderState:
        await self._enter("order")
        instrument = self._instrument_or_reject(symbol)
        order = self._new_order(
            client_order_id, symbol, side, OrderType.LIMIT, time_in_force, quantity, price, reduce_only
        )
        self._validate(order, instrument, price)
        bids, asks = self._levels(symbol, self.last_step)
        crosses = price >= asks[0].price if side is Side.BUY else price <= bids[0].price
        if time_in_force is TimeInForce.POST_ONLY and crosses:
            raise self._reject(
                order, RejectReason.POST_ONLY_WOULD_CROSS, f"post-only {side.value} at {price} would cross the book"
            )
        if crosses:
            self._take(order, price)
        if not order.status.final:
            if time_in_force is TimeInForce.IOC:
                order.finish(OrderStatus.EXPIRED if order.filled_qty == 0 else OrderStatus.CANCELLED, self.clock.now())
                self._publish(order)
            else:
                touch = bids[0] if side is Side.BUY else asks[0]
                order.queue_ahead = touch.quantity if price == touch.price else ZERO
                self.resting.append(order.client_order_id)
                self._publish(order)
        self._dirty = True
        self._ambiguous(order)
        self._save()
        return order.state()

    async def place_market_order(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        *,
        worst_price: Decimal,
        client_order_id: str,
        reduce_only: bool = False,
    ) -> OrderState:
        await self._enter("market_order")
        instrument = self._instrument_or_reject(symbol)
        order = self._new_order(
            client_order_id, symbol, side, OrderType.MARKET, TimeInForce.IOC, quantity, None, reduce_only
        )
        self._validate(order, instrument, worst_price)
        self._take(order, worst_price)
        if not order.status.final:
            status = OrderStatus.EXPIRED if order.filled_qty == 0 else OrderStatus.CANCELLED
            order.finish(status, self.clock.now(), RejectReason.SLIPPAGE)
            self._publish(order)
        self._dirty = True
        self._ambiguous(order)
        self._save()
        return order.state()

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        await self._enter("cancel")
        order = self.orders.get(client_order_id)
        if order is None or order.symbol != symbol:
            raise VenueRejected(
                f"unknown order {client_order_id!r}", venue=self.name, reason=RejectReason.UNKNOWN_ORDER
            )
        if not order.status.final:
            order.finish(OrderStatus.CANCELLED, self.clock.now())
            if client_order_id in self.resting:
                self.resting.remove(client_order_id)
            self._dirty = True
            self._publish(order)
        self._save()
        return order.state()

    async def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        await self._enter("query")
        self._save()
        order = self.orders.get(client_order_id)
        return order.state() if order is not None and order.symbol == symbol else None

    # -- the contract: account ---------------------------------------------------------------------------------

    async def get_position_snapshot(self, symbol: str) -> PositionSnapshot:
        await self._enter("query")
        self._save()
        return self._snapshot(symbol, self.clock.now())

    async def get_position_snapshots(self, symbols: Sequence[str]) -> Mapping[str, PositionSnapshot]:
        """Several positions in one request (the optional bulk call of the contract)."""
        await self._enter("query")
        self._save()
        now = self.clock.now()
        return {symbol: self._snapshot(symbol, now) for symbol in symbols}

    def _snapshot(self, symbol: str, now: datetime) -> PositionSnapshot:
        instrument = self._instrument_or_reject(symbol)
        pos = self.ledger.position(symbol)
        qty, cost, margin = pos.qty, pos.cost, pos.margin
        mark = self.mark(symbol)
        # Entry, liquidation price and default leverage change only with the position, the instrument or the margin
        # ratio: kept while each is the very object they were worked out from (a monitor asks every tick).
        ratio = self.config.maintenance_margin_ratio
        kept = self._snapshot_parts.get(symbol)
        if (
            kept is None
            or kept[0] is not qty
            or kept[1] is not cost
            or kept[2] is not margin
            or kept[3] is not instrument
            or kept[4] is not ratio
        ):
            kept = self._snapshot_parts[symbol] = (
                qty, cost, margin, instrument, ratio,
                pos.entry, self.ledger.liquidation_price(symbol, self.mmr(symbol)), self.default_leverage(symbol),
            )  # fmt: skip
        leverage = self.ledger.leverage.get(symbol)
        # symbol, quantity, entry, mark, unrealised PnL, funding accrued, margin, leverage, liquidation price, time
        return PositionSnapshot(
            symbol, qty, kept[5], mark, pos.upnl(mark), pos.funding, margin,
            leverage if leverage is not None else kept[7], kept[6], now,
        )  # fmt: skip

    async def fetch_balance(self) -> Balance:
        await self._enter("query")
        self._save()
        upnl = sum((p.upnl(self.mark(s)) for s, p in self.ledger.positions.items()), ZERO)
        margin = sum((p.margin for p in self.ledger.positions.values()), ZERO)
        return Balance("USD", self.ledger.wallet(), self.ledger.cash, margin, upnl, self.clock.now())

    async def fetch_funding_payments(self, symbol: str | None, since: datetime) -> Sequence[FundingPayment]:
        await self._enter("query")
        self._save()
        return [p for p in self.payments if p.at >= since and (symbol is None or p.symbol == symbol)]

    async def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        await self._enter("query")
        instrument = self._instrument_or_reject(symbol)
        if leverage <= 0:
            raise VenueRejected(
                f"leverage must be positive, got {leverage}", venue=self.name, reason=RejectReason.LEVERAGE
            )
        applied = min(leverage, instrument.max_leverage)
        self.ledger.leverage[symbol] = applied
        self._dirty = True
        self._save()
        return applied

    # -- streams -----------------------------------------------------------------------------------------------

    async def _stream(self, subs: list[asyncio.Queue[Any]]) -> AsyncIterator[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        subs.append(queue)
        try:
            while True:
                while queue.empty():
                    await self.clock.sleep(STEP)
                    if self._chance(self.config.faults.stream_disconnect_probability):
                        raise VenueUnavailable("stream disconnected (simulated)", venue=self.name)
                    self.sync()
                    self._save()
                yield queue.get_nowait()
        finally:
            subs.remove(queue)

    def order_updates(self) -> AsyncIterator[OrderState]:
        """Order state changes, as they happen; raises `VenueUnavailable` when the stream drops."""
        return self._stream(self._order_subs)

    def liquidations(self) -> AsyncIterator[LiquidationNotice]:
        """Liquidation notices, as they happen."""
        return self._stream(self._liq_subs)

    async def close(self) -> None:
        self._dirty = True
        self._save()

    # -- transfers (the sim transfer route moves funds between sim venues) ----------------------------------------

    def withdraw(self, transfer_id: str, amount: Decimal) -> bool:
        """Take `amount` of free cash out of the account for transfer `transfer_id`, once.

        Returns False when that transfer was already withdrawn here (a retry after a crash: nothing moves again).
        Raises `VenueRejected` (insufficient_margin) when the free cash does not cover it.
        """
        self.sync()
        done = self.transfers.get(transfer_id, {})
        if "withdrawn" in done:
            return False
        if amount <= 0:
            raise ValueError(f"a withdrawal must be positive, found {amount}")
        if amount > self.ledger.cash:
            raise VenueRejected(
                f"withdrawal of {amount} refused: {self.ledger.cash:.2f} free",
                venue=self.name,
                reason=RejectReason.INSUFFICIENT_MARGIN,
            )
        self.ledger.cash -= amount
        self.transfers[transfer_id] = {**done, "withdrawn": str(amount)}
        self._dirty = True
        self._save()
        return True

    def deposit(self, transfer_id: str, amount: Decimal) -> bool:
        """Credit `amount` for transfer `transfer_id`, once; False when it was already credited here."""
        self.sync()
        done = self.transfers.get(transfer_id, {})
        if "deposited" in done:
            return False
        if amount <= 0:
            raise ValueError(f"a deposit must be positive, found {amount}")
        self.ledger.cash += amount
        self.transfers[transfer_id] = {**done, "deposited": str(amount)}
        self._dirty = True
        self._save()
        return True

    # -- for tests and the house view --------------------------------------------------------------------------

    def total_value(self) -> Decimal:
        """Account + house value at the current marks (constant: money is conserved)."""
        symbols = set(self.ledger.positions) | set(self.ledger.house_positions)
        return self.ledger.total_value({s: self.mark(s) for s in symbols})

    def __repr__(self) -> str:
        return f"SimVenue({self.name!r}, profile={self.config.profile!r})"
