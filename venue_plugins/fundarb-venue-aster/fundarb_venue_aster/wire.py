"""Aster's JSON shapes turned into fundarb's value types (and client order ids into Aster's alphabet).

Replies arrive here already validated (`records`); websocket numbers go through `dec`, which refuses non-finite
values. Units are converted with the market's `MarketUnits` (1000-prefixed markets), so what leaves this module is
canonical.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fundarb_core.model import OrderStatus, OrderType, RejectReason, Side, TimeInForce
from fundarb_core.venues import Instrument, OrderState
from fundarb_venue_aster.fees import BASE_TIER_TAKER
from fundarb_venue_aster.records import OrderReply, SymbolInfo, read
from fundarb_venue_aster.symbols import MarketUnits, canonical_for

__all__ = [
    "CLIENT_ID",
    "STATUS",
    "dec",
    "instrument_from",
    "order_state_from",
    "stream_order",
    "time_from_ms",
    "wire_client_id",
]

# newClientOrderId must match this (reference/aster.md "Trading and account").
CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")

STATUS = {
    "NEW": OrderStatus.OPEN,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    # Liquidation statuses of the stream; never an order of ours.
    "NEW_INSURANCE": OrderStatus.FILLED,
    "NEW_ADL": OrderStatus.FILLED,
}
TIME_IN_FORCE = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.IOC, "GTX": TimeInForce.POST_ONLY}
WIRE_TIME_IN_FORCE = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.POST_ONLY: "GTX"}
WIRE_SIDE = {Side.BUY: "BUY", Side.SELL: "SELL"}
SIDE = {"BUY": Side.BUY, "SELL": Side.SELL}


def dec(value: Any, default: str | None = None) -> Decimal:
    """A finite Decimal from Aster's text (or int / Decimal); `default` only where the value is absent.

    Used for websocket events; REST replies go through `records`. Raises ValueError on anything else.
    """
    if (value is None or value == "") and default is not None:
        return Decimal(default)
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"expected a number, found {value!r}")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"expected a finite number, found {value!r}")
    return number


def time_from_ms(value: int | None, fallback: datetime) -> datetime:
    """The time of a validated epoch-milliseconds value (`records.Ms`); `fallback` when absent or 0."""
    return datetime.fromtimestamp(value / 1000, tz=UTC) if value else fallback


def wire_client_id(client_order_id: str) -> str:
    """Return the id sent to Aster: the same text when it fits Aster's regex, else a deterministic hash of it.

    fundarb's own ids (`fa<16 hex>-<n>`) always fit. A longer or stranger id maps to `x-` + 34 hex digits of its
    SHA-256, so that a restart derives the same wire id and can still look the order up.
    """
    if CLIENT_ID.match(client_order_id):
        return client_order_id
    return "x-" + hashlib.sha256(client_order_id.encode()).hexdigest()[:34]


def instrument_from(
    entry: SymbolInfo,
    *,
    funding_hours: Decimal,
    max_leverage: Decimal,
    fees: tuple[Decimal, Decimal] | None,
) -> tuple[Instrument, MarketUnits]:
    """Build the canonical `Instrument` of one `exchangeInfo` symbol from its filters (never its precisions).

    Orders are sent as LIMIT (market orders too: IOC at the worst price), so `LOT_SIZE` is the quantity filter.
    Raises ValueError for a market whose filters fundarb cannot honour exactly.
    """
    price_filter, lot = entry.filter("PRICE_FILTER"), entry.filter("LOT_SIZE")
    if price_filter is None or lot is None or price_filter.tickSize is None or lot.stepSize is None:
        raise ValueError(f"{entry.symbol}: no PRICE_FILTER tickSize or LOT_SIZE stepSize")
    tick, step = price_filter.tickSize, lot.stepSize
    min_price, min_qty = price_filter.minPrice or Decimal(0), lot.minQty or Decimal(0)
    # Aster's grids start at minPrice / minQty; fundarb's at zero. They agree when the minimums are on the grid.
    if min_price % tick != 0 or min_qty % step != 0:
        raise ValueError(f"{entry.symbol}: minimum price/qty off the tick/step grid")
    notional_filter = entry.filter("MIN_NOTIONAL")
    min_notional = Decimal(0)
    if notional_filter is not None:
        min_notional = notional_filter.notional or notional_filter.minNotional or Decimal(0)
    symbol, multiplier = canonical_for(entry.baseAsset)
    if not symbol:
        raise ValueError(f"{entry.symbol}: empty base asset")
    units = MarketUnits(entry.symbol, multiplier)
    percent = entry.filter("PERCENT_PRICE")
    max_orders = entry.filter("MAX_NUM_ORDERS")
    instrument = Instrument(
        symbol=symbol,
        venue_symbol=units.market,
        tick_size=units.price_from_venue(tick),
        step_size=units.qty_from_venue(step),
        min_qty=units.qty_from_venue(min_qty),
        min_notional=min_notional,
        max_leverage=max_leverage,
        funding_interval=timedelta(seconds=int(funding_hours * 3600)),
        # Unread rates are never 0: both at the base tier's taker rate (see `fees.BASE_TIER_TAKER`), flagged.
        maker_fee=fees[0] if fees else BASE_TIER_TAKER,
        taker_fee=fees[1] if fees else BASE_TIER_TAKER,
        extra={
            "fees_known": fees is not None,
            "quantity_multiplier": multiplier,
            "max_qty": units.qty_from_venue(lot.maxQty or Decimal(0)),
            "percent_price": (
                (percent.multiplierDown or Decimal(0), percent.multiplierUp or Decimal(0))
                if percent is not None
                else (Decimal(0), Decimal(0))
            ),
            "max_open_orders": max(0, max_orders.limit or 0) if max_orders is not None else 0,
            "status": entry.status,
        },
    )
    return instrument, units


def order_state_from(
    data: OrderReply,
    *,
    client_order_id: str,
    symbol: str,
    units: MarketUnits,
    intent: OrderType | None,
    fees: Decimal,
    maker_qty: Decimal,
    now: datetime,
) -> OrderState:
    """An order reply (`POST`/`GET`/`DELETE order`, `openOrders`, a stream update) as an `OrderState`."""
    status = STATUS[data.status]
    filled = units.qty_from_venue(data.executedQty)
    avg: Decimal = data.avgPrice
    if avg == 0 and data.executedQty > 0 and data.cumQuote:
        avg = data.cumQuote / data.executedQty
    kind = intent or (OrderType.MARKET if data.type == "MARKET" else OrderType.LIMIT)
    reject: RejectReason | None = RejectReason.OTHER if status is OrderStatus.REJECTED else None
    if data.timeInForce == "GTX" and data.status == "EXPIRED" and filled == 0:
        # A post-only order that would have crossed: Binance-style engines expire it instead of answering -5022
        # ([?] which one Aster does is unconfirmed; both are handled). Nothing traded: report it as refused.
        status, reject = OrderStatus.REJECTED, RejectReason.POST_ONLY_WOULD_CROSS
    return OrderState(
        client_order_id=client_order_id,
        venue_order_id=data.orderId,
        symbol=symbol,
        side=SIDE[data.side],
        type=kind,
        time_in_force=TimeInForce.IOC
        if kind is OrderType.MARKET
        else TIME_IN_FORCE.get(data.timeInForce, TimeInForce.GTC),
        quantity=units.qty_from_venue(data.origQty),
        price=None if kind is OrderType.MARKET or data.price == 0 else units.price_from_venue(data.price),
        reduce_only=data.reduceOnly,
        status=status,
        filled_qty=filled,
        avg_price=units.price_from_venue(avg) if filled > 0 and avg > 0 else None,
        fees=fees,
        maker_qty=maker_qty,
        reject_reason=reject,
        updated_at=time_from_ms(data.updateTime or data.time, now),
    )


def stream_order(o: Mapping[str, Any]) -> OrderReply:
    """An `ORDER_TRADE_UPDATE` event's `o` object as the order reply it describes (validated like one)."""
    fields = {
        "orderId": "i", "symbol": "s", "status": "X", "clientOrderId": "c", "side": "S", "origQty": "q",
        "executedQty": "z", "price": "p", "avgPrice": "ap", "timeInForce": "f", "type": "o", "reduceOnly": "R",
        "updateTime": "T",
    }  # fmt: skip
    return read({name: o[key] for name, key in fields.items() if key in o}, OrderReply)
