"""The venue itself: the async methods of `fundarb_core.venues.Venue`, each to be filled in.

Rules every method follows (the venue contract suite in `fundarb_core.testing` checks them):

- Symbols are canonical base-asset names ("BTC"); map them to the venue's own market names or ids and back
  (`fundarb_core.venues.SymbolMap`). Nothing above this module sees a wire format.
- Every price, quantity, rate and amount is a `Decimal`, parsed from the venue's text, never through float.
- Errors are `fundarb_core.errors` venue errors: `VenueUnavailable` / `RateLimited` when nothing was done (timeout
  before sending, 5xx, maintenance, 429), `VenueRejected` with a `RejectReason` when the venue definitely refused,
  `AmbiguousOutcome` when a request was sent and its reply lost. Carry the HTTP status and the venue's own code.
- Time comes from `context.clock`, never from `time.time()` or `asyncio.sleep()`.
- Secrets stay in `config`; call `.reveal()` only where a request is signed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from fundarb_core.model import Side, TimeInForce
from fundarb_core.venues import (
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
    VenueContext,
)
from fundarb_venue_template.config import TemplateVenueConfig


class TemplateVenue:
    """A venue of kind `template`. Replace each `NotImplementedError` with the venue's API calls."""

    def __init__(self, name: str, config: TemplateVenueConfig, context: VenueContext) -> None:
        self.name = name
        self.config = config
        self.clock = context.clock
        # Announce the streams this venue offers; for each one left False the executor polls instead.
        self.capabilities = Capabilities(order_stream=False, bbo_stream=False, liquidation_stream=False)

    # -- required ----------------------------------------------------------------------------------------------

    async def load_instruments(self) -> Mapping[str, Instrument]:
        """Return every tradable perpetual market by canonical symbol.

        Each `Instrument` carries the venue's market name or id, tick size, step size, minimum quantity, minimum
        notional, maximum leverage and funding interval, all read from the venue (never hard-coded).
        """
        raise NotImplementedError

    async def fetch_funding_rates(self, symbols: Sequence[str] | None = None) -> Mapping[str, FundingRate]:
        """Return the current funding rate of each symbol (all when `symbols` is None).

        The rate is **per the venue's own funding interval**, as the venue reports it, with that interval, the next
        funding time and the mark price; fundarb normalises rates itself.
        """
        raise NotImplementedError

    async def fetch_bbo_prices(self, symbol: str) -> BBO:
        """Return the best bid and ask with their quantities, and when the venue saw them."""
        raise NotImplementedError

    async def fetch_order_book(self, symbol: str, depth: int = 10) -> OrderBook:
        """Return up to `depth` levels per side, best first."""
        raise NotImplementedError

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
        """Place a limit order (GTC, IOC or post-only) and return its state at acknowledgement.

        Send `client_order_id` to the venue: the same id twice must be one order, so a retry after a lost reply
        cannot double the position. A post-only order that would cross is `VenueRejected` with
        `RejectReason.POST_ONLY_WOULD_CROSS`.
        """
        raise NotImplementedError

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
        """Place a market order that never trades beyond `worst_price`; what cannot fill there expires.

        Where the venue has no native price cap, send an IOC limit order at `worst_price`.
        """
        raise NotImplementedError

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        """Cancel an open order by client id and return its final state.

        Cancelling an order that already finished is not an error: return its state unchanged.
        """
        raise NotImplementedError

    async def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """Return the order with this client id (status, filled quantity, average price, fees), or None.

        None means the order never reached the venue: this is how a restart tells a lost order from a live one.
        """
        raise NotImplementedError

    async def get_position_snapshot(self, symbol: str) -> PositionSnapshot:
        """Return the live position: signed quantity (+ long, − short), entry and mark price, PnL, margin.

        A symbol with no position returns quantity 0, not an error.
        """
        raise NotImplementedError

    async def fetch_balance(self) -> Balance:
        """Return the collateral balance: wallet, available, margin used, unrealised PnL."""
        raise NotImplementedError

    async def fetch_funding_payments(self, symbol: str | None, since: datetime) -> Sequence[FundingPayment]:
        """Return funding settlements at or after `since` (all symbols when `symbol` is None), oldest first.

        Each payment has the venue's id for it, so fundarb records each settlement once.
        """
        raise NotImplementedError

    async def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        """Set the leverage for `symbol` and return what the venue applied (capped at its maximum)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Close sessions and sockets, and persist what must survive a restart."""
        raise NotImplementedError

    # -- optional: streams, announced by `capabilities` ----------------------------------------------------

    def order_updates(self) -> AsyncIterator[OrderState]:
        """Stream order state changes as the venue pushes them (set `capabilities.order_stream`).

        Without it, the executor polls `get_order`.
        """
        raise NotImplementedError

    def liquidations(self) -> AsyncIterator[LiquidationNotice]:
        """Stream liquidation notices for this account (set `capabilities.liquidation_stream`).

        Without it, a liquidated leg is found by the monitor's snapshots.
        """
        raise NotImplementedError
