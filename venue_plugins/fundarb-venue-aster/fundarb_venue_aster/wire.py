"""Aster's JSON shapes turned into fundarb's value types (and client order ids into Aster's alphabet).

Numbers arrive as strings (sometimes as JSON numbers); every one is parsed into a `Decimal` from its text. Units
are converted with the market's `MarketUnits` (1000-prefixed markets), so what leaves this module is canonical.
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
from fundarb_venue_aster.symbols import MarketUnits, canonical_for

__all__ = [
    "CLIENT_ID",
    "STATUS",
    "dec",
    "instrument_from",
    "order_state_from",
    "stream_order_state",
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


def dec(value: Any, default: str = "0") -> Decimal:
    """A Decimal from Aster's text (or int / Decimal); never through float."""
    if value is None or value == "":
        return Decimal(default)
    if isinstance(value, float):  # json floats are parsed as Decimal by the transport; guard anyway
        return Decimal(repr(value))
    return Decimal(str(value))


def time_from_ms(value: Any, fallback: datetime) -> datetime:
    try:
        ms = int(value)
    except (TypeError, ValueError):
        return fallback
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms > 0 else fallback


def wire_client_id(client_order_id: str) -> str:
    """Return the id sent to Aster: the same text when it fits Aster's regex, else a deterministic hash of it.

    fundarb's own ids (`fa<16 hex>-<n>`) always fit. A longer or stranger id maps to `x-` + 34 hex digits of its
    SHA-256, so that a restart derives the same wire id and can still look the order up.
    """
    if CLIENT_ID.match(client_order_id):
        return client_order_id
    return "x-" + hashlib.sha256(client_order_id.encode()).hexdigest()[:34]


def instrument_from(
    entry: Mapping[str, Any],
    *,
    funding_hours: Decimal,
    max_leverage: Decimal,
    fees: tuple[Decimal, Decimal] | None,
) -> tuple[Instrument, MarketUnits]:
    """Build the canonical `Instrument` of one `exchangeInfo` symbol from its filters (never its precisions).

    Orders are sent as LIMIT (market orders too: IOC at the worst price), so `LOT_SIZE` is the quantity filter.
    Raises ValueError for a market whose filters fundarb cannot honour exactly.
    """
    filters = {f["filterType"]: f for f in entry.get("filters", [])}
    price_filter, lot = filters.get("PRICE_FILTER"), filters.get("LOT_SIZE")
    if price_filter is None or lot is None:
        raise ValueError(f"{entry.get('symbol')}: no PRICE_FILTER or LOT_SIZE")
    tick, step = dec(price_filter["tickSize"]), dec(lot["stepSize"])
    min_price, min_qty = dec(price_filter.get("minPrice")), dec(lot.get("minQty"))
    if tick <= 0 or step <= 0:
        raise ValueError(f"{entry.get('symbol')}: tick {tick} / step {step} not positive")
    # Aster's grids start at minPrice / minQty; fundarb's at zero. They agree when the minimums are on the grid.
    if min_price % tick != 0 or min_qty % step != 0:
        raise ValueError(f"{entry.get('symbol')}: minimum price/qty off the tick/step grid")
    notional_filter = filters.get("MIN_NOTIONAL", {})
    min_notional = dec(notional_filter.get("notional", notional_filter.get("minNotional")))
    symbol, multiplier = canonical_for(str(entry["baseAsset"]))
    units = MarketUnits(str(entry["symbol"]), multiplier)
    percent = filters.get("PERCENT_PRICE", {})
    instrument = Instrument(
        symbol=symbol,
        venue_symbol=units.market,
        tick_size=units.price_from_venue(tick),
        step_size=units.qty_from_venue(step),
        min_qty=units.qty_from_venue(min_qty),
        min_notional=min_notional,
        max_leverage=max_leverage,
        funding_interval=timedelta(seconds=int(funding_hours * 3600)),
        maker_fee=fees[0] if fees else None,
        taker_fee=fees[1] if fees else None,
        extra={
            "quantity_multiplier": multiplier,
            "max_qty": units.qty_from_venue(dec(lot.get("maxQty"))),
            "percent_price": (dec(percent.get("multiplierDown"), "0"), dec(percent.get("multiplierUp"), "0")),
            "max_open_orders": int(filters.get("MAX_NUM_ORDERS", {}).get("limit", 0) or 0),
            "status": str(entry.get("status", "TRADING")),
        },
    )
    return instrument, units


def order_state_from(
    data: Mapping[str, Any],
    *,
    client_order_id: str,
    symbol: str,
    units: MarketUnits,
    intent: OrderType | None,
    fees: Decimal,
    maker_qty: Decimal,
    now: datetime,
) -> OrderState:
    """An order reply (`POST`/`GET`/`DELETE order`, `openOrders`) as an `OrderState`."""
    raw_status = str(data.get("status", "NEW"))
    status = STATUS.get(raw_status, OrderStatus.OPEN)
    filled = units.qty_from_venue(dec(data.get("executedQty")))
    avg = dec(data.get("avgPrice"))
    if avg == 0 and filled > 0 and dec(data.get("cumQuote")) > 0:
        avg = dec(data.get("cumQuote")) / dec(data.get("executedQty"))
    wire_tif = str(data.get("timeInForce", "GTC"))
    kind = intent or (OrderType.MARKET if data.get("type") == "MARKET" else OrderType.LIMIT)
    reject: RejectReason | None = RejectReason.OTHER if status is OrderStatus.REJECTED else None
    if wire_tif == "GTX" and raw_status == "EXPIRED" and filled == 0:
        # A post-only order that would have crossed: Binance-style engines expire it instead of answering -5022
        # ([?] which one Aster does is unconfirmed; both are handled). Nothing traded: report it as refused.
        status, reject = OrderStatus.REJECTED, RejectReason.POST_ONLY_WOULD_CROSS
    price = dec(data.get("price"))
    return OrderState(
        client_order_id=client_order_id,
        venue_order_id=str(data["orderId"]) if data.get("orderId") is not None else None,
        symbol=symbol,
        side=SIDE[str(data["side"])],
        type=kind,
        time_in_force=TimeInForce.IOC if kind is OrderType.MARKET else TIME_IN_FORCE.get(wire_tif, TimeInForce.GTC),
        quantity=units.qty_from_venue(dec(data.get("origQty"))),
        price=None if kind is OrderType.MARKET or price == 0 else units.price_from_venue(price),
        reduce_only=str(data.get("reduceOnly", "false")).lower() == "true",
        status=status,
        filled_qty=filled,
        avg_price=units.price_from_venue(avg) if filled > 0 and avg > 0 else None,
        fees=fees,
        maker_qty=maker_qty,
        reject_reason=reject,
        updated_at=time_from_ms(data.get("updateTime", data.get("time")), now),
    )


def stream_order_state(
    o: Mapping[str, Any],
    *,
    client_order_id: str,
    symbol: str,
    units: MarketUnits,
    intent: OrderType | None,
    fees: Decimal,
    maker_qty: Decimal,
    now: datetime,
) -> OrderState:
    """An `ORDER_TRADE_UPDATE` event's `o` object as an `OrderState` (same rules as `order_state_from`)."""
    cum_qty = dec(o.get("z"))
    data = {
        "status": o.get("X"),
        "executedQty": cum_qty,
        "avgPrice": o.get("ap"),
        "timeInForce": o.get("f"),
        "type": o.get("o"),
        "price": o.get("p"),
        "orderId": o.get("i"),
        "side": o.get("S"),
        "origQty": o.get("q"),
        "reduceOnly": o.get("R"),
        "updateTime": o.get("T"),
    }
    return order_state_from(
        data,
        client_order_id=client_order_id,
        symbol=symbol,
        units=units,
        intent=intent,
        fees=fees,
        maker_qty=maker_qty,
        now=now,
    )
