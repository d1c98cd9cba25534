"""Domain values shared by every layer."""

from __future__ import annotations

from fundarb_core.model._enums import (
    ExecutionMode,
    ExitReason,
    OrderStatus,
    OrderType,
    PositionStatus,
    RejectReason,
    Side,
    TimeInForce,
)

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
