"""The simulated perpetual-futures venue: the embedded default for paper trading, backtests and tests."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.errors import AmbiguousOutcome, RateLimited, VenueRejected, VenueUnavailable
from fundarb_core.model import OrderStatus, OrderType, RejectReason, Side, TimeInForce
from fundarb_core.venues._symbols import SymbolMap
from fundarb_core.venues._types import (
    BBO,
    Balance,
    BookLevel,
    Capabilities,
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
from fundarb_core.venues.sim import history, persist
from fundarb_core.venues.sim.book import SimOrder, synth_levels
from fundarb_core.venues.sim.catalogue import CATALOGUE, PROFILES
from fundarb_core.venues.sim.config import SimVenueConfig
from fundarb_core.venues.sim.ledger import Ledger
from fundarb_core.venues.sim.world import STEP, SimWorld, stable_seed

__all__ = ["SimVenue"]

ZERO = Decimal(0)
BOOK_DEPTH = 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


class SimVenue:
    """A perp venue simulated in `clock` time on a shared `SimWorld`.

    Lazy by design: the venue processes what happened since its last call (resting fills from simulated flow,
    funding settlements, liquidations) step by step whenever it is called or its streams are read, so its state
    at a time depends only on the seed and the requests, not on how often it was asked.
    """

    kind = "sim"

    def __init__(
        self,
        name: str,
        config: SimVenueConfig,
        clock: Clock,
        world: SimWorld,
        *,
        state_path: Path | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.clock = clock
        self.world = world
        self.state_path = state_path
        profile = PROFILES[config.profile]
        self.profile = profile
        self.maker_fee = profile.maker_fee if config.maker_fee is None else config.maker_fee
        self.taker_fee = profile.taker_fee if config.taker_fee is None else config.taker_fee
        self.spread_bps = profile.spread_bps if config.spread_bps is None else config.spread_bps
        self.latency = {**profile.latency, **config.faults.latency}
        self.capabilities = Capabilities(
            order_stream=profile.order_stream,
            liquidation_stream=True,
            bulk_snapshots=True,
            funding_history=True,
            price_history=True,
            simulated=True,
        )
        self.instruments: dict[str, Instrument] = {}
        for symbol in config.symbols:  # after the fee rates: instruments carry them
            self.instruments[symbol] = self._instrument(symbol)
            world.register(name, symbol, float(config.funding_bias_bps_per_hour) / 10_000)
        self.symbols = SymbolMap(name, {s: i.venue_symbol for s, i in self.instruments.items()})
        self.ledger = Ledger(cash=config.starting_balance)
        self.orders: dict[str, SimOrder] = {}
        self.resting: list[str] = []
        self.payments: list[FundingPayment] = []
        self.liquidation_log: list[LiquidationNotice] = []
        self.last_step = world.step_at(clock.now())
        self.flow_rng = random.Random(stable_seed(world.seed, "flow", name))
        self.fault_rng = random.Random(stable_seed(config.faults.seed, "faults", name))
        self._seq = 0
        self._consumed: dict[tuple[str, Side, Decimal], Decimal] = {}
        self._consumed_step = -1
        self._order_subs: list[asyncio.Queue[OrderState]] = []
        self._liq_subs: list[asyncio.Queue[LiquidationNotice]] = []
        self._dirty = False
        self._marks: dict[tuple[str, int], Decimal] = {}
        self.calls: dict[str, int] = {}
        self.transfers: dict[str, dict[str, str]] = {}  # transfer id → {"withdrawn"|"deposited": amount}
        if state_path is not None and state_path.exists():
            persist.load(self, state_path)

    # -- set-up ------------------------------------------------------------------------------------------------

    def _instrument(self, symbol: str) -> Instrument:
        spec = CATALOGUE[symbol]
        step = spec.step * self.profile.step_scale
        interval = self.config.funding_interval or self.profile.interval_overrides.get(
            symbol, self.profile.funding_interval
        )
        return Instrument(
            symbol=symbol,
            venue_symbol=f"{symbol}{self.profile.market_suffix}",
            tick_size=spec.tick,
            step_size=step,
            min_qty=max(step, spec.min_qty * self.profile.step_scale),
            min_notional=spec.min_notional,
            max_leverage=spec.max_leverage,
            funding_interval=interval,
            maker_fee=self.maker_fee,
            taker_fee=self.taker_fee,
        )

    def mmr(self, symbol: str) -> Decimal:
        """Maintenance margin ratio: configured, or half the initial margin at the maximum leverage."""
        if self.config.maintenance_margin_ratio is not None:
            return self.config.maintenance_margin_ratio
        return 1 / (2 * self.instruments[symbol].max_leverage)

    def default_leverage(self, symbol: str) -> Decimal:
        return min(Decimal(10), self.instruments[symbol].max_leverage)

    # -- the world as this venue sees it -----------------------------------------------------------------------

    def _instrument_or_reject(self, symbol: str) -> Instrument:
        try:
            return self.instruments[symbol]
        except KeyError:
            raise VenueRejected(
                f"unknown symbol {symbol!r}", venue=self.name, reason=RejectReason.UNKNOWN_SYMBOL
            ) from None

    def mark(self, symbol: str, step: int | None = None) -> Decimal:
        step = self.last_step if step is None else step
        key = (symbol, step)
        cached = self._marks.get(key)
        if cached is None:
            if len(self._marks) > 4096:
                self._marks.clear()  # a cache of recent steps only: the world is deterministic, recomputing is exact
            mid = _dec(self.world.venue_mid(self.name, symbol, step))
            cached = self._marks[key] = self.instruments[symbol].round_price(mid)
        return cached

    def _levels(self, symbol: str, step: int, depth: int = BOOK_DEPTH) -> tuple[list[BookLevel], list[BookLevel]]:
        instrument = self.instruments[symbol]
        mid = self.mark(symbol, step)
        level_qty = CATALOGUE[symbol].level_usd * self.config.liquidity / mid
        bids, asks = synth_levels(instrument, mid, self.spread_bps, level_qty, depth)
        if self._consumed_step != step:
            self._consumed.clear()
            self._consumed_step = step
        return self._left(symbol, Side.BUY, bids), self._left(symbol, Side.SELL, asks)

    def _left(self, symbol: str, side: Side, levels: list[BookLevel]) -> list[BookLevel]:
        """The levels of one side (resting `side` orders) minus what takers consumed this step; empty ones dropped.

        If takers emptied every level, the deepest stays (with quantity 0) so that the side still has a price.
        """
        left = [BookLevel(lv.price, lv.quantity - self._consumed.get((symbol, side, lv.price), ZERO)) for lv in levels]
        return [lv for lv in left if lv.quantity > 0] or left[-1:]

    def _funding_interval_seconds(self, symbol: str) -> int:
        return int(self.instruments[symbol].funding_interval.total_seconds())

    def next_funding_time(self, symbol: str, now: datetime) -> datetime:
        interval = self._funding_interval_seconds(symbol)
        elapsed = int((now - EPOCH).total_seconds())
        return EPOCH + timedelta(seconds=(elapsed // interval + 1) * interval)

    # -- time passing ------------------------------------------------------------------------------------------

    def sync(self) -> None:
        """Process every step between the last call and now: flow fills, funding, liquidations."""
        target = self.world.step_at(self.clock.now())
        if target <= self.last_step:
            return
        if not self.resting and not self.ledger.positions:
            self.last_step = target
            return
        for step in range(self.last_step + 1, target + 1):
            self._process_step(step)
            if not self.resting and not self.ledger.positions:
                break
        self.last_step = target

    def _process_step(self, step: int) -> None:
        if self.resting:
            self._flow(step)
        if self.ledger.positions:
            start = self.world.time_of(step - 1)
            end = self.world.time_of(step)
            for symbol in list(self.ledger.positions):
                boundary = self.next_funding_time(symbol, start)  # the first boundary after `start`
                if boundary <= end:
                    self._settle_funding(symbol, step, boundary)
            for symbol in list(self.ledger.positions):
                mark = self.mark(symbol, step)
                if self.ledger.maintenance(symbol, mark, self.mmr(symbol)):
                    self._liquidate(symbol, mark, end)

    def _settle_funding(self, symbol: str, step: int, at: datetime) -> None:
        instrument = self.instruments[symbol]
        # The rate charged is the one the venue reported up to the boundary (the step before it), as on real venues:
        # what `fetch_funding_rates` showed a moment before funding is what funding charges.
        rate = self.world.funding_rate(self.name, symbol, max(step - 1, 0), instrument.funding_interval)
        mark = self.mark(symbol, step)
        qty = self.ledger.positions[symbol].qty
        amount = self.ledger.settle_funding(symbol, mark, rate)
        if amount is None:
            return
        payment_id = f"{self.name}-f-{symbol}-{int(at.timestamp())}"
        self.payments.append(FundingPayment(payment_id, symbol, amount, rate, qty, mark, at))
        self._dirty = True

    def _liquidate(self, symbol: str, mark: Decimal, at: datetime) -> None:
        for cid in list(self.resting):
            order = self.orders[cid]
            if order.symbol == symbol:
                order.finish(OrderStatus.CANCELLED, at)
                self.resting.remove(cid)
                self._publish(order)
        qty, _ = self.ledger.liquidate(symbol, mark)
        notice = LiquidationNotice(symbol, qty, mark, at)
        self.liquidation_log.append(notice)
        logger.bind(venue=self.name).warning("sim liquidation: {} {} at {}", symbol, qty, mark)
        for queue in self._liq_subs:
            queue.put_nowait(notice)
        self._dirty = True

    def _flow(self, step: int) -> None:
        """Simulated takers trade against the book; resting orders fill as the flow reaches their price."""
        at = self.world.time_of(step)
        for cid in list(self.resting):
            order = self.orders[cid]
            # Only the touch matters here, and nothing was taken from it: takers' consumption lasts one step, and
            # sync visits only steps after the last call. One level instead of twenty keeps resting orders cheap.
            bids, asks = self._levels(order.symbol, step, depth=1)
            assert order.price is not None
            best_bid, best_ask = bids[0].price, asks[0].price
            if order.side is Side.BUY:
                crossed = best_ask <= order.price
                at_touch = order.price >= best_bid
                touch_qty = bids[0].quantity
            else:
                crossed = best_bid >= order.price
                at_touch = order.price <= best_ask
                touch_qty = asks[0].quantity
            if crossed:
                fill = order.remaining
            elif at_touch:
                flow = _dec(round(self.flow_rng.expovariate(1.0), 6)) * touch_qty / 4
                available = flow - order.queue_ahead
                order.queue_ahead = max(ZERO, order.queue_ahead - flow)
                if available <= 0:
                    continue
                fill = min(order.remaining, self.instruments[order.symbol].round_qty(available))
                if fill <= 0:
                    continue
            else:
                continue
            self._fill(order, fill, order.price, maker=True, at=at)
            if order.status.final:
                self.resting.remove(cid)

    def _fill(self, order: SimOrder, qty: Decimal, price: Decimal, *, maker: bool, at: datetime) -> bool:
        """Book a fill; reduce-only fills are clipped so they never increase a position. False if nothing filled."""
        pos_qty = self.ledger.position(order.symbol).qty
        dq = order.side.sign * qty
        if order.reduce_only:
            if pos_qty == 0 or (pos_qty > 0) == (dq > 0):
                order.finish(OrderStatus.EXPIRED, at, RejectReason.REDUCE_ONLY_WOULD_INCREASE)
                self._publish(order)
                return False
            if qty > abs(pos_qty):
                qty = abs(pos_qty)
                dq = order.side.sign * qty
        else:
            fee_rate = self.maker_fee if maker else self.taker_fee
            needed = self.ledger.margin_needed(order.symbol, dq, price, fee_rate, self.default_leverage(order.symbol))
            if needed > self.ledger.cash:
                order.finish(OrderStatus.CANCELLED, at, RejectReason.INSUFFICIENT_MARGIN)
                self._publish(order)
                return False
        fee_rate = self.maker_fee if maker else self.taker_fee
        result = self.ledger.trade(order.symbol, dq, price, fee_rate, self.default_leverage(order.symbol))
        order.add_fill(qty, price, result.fee, maker=maker, at=at)
        if order.reduce_only and not order.status.final and self.ledger.position(order.symbol).qty == 0:
            order.finish(OrderStatus.EXPIRED, at)  # nothing left to reduce
        self._dirty = True
        self._publish(order)
        return True

    # -- faults ------------------------------------------------------------------------------------------------

    def _in_maintenance(self, now: datetime) -> bool:
        return any(w.start <= now < w.start + w.duration for w in self.config.faults.maintenance)

    def _chance(self, probability: Decimal) -> bool:
        return probability > 0 and self.fault_rng.random() < float(probability)

    async def _enter(self, kind: str) -> None:
        """Latency, then the faults that mean 'nothing was done', then catch up with the world."""
        self.calls[kind] = self.calls.get(kind, 0) + 1
        delay = self.latency.get(kind)
        if delay:
            await self.clock.sleep(delay)
        faults = self.config.faults
        if self._in_maintenance(self.clock.now()):
            raise VenueUnavailable("venue under maintenance", venue=self.name, status=503, code="maintenance")
        if self._chance(faults.rate_limit_probability):
            raise RateLimited(
                "too many requests (simulated)", venue=self.name, retry_after=faults.retry_after.total_seconds()
            )
        if self._chance(faults.unavailable_probability):
            raise VenueUnavailable("service unavailable (simulated)", venue=self.name, status=503)
        self.sync()

    def _save(self) -> None:
        if self._dirty and self.state_path is not None:
            persist.save(self, self.state_path)
        self._dirty = False

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
        bids, asks = self._levels(symbol, self.last_step)
        return BBO(symbol, bids[0].price, asks[0].price, bids[0].quantity, asks[0].quantity, self.clock.now())

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
        pos = self.ledger.position(order.symbol).qty
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
        bids, asks = self._levels(order.symbol, self.last_step)
        levels = asks if order.side is Side.BUY else bids
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
            key = (order.symbol, order.side.opposite, level.price)
            self._consumed[key] = self._consumed.get(key, ZERO) + (order.filled_qty - before)

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
        return self._snapshot(symbol)

    async def get_position_snapshots(self, symbols: Sequence[str]) -> Mapping[str, PositionSnapshot]:
        """Several positions in one request (the optional bulk call of the contract)."""
        await self._enter("query")
        self._save()
        return {symbol: self._snapshot(symbol) for symbol in symbols}

    def _snapshot(self, symbol: str) -> PositionSnapshot:
        self._instrument_or_reject(symbol)
        pos = self.ledger.position(symbol)
        mark = self.mark(symbol)
        return PositionSnapshot(
            symbol=symbol,
            quantity=pos.qty,
            entry_price=pos.entry,
            mark_price=mark,
            unrealized_pnl=pos.upnl(mark),
            funding_accrued=pos.funding,
            margin=pos.margin,
            leverage=self.ledger.leverage.get(symbol, self.default_leverage(symbol)),
            liquidation_price=self.ledger.liquidation_price(symbol, self.mmr(symbol)),
            at=self.clock.now(),
        )

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

    def _publish(self, order: SimOrder) -> None:
        if self._order_subs:
            state = order.state()
            for queue in self._order_subs:
                queue.put_nowait(state)

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
