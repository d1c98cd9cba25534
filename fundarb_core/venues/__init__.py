"""The venue contract: the async protocol venue plugins implement, its value types, and the sim venue."""

from __future__ import annotations

from fundarb_core.venues._protocol import REQUIRED_METHODS, Venue, VenueContext
from fundarb_core.venues._symbols import SymbolMap
from fundarb_core.venues._types import (
    BBO,
    Balance,
    BookLevel,
    Capabilities,
    FundingPayment,
    FundingRate,
    Instrument,
    LiquidationNotice,
    OrderBook,
    OrderState,
    PositionSnapshot,
    Rounding,
)

__all__ = [
    "BBO",
    "REQUIRED_METHODS",
    "Balance",
    "BookLevel",
    "Capabilities",
    "FundingPayment",
    "FundingRate",
    "Instrument",
    "LiquidationNotice",
    "OrderBook",
    "OrderState",
    "PositionSnapshot",
    "Rounding",
    "SymbolMap",
    "Venue",
    "VenueContext",
]
