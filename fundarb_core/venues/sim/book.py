"""Order-book synthesis around a venue's mid, and resting orders with a queue position."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from fundarb_core.model import OrderStatus, OrderType, RejectReason, Side, TimeInForce
from fundarb_core.venues._types import BookLevel, Instrument, OrderState, Rounding

__all__ = ["LEVEL_SPACING_BPS", "SimOrder", "synth_levels"]

LEVEL_SPACING_BPS = Decimal("0.5")
ZERO = Decimal(0)


def synth_levels(
    instrument: Instrument, mid: Decimal, spread_bps: Decimal, level_qty: Decimal, depth: int
) -> tuple[list[BookLevel], list[BookLevel]]:
    """Bids (best first) and asks (best first) around `mid`: the touch `spread_bps` apart, deeper levels larger."""
    tick = instrument.tick_size
    half = max(tick, mid * spread_bps / 20_000)
    bid = instrument.round_price(mid - half, Rounding.DOWN)
    ask = instrument.round_price(mid + half, Rounding.UP)
    if ask <= bid:
        ask = bid + tick
    gap = max(tick, instrument.round_price(mid * LEVEL_SPACING_BPS / 10_000, Rounding.NEAREST))
    bids, asks = [], []
    for i in range(depth):
        qty = max(instrument.step_size, instrument.round_qty(level_qty * (1 + Decimal(i) / 2)))
        if bid - gap * i > 0:
            bids.append(BookLevel(bid - gap * i, qty))
        asks.append(BookLevel(ask + gap * i, qty))
    return bids, asks


@attrs.define
class SimOrder:
    """A simulated order's mutable life. `state()` freezes it into the contract's `OrderState`."""

    client_order_id: str
    venue_order_id: str
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    price: Decimal | None
    reduce_only: bool
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    filled_qty: Decimal = ZERO
    notional: Decimal = ZERO  # Σ fill quantity × price
    fees: Decimal = ZERO
    maker_qty: Decimal = ZERO
    queue_ahead: Decimal = ZERO
    reject_reason: RejectReason | None = None

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_qty

    def add_fill(self, qty: Decimal, price: Decimal, fee: Decimal, *, maker: bool, at: datetime) -> None:
        self.filled_qty += qty
        self.notional += qty * price
        self.fees += fee
        if maker:
            self.maker_qty += qty
        self.updated_at = at
        if self.filled_qty >= self.quantity:
            self.status = OrderStatus.FILLED
        else:
            self.status = OrderStatus.PARTIALLY_FILLED

    def finish(self, status: OrderStatus, at: datetime, reason: RejectReason | None = None) -> None:
        self.status = status
        self.updated_at = at
        if reason is not None:
            self.reject_reason = reason

    def state(self) -> OrderState:
        avg = self.notional / self.filled_qty if self.filled_qty else None
        return OrderState(
            client_order_id=self.client_order_id,
            venue_order_id=self.venue_order_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            time_in_force=self.time_in_force,
            quantity=self.quantity,
            price=self.price,
            reduce_only=self.reduce_only,
            status=self.status,
            filled_qty=self.filled_qty,
            avg_price=avg,
            fees=self.fees,
            maker_qty=self.maker_qty,
            reject_reason=self.reject_reason,
            updated_at=self.updated_at,
        )
