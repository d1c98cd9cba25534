"""What execution is asked to do (`OrderSpec`, `CloseLegSpec`) and what it reports back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs

from fundarb_core.model import ExecutionMode, Side
from fundarb_core.venues import PositionSnapshot

__all__ = ["SEEN_POSITION_TRUSTED", "CloseLegSpec", "OrderResult", "OrderSpec"]

ZERO = Decimal(0)
# How long (seconds of the clock, counted when the quote is in) a position a caller saw stays good enough to size a
# reduce-only market order. Only our own orders or the venue (a liquidation, an auto-deleverage) change a position;
# none of ours went out in between. If the venue shrank it meanwhile, the order is refused (the executor then reads
# the position and sends what is left at once) or clipped; the close's snapshot after the order checks the leg.
SEEN_POSITION_TRUSTED = 1.0


@attrs.frozen(kw_only=True)
class OrderSpec:
    """One leg to execute: exact quantity, how to execute it, and how far to let the price go.

    `intent_id` names what the order is for; the executors stamp it (`fundarb_core.execution.ids`), so a spec a
    close policy returns leaves it empty.
    """

    venue: str
    symbol: str
    side: Side
    quantity: Decimal = attrs.field()
    intent_id: str = ""
    mode: ExecutionMode = ExecutionMode.LIMIT_WITH_FALLBACK
    limit_offset_bps: Decimal = Decimal(1)
    timeout: timedelta = timedelta(seconds=30)
    reprice_interval: timedelta = timedelta(seconds=2)
    poll_interval: timedelta = timedelta(milliseconds=500)
    reduce_only: bool = False
    slippage_bps: Decimal = Decimal(50)  # worst acceptable price for market orders: mid ± this
    max_market_attempts: int = 3
    position_id: str | None = None  # for the journal: which position this order belongs to
    # The signed position the caller saw on this leg and when it asked (`clock.monotonic()` before the request):
    # a reduce-only market order sent before any other order of this spec, within `SEEN_POSITION_TRUSTED` seconds of
    # it, is sized from it instead of asking the venue again (one round trip fewer for a close). The close executor
    # stamps it from its own snapshots; without both fields the venue is asked, as always.
    seen_quantity: Decimal | None = None
    seen_at: float | None = None
    # What `quantity` is when the spec's intent ran before (a resumed execution, see `OrderExecutor`): the whole of
    # what the intent is to do (an open, a planned reduction), so what its earlier orders filled counts towards it;
    # or, True, what is left to do now (a close sized from the live position), which those fills already left out.
    remaining_only: bool = False

    @quantity.validator
    def _positive(self, _: attrs.Attribute[Decimal], value: Decimal) -> None:
        if value <= 0:
            raise ValueError(f"quantity must be positive, found {value}")

    def worst_price(self, mid: Decimal) -> Decimal:
        """The slippage cap around `mid` for a market order of this side."""
        factor = self.slippage_bps / 10_000
        return mid * (1 + factor) if self.side is Side.BUY else mid * (1 - factor)


@attrs.frozen(kw_only=True)
class CloseLegSpec(OrderSpec):
    """A leg to close: reduce-only, side and quantity taken from the live snapshot."""

    reduce_only: bool = True

    @classmethod
    def from_snapshot(
        cls, venue: str, snapshot: PositionSnapshot, *, intent_id: str = "", **kwargs: object
    ) -> CloseLegSpec:
        """Close the whole live position: the opposite side, its exact size."""
        if snapshot.quantity == 0:
            raise ValueError(f"{venue} {snapshot.symbol}: nothing to close (position is flat)")
        side = Side.SELL if snapshot.quantity > 0 else Side.BUY
        return cls(
            venue=venue,
            symbol=snapshot.symbol,
            side=side,
            quantity=abs(snapshot.quantity),
            intent_id=intent_id,
            remaining_only=True,  # the live position: what earlier orders of the intent filled is already out of it
            **kwargs,  # type: ignore[arg-type]
        )


@attrs.frozen(kw_only=True)
class OrderResult:
    """What one leg's execution achieved, with its telemetry."""

    spec: OrderSpec
    filled_qty: Decimal = ZERO
    avg_price: Decimal | None = None
    fees: Decimal = ZERO
    maker_qty: Decimal = ZERO
    decision_mid: Decimal | None = None
    client_order_ids: tuple[str, ...] = ()
    decision_at: float = 0.0  # clock.monotonic() when execution was decided
    first_submit_at: float | None = None
    done_at: float = 0.0
    error: str | None = None

    @property
    def remaining(self) -> Decimal:
        return max(ZERO, self.spec.quantity - self.filled_qty)

    @property
    def submit_latency(self) -> float | None:
        """Seconds from decision to first submission."""
        return None if self.first_submit_at is None else self.first_submit_at - self.decision_at

    @property
    def slippage_bps(self) -> Decimal | None:
        """Average fill price against the mid at decision, in bps, positive when worse for us."""
        if self.avg_price is None or not self.decision_mid:
            return None
        diff = (self.avg_price - self.decision_mid) * self.spec.side.sign
        return diff / self.decision_mid * 10_000

    @property
    def maker_share(self) -> Decimal | None:
        return self.maker_qty / self.filled_qty if self.filled_qty else None
