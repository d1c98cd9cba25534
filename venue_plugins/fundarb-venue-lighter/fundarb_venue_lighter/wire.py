"""Lighter's wire records (`records`, already validated) → fundarb's value types. Pure functions.

Facts marked [?] in the reference could not be confirmed; where one matters here, the code says which reading it
takes and why the other does no harm (or how it would show).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs

from fundarb_core.model import OrderType, Side, TimeInForce
from fundarb_core.venues import Instrument, OrderState
from fundarb_venue_lighter.errors import order_status
from fundarb_venue_lighter.records import Listing, MarketDetail, Order

__all__ = [
    "FUNDING_INTERVAL",
    "Market",
    "instrument_from_detail",
    "max_leverage",
    "order_from_wire",
    "percent_fee",
]

FUNDING_INTERVAL = timedelta(hours=1)  # Lighter settles funding every hour
ZERO = Decimal(0)
MARGIN_FRACTION_SCALE = Decimal(10_000)  # margin fractions are in 1/10000 (10000 = 100 %, 1x)


def percent_fee(value: Decimal) -> Decimal:
    """A fee rate from `orderBooks` as a fraction. [?] The wire value reads as percent ("0.0280" = 0.028 %):
    the same listing's `liquidation_fee` is "1.0000", plausible as 1 % and not as 100 %."""
    return value / 100


def max_leverage(min_initial_margin_fraction: int) -> Decimal:
    """Max leverage = 10000 / min_initial_margin_fraction (e.g. 200 → 50x)."""
    if min_initial_margin_fraction <= 0:
        raise ValueError(f"min_initial_margin_fraction must be positive, found {min_initial_margin_fraction}")
    return MARGIN_FRACTION_SCALE / Decimal(min_initial_margin_fraction)


@attrs.frozen
class Market:
    """What the adapter needs of one Lighter market to build and read transactions."""

    symbol: str
    market_id: int
    size_decimals: int
    price_decimals: int
    min_initial_margin_fraction: int
    default_initial_margin_fraction: int
    maintenance_margin_fraction: int
    maker_fee: Decimal
    taker_fee: Decimal


def instrument_from_detail(detail: MarketDetail, listing: Listing) -> tuple[Instrument, Market]:
    """Build the `Instrument` and `Market` of one `orderBookDetails` entry, with the fees of its `orderBooks` entry.

    Tick and step are 10^-price_decimals and 10^-size_decimals: every order is an integer count of them.
    """
    market = Market(
        symbol=detail.symbol,
        market_id=detail.market_id,
        size_decimals=detail.size_decimals,
        price_decimals=detail.price_decimals,
        min_initial_margin_fraction=detail.min_initial_margin_fraction,
        default_initial_margin_fraction=detail.default_initial_margin_fraction,
        maintenance_margin_fraction=detail.maintenance_margin_fraction,
        maker_fee=percent_fee(listing.maker_fee),
        taker_fee=percent_fee(listing.taker_fee),
    )
    instrument = Instrument(
        symbol=market.symbol,
        venue_symbol=market.symbol,
        tick_size=Decimal(1).scaleb(-market.price_decimals),
        step_size=Decimal(1).scaleb(-market.size_decimals),
        min_qty=detail.min_base_amount,
        min_notional=detail.min_quote_amount,
        max_leverage=max_leverage(market.min_initial_margin_fraction),
        funding_interval=FUNDING_INTERVAL,
        maker_fee=market.maker_fee,
        taker_fee=market.taker_fee,
        # Rates read from the market's `orderBooks` listing (required fields: a listing without them is skipped),
        # never a default: known, in the sense of `Instrument.extra["fees_known"]` (see the Aster adapter).
        extra={"market_id": market.market_id, "fees_known": True},
    )
    return instrument, market


def _time_in_force(wire: str) -> TimeInForce:
    text = wire.lower()
    if "post" in text:
        return TimeInForce.POST_ONLY
    if "immediate" in text or text == "ioc":
        return TimeInForce.IOC
    return TimeInForce.GTC  # good-till-time: fundarb's GTC, with the configured expiry


def order_from_wire(order: Order, *, client_order_id: str, symbol: str, market: Market) -> OrderState:
    """Build an `OrderState` from a Lighter order (`accountActiveOrders`, `accountInactiveOrders`, websocket).

    Lighter's orders carry no fee; the fee is estimated from the market's rates (taker for IOC and market
    orders, maker for post-only; a GTT order is counted as taker, the dearer case). Standard accounts pay 0.
    """
    filled = order.filled_base_amount
    quote = order.filled_quote_amount
    status, reason = order_status(order.status, filled > 0)
    tif = _time_in_force(order.time_in_force)
    kind = OrderType.MARKET if order.type.lower() == "market" else OrderType.LIMIT
    rate = market.maker_fee if tif is TimeInForce.POST_ONLY else market.taker_fee
    return OrderState(
        client_order_id=client_order_id,
        venue_order_id=str(order.order_index),
        symbol=symbol,
        side=Side.SELL if order.is_ask else Side.BUY,
        type=kind,
        time_in_force=tif,
        quantity=order.initial_base_amount,
        price=order.price,
        reduce_only=order.reduce_only,
        status=status,
        filled_qty=filled,
        avg_price=(quote / filled) if filled > 0 else None,
        fees=(quote * rate) if filled > 0 else ZERO,
        maker_qty=filled if tif is TimeInForce.POST_ONLY else ZERO,
        reject_reason=reason,
        updated_at=order.updated_at or order.timestamp,
    )
