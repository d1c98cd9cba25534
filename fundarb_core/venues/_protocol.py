"""The Venue protocol: what a venue plugin implements. Nothing above this layer knows a wire format.

There is deliberately no `close_position`: closing is the execution layer's job, built from these primitives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs

from fundarb_core.clock import Clock
from fundarb_core.model import Side, TimeInForce
from fundarb_core.venues._types import (
    BBO,
    Balance,
    Capabilities,
    FundingPayment,
    FundingRate,
    Instrument,
    LiquidationNotice,
    OrderBook,
    OrderState,
    PositionSnapshot,
)

__all__ = ["REQUIRED_METHODS", "Venue", "VenueContext"]

REQUIRED_METHODS: tuple[str, ...] = (
    "load_instruments",
    "fetch_funding_rates",
    "fetch_bbo_prices",
    "fetch_order_book",
    "place_limit_order",
    "place_market_order",
    "cancel_order",
    "get_order",
    "get_position_snapshot",
    "fetch_balance",
    "fetch_funding_payments",
    "set_leverage",
    "close",
)


@attrs.frozen
class VenueContext:
    """What a venue factory receives besides its config: the run's clock, data directory and shared objects.

    `shared` lets venues of one kind share state within a run (the simulated venues share one price world).
    """

    clock: Clock
    data_dir: Path | None = None
    shared: dict[str, Any] = attrs.field(factory=dict, eq=False)


@runtime_checkable
class Venue(Protocol):
    """An async perpetual-futures venue, addressed by canonical symbols ("BTC").

    Errors are `fundarb_core.errors.VenueError` subclasses: `VenueUnavailable`/`RateLimited` (transient, nothing
    done), `VenueRejected` (definite, with a `RejectReason`), `AmbiguousOutcome` (sent, outcome unknown: reconcile
    with `get_order` by client order id before sending anything again).
    """

    name: str
    capabilities: Capabilities

    async def load_instruments(self) -> Mapping[str, Instrument]:
        """Return every tradable market by canonical symbol, with tick, step, minimums and funding interval."""
        ...

    async def fetch_funding_rates(self, symbols: Sequence[str] | None = None) -> Mapping[str, FundingRate]:
        """Return the current funding rate per the venue's own interval, with next funding time and mark."""
        ...

    async def fetch_bbo_prices(self, symbol: str) -> BBO: ...

    async def fetch_order_book(self, symbol: str, depth: int = 10) -> OrderBook: ...

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
        """Place a limit order; return its state at acknowledgement. The same client id twice is one order."""
        ...

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
        """Place a market order that never trades beyond `worst_price`; what cannot fill there expires."""
        ...

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        """Cancel an open order; return its final state (cancelling a finished order returns it unchanged)."""
        ...

    async def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """Return the order with this client id, or None if it never reached the venue."""
        ...

    async def get_position_snapshot(self, symbol: str) -> PositionSnapshot:
        """Return the live position; a missing position is quantity 0."""
        ...

    async def fetch_balance(self) -> Balance: ...

    # Optional methods, each announced by a `Capabilities` flag (a venue without the flag need not have the method):
    #
    # - `bulk_snapshots`:
    #   `async def get_position_snapshots(self, symbols: Sequence[str]) -> Mapping[str, PositionSnapshot]`
    #   returns several positions in one request (what most venues' position endpoints do). The monitor uses it
    #   when announced and falls back to `get_position_snapshot` per symbol otherwise.
    # - `funding_history`:
    #   `async def fetch_funding_history(self, symbol: str, start: datetime, end: datetime)
    #   -> Sequence[FundingHistoryEntry]` returns every rate settled at `start <= at < end`, oldest first, paging
    #   through the venue's limits itself; it raises `RateLimited` (with `retry_after`) when the venue says so.
    # - `price_history`:
    #   `async def fetch_price_candles(self, symbol: str, resolution: timedelta, start: datetime, end: datetime)
    #   -> Sequence[PriceCandle]` returns the candles opening at `start <= at < end`, oldest first, mark prices where
    #   the venue has them (else last-trade prices, `kind="last"`), paging itself.

    async def fetch_funding_payments(self, symbol: str | None, since: datetime) -> Sequence[FundingPayment]:
        """Return funding settlements at or after `since` (all symbols when `symbol` is None), oldest first.

        All of them, or raise a `VenueError`: the core's funding cursor moves past the window of a call that
        returned, so a venue that cannot read the whole window (too many pages) must raise, not return a part.
        """
        ...

    async def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        """Set leverage for `symbol`; return what the venue applied (capped at its maximum)."""
        ...

    def order_updates(self) -> AsyncIterator[OrderState]:
        """Stream order state changes (when `capabilities.order_stream`)."""
        ...

    def liquidations(self) -> AsyncIterator[LiquidationNotice]:
        """Stream liquidation notices (when `capabilities.liquidation_stream`)."""
        ...

    async def close(self) -> None:
        """Release sessions and persist what must survive a restart."""
        ...
