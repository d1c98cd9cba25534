"""Enumerations shared by every layer. Values are the stable strings stored and shown to users."""

from __future__ import annotations

import enum

__all__ = [
    "ExecutionMode",
    "ExitReason",
    "OrderStatus",
    "OrderType",
    "PositionStatus",
    "RejectReason",
    "Side",
    "TimeInForce",
]


class Side(enum.StrEnum):
    """Order side. A long position is opened by BUY and closed by SELL."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        """+1 for BUY, −1 for SELL: the sign of the position change a fill of this side makes."""
        return 1 if self is Side.BUY else -1


class OrderType(enum.StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(enum.StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    POST_ONLY = "post_only"


class OrderStatus(enum.StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        """True when the order can change no more."""
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED)


class RejectReason(enum.StrEnum):
    """Why a venue definitely refused an order. Venue plugins map their own codes onto these."""

    POST_ONLY_WOULD_CROSS = "post_only_would_cross"
    REDUCE_ONLY_WOULD_INCREASE = "reduce_only_would_increase"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    BELOW_MIN_QUANTITY = "below_min_quantity"
    BELOW_MIN_NOTIONAL = "below_min_notional"
    OFF_TICK = "off_tick"
    OFF_STEP = "off_step"
    PRICE_OUT_OF_BOUNDS = "price_out_of_bounds"
    SLIPPAGE = "slippage"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    UNKNOWN_SYMBOL = "unknown_symbol"
    UNKNOWN_ORDER = "unknown_order"
    MAINTENANCE = "maintenance"
    AUTHENTICATION = "authentication"
    LEVERAGE = "leverage"
    OTHER = "other"


class ExecutionMode(enum.StrEnum):
    LIMIT_ONLY = "limit_only"
    LIMIT_WITH_FALLBACK = "limit_with_fallback"
    MARKET_ONLY = "market_only"


class PositionStatus(enum.StrEnum):
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"
    CLOSE_FAILED = "close_failed"
    FAILED = "failed"  # the open never produced a position (both legs flat)


class ExitReason(enum.StrEnum):
    """Why a position is closed; shared by every risk manager and the closer."""

    LEG_LIQUIDATED = "leg_liquidated"
    LIQUIDATION_RISK = "liquidation_risk"
    SEVERE_IMBALANCE = "severe_imbalance"
    DIVERGENCE_FLIPPED = "divergence_flipped"
    SEVERE_EROSION = "severe_erosion"
    PROFIT_EROSION = "profit_erosion"
    TIME_LIMIT = "time_limit"
    MAX_LOSS = "max_loss"
    MANUAL = "manual"
    REBALANCE = "rebalance"
