"""The simulated venue's market: its state, and what happens between requests (flow, fills, funding,
liquidations), processed lazily step by step. The request side is `SimVenue` (`venue.py`)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.errors import RateLimited, VenueRejected, VenueUnavailable
from fundarb_core.model import OrderStatus, RejectReason, Side
from fundarb_core.venues._symbols import SymbolMap
from fundarb_core.venues._types import (
    BookLevel,
    Capabilities,
    FundingPayment,
    Instrument,
    LiquidationNotice,
    OrderState,
)
from fundarb_core.venues.sim import persist
from fundarb_core.venues.sim.book import SimOrder, synth_levels
from fundarb_core.venues.sim.catalogue import CATALOGUE, PROFILES
from fundarb_core.venues.sim.config import FaultConfig, SimVenueConfig
from fundarb_core.venues.sim.ledger import Ledger
from fundarb_core.venues.sim.world import SimWorld, stable_seed

__all__ = ["SimMarket"]

ZERO = Decimal(0)
TEN = Decimal(10)
BOOK_DEPTH = 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Levels = tuple[BookLevel, ...]  # one side of a book, best first


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


class SimMarket:
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
        self._synced: tuple[datetime | None, int] = (None, -1)  # (`now`, last step) after the last sync
        self.flow_rng = random.Random(stable_seed(world.seed, "flow", name))
        self.fault_rng = random.Random(stable_seed(config.faults.seed, "faults", name))
        self._seq = 0
        self._consumed: dict[tuple[str, Side], dict[Decimal, Decimal]] = {}  # per book side: price → qty taken
        self._consumed_step = -1
        self._books: dict[tuple[str, int], tuple[list[BookLevel], list[BookLevel]]] = {}  # this step's, by symbol
        # What is left of each book after this step's takers (`_levels`): dropped when a taker consumes a level.
        self._lefts: dict[tuple[str, int, Side], Levels] = {}  # (symbol, depth, side) → that side after takers
        self._order_subs: list[asyncio.Queue[OrderState]] = []
        self._liq_subs: list[asyncio.Queue[LiquidationNotice]] = []
        self._dirty = False
        self._no_entry_faults: FaultConfig | None = None  # the faults last seen to hold none that `_enter` checks
        self._marks: dict[tuple[str, int], Decimal] = {}
        # Per symbol, what a position snapshot keeps between calls: its inputs, then entry, liquidation price and
        # default leverage (see `SimVenue._snapshot`).
        self._snapshot_parts: dict[str, tuple[Any, ...]] = {}
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
        return min(TEN, self.instruments[symbol].max_leverage)

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

    def _levels(self, symbol: str, step: int, depth: int = BOOK_DEPTH) -> tuple[Levels, Levels]:
        """Bids and asks (best first) at `step`, less what takers consumed this step: the same tuples until a taker
        consumes more of that side (`_consumed_level`) or the step changes, so a quote costs no copy of the book."""
        return self._side(symbol, step, Side.BUY, depth), self._side(symbol, step, Side.SELL, depth)

    def _side(self, symbol: str, step: int, side: Side, depth: int = BOOK_DEPTH) -> Levels:
        """One side of the book (resting `side` orders; best first) at `step`, less what takers consumed."""
        if self._consumed_step != step:
            self._consumed.clear()
            self._books.clear()
            self._lefts.clear()
            self._consumed_step = step
        left = self._lefts.get((symbol, depth, side))
        if left is None:
            book = self._books.get((symbol, depth))
            if book is None:  # the synthetic book is the same all step long: built once per step and symbol
                book = self._books[(symbol, depth)] = self._synth_book(symbol, step, depth)
            left = self._lefts[(symbol, depth, side)] = self._left(symbol, side, book[0 if side is Side.BUY else 1])
        return left

    def _synth_book(self, symbol: str, step: int, depth: int) -> tuple[list[BookLevel], list[BookLevel]]:
        """The full synthetic book of `symbol` at `step`, before any taker."""
        mid = self.mark(symbol, step)
        level_qty = CATALOGUE[symbol].level_usd * self.config.liquidity / mid
        return synth_levels(self.instruments[symbol], mid, self.spread_bps, level_qty, depth)

    def _consumed_level(self, symbol: str, side: Side, price: Decimal, qty: Decimal) -> None:
        """A taker took `qty` of the resting `side` level at `price`: gone from the book until the next step."""
        taken = self._consumed.setdefault((symbol, side), {})
        taken[price] = taken.get(price, ZERO) + qty
        for cached in [k for k in self._lefts if k[0] == symbol and k[2] is side]:
            del self._lefts[cached]

    def _left(self, symbol: str, side: Side, levels: list[BookLevel]) -> Levels:
        """The levels of one side (resting `side` orders) minus what takers consumed this step; empty ones dropped.

        If takers emptied every level, the deepest stays (with quantity 0) so that the side still has a price.
        """
        taken = self._consumed.get((symbol, side))
        if not taken:
            return tuple(levels)  # nothing taken this step (every synthetic level has a positive quantity)
        # Takers walk the book from the best level, so what they took is near the top: the rest is kept as it is
        # once every price taken has been met.
        left: list[BookLevel] = []
        pending = len(taken)
        for i, lv in enumerate(levels):
            if not pending:
                left += levels[i:]
                break
            took = taken.get(lv.price)
            if took is None:
                left.append(lv)
                continue
            pending -= 1
            if lv.quantity > took:
                left.append(BookLevel(lv.price, lv.quantity - took))
        if left:
            return tuple(left)
        last = levels[-1]
        return (BookLevel(last.price, last.quantity - taken.get(last.price, ZERO)),)

    def _funding_interval_seconds(self, symbol: str) -> int:
        return int(self.instruments[symbol].funding_interval.total_seconds())

    def next_funding_time(self, symbol: str, now: datetime) -> datetime:
        interval = self._funding_interval_seconds(symbol)
        elapsed = int((now - EPOCH).total_seconds())
        return EPOCH + timedelta(seconds=(elapsed // interval + 1) * interval)

    # -- time passing ------------------------------------------------------------------------------------------

    def sync(self) -> None:
        """Process every step between the last call and now: flow fills, funding, liquidations."""
        now = self.clock.now()
        if now is self._synced[0] and self.last_step == self._synced[1]:
            return  # nothing since the last call: a simulated clock hands out one `now` object per instant
        target = self.world.step_at(now)
        if target <= self.last_step:
            self._synced = (now, self.last_step)
            return
        if not self.resting and not self.ledger.positions:
            self.last_step = target
            self._synced = (now, target)
            return
        for step in range(self.last_step + 1, target + 1):
            self._process_step(step)
            if not self.resting and not self.ledger.positions:
                break
        self.last_step = target
        self._synced = (now, target)

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
        pos_qty = self.ledger.qty(order.symbol)
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
        if order.reduce_only and not order.status.final and self.ledger.qty(order.symbol) == 0:
            order.finish(OrderStatus.EXPIRED, at)  # nothing left to reduce
        self._dirty = True
        self._publish(order)
        return True

    # -- faults ------------------------------------------------------------------------------------------------

    def _in_maintenance(self, now: datetime) -> bool:
        maintenance = self.config.faults.maintenance
        return bool(maintenance) and any(w.start <= now < w.start + w.duration for w in maintenance)

    def _chance(self, probability: Decimal) -> bool:
        return probability > 0 and self.fault_rng.random() < float(probability)

    async def _enter(self, kind: str) -> None:
        """Latency, then the faults that mean 'nothing was done', then catch up with the world."""
        self.calls[kind] = self.calls.get(kind, 0) + 1
        delay = self.latency.get(kind)
        if delay:
            await self.clock.sleep(delay)
        faults = self.config.faults
        if faults is not self._no_entry_faults:  # a venue without them (most) skips the checks
            if self._in_maintenance(self.clock.now()):
                raise VenueUnavailable("venue under maintenance", venue=self.name, status=503, code="maintenance")
            if self._chance(faults.rate_limit_probability):
                raise RateLimited(
                    "too many requests (simulated)", venue=self.name, retry_after=faults.retry_after.total_seconds()
                )
            if self._chance(faults.unavailable_probability):
                raise VenueUnavailable("service unavailable (simulated)", venue=self.name, status=503)
            if not (faults.maintenance or faults.rate_limit_probability > 0 or faults.unavailable_probability > 0):
                self._no_entry_faults = faults  # frozen: none of these while it stays the venue's (no draw skipped)
        self.sync()

    def _save(self) -> None:
        if self._dirty and self.state_path is not None:
            persist.save(self, self.state_path)
        self._dirty = False

    def _publish(self, order: SimOrder) -> None:
        if self._order_subs:
            state = order.state()
            for queue in self._order_subs:
                queue.put_nowait(state)
