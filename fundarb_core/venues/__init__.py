"""The venue contract: the async protocol venue plugins implement, its value types, and the sim venue."""

from __future__ import annotations

from fundarb_core.venues._protocol import REQUIRED_METHODS, Venue, VenueContext
from fundarb_core.venues._symbols import SymbolMap
from fundarb_core.venues._types import (
    BBO,
    Balance,
    BookLevel,
    Capabilities,
    FundingHistoryEntry,
    FundingPayment,
    FundingRate,
    Instrument,
    LiquidationNotice,
    OrderBook,
    OrderState,
    PositionSnapshot,
    PriceCandle,
    Rounding,
)

__all__ = [
    "BBO",
    "REQUIRED_METHODS",
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
    "SymbolMap",
    "Venue",
    "VenueContext",
]
