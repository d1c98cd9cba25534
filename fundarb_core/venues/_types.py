"""Value types of the venue contract. Every price, quantity, rate and amount is a `Decimal`."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

import attrs

from fundarb_core.model import OrderStatus, OrderType, RejectReason, Side, TimeInForce
from fundarb_core.model.history import FundingHistoryEntry, PriceCandle

__all__ = [
    "BBO",
    "Balance",
    "BookLevel",
    "Capabilities",
    "FundingHistoryEntry",
    "FundingPayment",
    "FundingRate",
    "Instrument",
    "LiquidationNotice",
    "OrderBook",
    "OrderState",
    "PositionSnapshot",
    "PriceCandle",
    "Rounding",
]

HOUR = Decimal(3600)


class Rounding(enum.Enum):
    """How to bring a value onto a grid. The caller chooses; none is a silent default for closes."""

    DOWN = ROUND_FLOOR  # towards −∞ (for positive quantities: never more than asked)
    UP = ROUND_CEILING
    NEAREST = ROUND_HALF_EVEN


def _snap(value: Decimal, grid: Decimal, rounding: Rounding) -> Decimal:
    units = (value / grid).to_integral_value(rounding=rounding._value_)  # the attribute: `.value` is a Python call
    return (units * grid).quantize(grid)


def _require_positive(name: str, value: Decimal) -> None:
    if value <= 0:
        raise ValueError(f"{name} must be positive, found {value}")


@attrs.frozen
class Instrument:
    """A market on one venue, under its canonical symbol, with the grids and minimums orders must respect."""

    symbol: str
    venue_symbol: str
    tick_size: Decimal = attrs.field(validator=lambda _, a, v: _require_positive(a.name, v))
    step_size: Decimal = attrs.field(validator=lambda _, a, v: _require_positive(a.name, v))
    min_qty: Decimal
    min_notional: Decimal
    max_leverage: Decimal
    funding_interval: timedelta
    maker_fee: Decimal | None = None  # fee rates where the venue reports them (None: unknown)
    taker_fee: Decimal | None = None
    # Venue-specific extras (market index, quantity multiplier for 1000-prefixed markets, ...).
    extra: dict[str, Any] = attrs.field(factory=dict, eq=False)

    def round_price(self, price: Decimal, rounding: Rounding = Rounding.NEAREST) -> Decimal:
        """Return `price` on the tick grid."""
        return _snap(price, self.tick_size, rounding)

    def round_qty(self, quantity: Decimal, rounding: Rounding = Rounding.DOWN) -> Decimal:
        """Return a non-negative `quantity` on the step grid (down by default: never more than asked)."""
        if quantity < 0:
            raise ValueError(f"quantity must not be negative, found {quantity}")
        return _snap(quantity, self.step_size, rounding)

    def close_qty(self, live_qty: Decimal) -> Decimal:
        """The largest on-grid quantity a reduce-only order may send to close a position of `live_qty`.

        Never above the live size: rounding is always down.
        """
        return self.round_qty(abs(live_qty), Rounding.DOWN)

    def on_tick(self, price: Decimal) -> bool:
        return price > 0 and (price % self.tick_size) == 0

    def on_step(self, quantity: Decimal) -> bool:
        return quantity > 0 and (quantity % self.step_size) == 0

    def check_order(
        self, quantity: Decimal, price: Decimal | None, *, reduce_only: bool = False
    ) -> RejectReason | None:
        """Return why a venue would refuse this order's size or price, or None if it fits the grids.

        Reduce-only orders are exempt from the minimum notional (venues let a dust position be closed).
        """
        if not self.on_step(quantity):
            return RejectReason.OFF_STEP
        if price is not None and not self.on_tick(price):
            return RejectReason.OFF_TICK
        if quantity < self.min_qty:
            return RejectReason.BELOW_MIN_QUANTITY
        if price is not None and not reduce_only and quantity * price < self.min_notional:
            return RejectReason.BELOW_MIN_NOTIONAL
        return None

    def min_qty_at(self, price: Decimal) -> Decimal:
        """The smallest on-grid quantity that satisfies both minimums at `price`."""
        by_notional = self.round_qty(self.min_notional / price, Rounding.UP) if price > 0 else self.min_qty
        return max(self.round_qty(self.min_qty, Rounding.UP), by_notional)


@attrs.frozen
class FundingRate:
    """A venue's funding rate **per its own interval**, as it reports it; compare venues with `hourly`."""

    symbol: str
    rate: Decimal
    interval: timedelta
    next_funding_time: datetime
    mark_price: Decimal
    index_price: Decimal | None = None

    @property
    def hourly(self) -> Decimal:
        """The rate normalised to one hour."""
        return self.rate * HOUR / Decimal(int(self.interval.total_seconds()))

    @property
    def apr(self) -> Decimal:
        """The rate as a simple annual rate (hourly × 8760)."""
        return self.hourly * 8760


@attrs.frozen
class BBO:
    """Best bid and offer."""

    symbol: str
    bid: Decimal
    ask: Decimal
    bid_qty: Decimal
    ask_qty: Decimal
    at: datetime

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread_bps(self) -> Decimal:
        return (self.ask - self.bid) / self.mid * 10_000


@attrs.frozen
class BookLevel:
    price: Decimal
    quantity: Decimal


@attrs.frozen
class OrderBook:
    """Bids best first (descending), asks best first (ascending)."""

    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    at: datetime

    @property
    def mid(self) -> Decimal:
        return (self.bids[0].price + self.asks[0].price) / 2

    def depth_within(self, side: Side, quantity: Decimal) -> tuple[Decimal, Decimal] | None:
        """Walk the book as a taker of `side`; return (average price, worst price), or None if too thin."""
        levels = self.asks if side is Side.BUY else self.bids
        remaining, cost, worst = quantity, Decimal(0), None
        for level in levels:
            take = min(remaining, level.quantity)
            cost += take * level.price
            remaining -= take
            worst = level.price
            if remaining <= 0:
                assert worst is not None
                return cost / quantity, worst
        return None


@attrs.frozen
class OrderState:
    """An order as the venue knows it. Placing an order returns its state at acknowledgement."""

    client_order_id: str
    venue_order_id: str | None
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    price: Decimal | None
    reduce_only: bool
    status: OrderStatus
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    fees: Decimal = Decimal(0)
    maker_qty: Decimal = Decimal(0)
    reject_reason: RejectReason | None = None
    updated_at: datetime | None = None

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_qty

    @property
    def final(self) -> bool:
        return self.status.final


@attrs.frozen
class PositionSnapshot:
    """A position on one venue. `quantity` is signed: + long, − short, 0 flat (a missing position is 0)."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal | None
    mark_price: Decimal
    unrealized_pnl: Decimal
    funding_accrued: Decimal
    margin: Decimal
    leverage: Decimal
    liquidation_price: Decimal | None
    at: datetime

    @property
    def exposure_usd(self) -> Decimal:
        return abs(self.quantity) * self.mark_price

    @property
    def flat(self) -> bool:
        return self.quantity == 0

    @property
    def side(self) -> Side | None:
        if self.quantity > 0:
            return Side.BUY
        if self.quantity < 0:
            return Side.SELL
        return None

    def liquidation_distance(self) -> Decimal | None:
        """|mark − liquidation| / mark, or None if unknown or flat."""
        if self.liquidation_price is None or self.quantity == 0 or self.mark_price == 0:
            return None
        return abs(self.mark_price - self.liquidation_price) / self.mark_price


@attrs.frozen
class Balance:
    """The account's collateral in the quote asset."""

    asset: str
    wallet: Decimal
    available: Decimal
    margin_used: Decimal
    unrealized_pnl: Decimal
    at: datetime

    @property
    def equity(self) -> Decimal:
        return self.wallet + self.unrealized_pnl


@attrs.frozen
class FundingPayment:
    """One funding settlement: `amount` is signed, + received, − paid."""

    payment_id: str
    symbol: str
    amount: Decimal
    rate: Decimal
    position_qty: Decimal
    mark_price: Decimal
    at: datetime


@attrs.frozen
class LiquidationNotice:
    """The venue closed a position itself."""

    symbol: str
    quantity: Decimal
    price: Decimal
    at: datetime


@attrs.frozen
class Capabilities:
    """What optional parts of the contract a venue offers; where a stream is absent, the executor polls.

    - `order_stream`, `liquidation_stream`: the async streams (`order_updates`, `liquidations`);
    - `bbo_stream`: `fetch_bbo_prices` answers from a market stream while that is current (REST otherwise), so
      callers may ask it as often as they like;
    - `mark_stream`: likewise `fetch_funding_rates` (marks, rates), and snapshots' marks where the venue reads
      them apart from the positions (Lighter);
    - `bulk_snapshots`: `get_position_snapshots(symbols)`, every leg on the venue in one request;
    - `funding_history`: `fetch_funding_history(symbol, start, end)`;
    - `price_history`: `fetch_price_candles(symbol, resolution, start, end)`;
    - `simulated`: the venue runs on the run's clock (sim, replay, a test fake), so the run uses simulated time.
    """

    order_stream: bool = False
    bbo_stream: bool = False
    mark_stream: bool = False
    liquidation_stream: bool = False
    bulk_snapshots: bool = False
    funding_history: bool = False
    price_history: bool = False
    simulated: bool = False
