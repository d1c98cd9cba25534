"""Market history values: settled funding rates and price candles (venues serve them; the history store keeps them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import attrs

__all__ = ["FundingHistoryEntry", "PriceCandle"]

HOUR = Decimal(3600)


@attrs.frozen
class FundingHistoryEntry:
    """One settled funding rate: `rate` per `interval` as the venue reports it (positive: longs pay shorts),
    settled at `at` (UTC)."""

    symbol: str
    at: datetime
    rate: Decimal
    interval: timedelta

    @property
    def hourly(self) -> Decimal:
        """The rate normalised to one hour."""
        return self.rate * HOUR / Decimal(int(self.interval.total_seconds()))


@attrs.frozen
class PriceCandle:
    """One price candle opening at `at` (UTC) and lasting `resolution`; `kind` is "mark" or "last" (trade) prices."""

    symbol: str
    at: datetime
    resolution: timedelta
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    kind: str = "mark"
