"""Funding rates: Lighter settles every hour, and its endpoints report rates in different units.

fundarb compares venues by a rate per hour (`FundingRate.hourly`); for Lighter the interval *is* one hour, so the
rate per interval is the hourly rate. Each source is normalised here, and a test cross-checks two of them.

[?] The units below are the reference's readings, not confirmed by Lighter's documentation:
- `funding-rates` → `rate` looks like a fraction normalised to 8 hours (how it is compared with Binance/Bybit
  8-hour rates on the same list): hourly = rate / 8.
- `fundings` (and `positionFunding`, and the websocket's `market_stats`) → `rate` looks like percent per hour:
  hourly = rate / 100.
If a reading were wrong, the two sources would disagree by a factor of 8, 12.5 or 100; `units_agree` detects
exactly that, and the venue logs an error naming both values rather than trading on a rate off by that factor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

__all__ = [
    "hourly_from_funding_rates",
    "hourly_from_fundings",
    "next_funding_time",
    "units_agree",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def hourly_from_funding_rates(rate: Decimal) -> Decimal:
    """`funding-rates` entry → fraction per hour ([?] the wire value is a fraction per 8 hours)."""
    return rate / 8


def hourly_from_fundings(rate: Decimal) -> Decimal:
    """`fundings` / `positionFunding` / `market_stats` rate → fraction per hour ([?] the wire value is % per hour)."""
    return rate / 100


def next_funding_time(now: datetime) -> datetime:
    """The next whole UTC hour strictly after `now` (Lighter settles funding on the hour)."""
    hours = int((now - EPOCH) // HOUR)
    return EPOCH + (hours + 1) * HOUR


def units_agree(a: Decimal, b: Decimal, *, tolerance: Decimal = Decimal("0.25")) -> bool:
    """True when two hourly rates for one market are plausibly the same number (within `tolerance` relatively).

    Tiny rates (below 1e-7 an hour, ~0.09 % a year) always agree: there the readings cannot be told apart.
    """
    if max(abs(a), abs(b)) < Decimal("1e-7"):
        return True
    return abs(a - b) <= tolerance * max(abs(a), abs(b))
