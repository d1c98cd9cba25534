"""Funding and price history: `GET /api/v1/fundings` and `GET /api/v1/markPriceCandles`, paged backwards.

What this relies on (lighter-sdk 1.1.8's OpenAPI models and client, and Lighter's public API as third-party clients
document it; no official page states the limits):

- `fundings?market_id&resolution=1h&start_timestamp&end_timestamp&count_back` → `{code, resolution, fundings:
  [{timestamp, value, rate, direction}]}` (the SDK's `Fundings`/`Funding` models: every field required). Times are
  unix **seconds** (the replies' `timestamp` is in seconds, and so are the windows clients send). `rate` is an
  unsigned magnitude in **percent per hour**; `direction` names the side that paid ("long": longs paid shorts,
  a positive rate in fundarb's convention). One reply holds at most `FUNDINGS_PAGE` = 750 settlements, the
  newest inside the window.
- `markPriceCandles?market_id&resolution&start_timestamp&end_timestamp&count_back` → `{code, r, c: [{t, o, h, l, c,
  sc}]}` (the SDK's `MarkPriceCandles` model). Times are unix **milliseconds** (the SDK bounds the window's
  timestamps by 5·10^12, i.e. milliseconds until the year 2128); prices are bare JSON numbers; at most
  `CANDLES_PAGE` = 500 candles per reply (the SDK's `Candles` model: "max 500 per call"), the newest inside the
  window, oldest first. Mark candles are used rather than `candles` (trade prices): the venue contract prefers
  mark prices where a venue has them.
- Both endpoints count against the REST rate limit: a 429 is `RateLimited` with the venue's `Retry-After`.

Each call pages from the end of the window backwards (the next page ends one unit before the oldest row received)
until a page comes back short or reaches the start; rows are returned oldest first, each once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fundarb_core.errors import VenueRejected
from fundarb_core.model import RejectReason
from fundarb_core.venues import FundingHistoryEntry, PriceCandle
from fundarb_venue_lighter.errors import MalformedReply
from fundarb_venue_lighter.funding import hourly_from_fundings
from fundarb_venue_lighter.records import FundingsReply, MarkCandlesReply
from fundarb_venue_lighter.wire import FUNDING_INTERVAL

__all__ = ["CANDLES_PAGE", "FUNDINGS_PAGE", "RESOLUTIONS", "candles", "fundings"]

FUNDINGS_PAGE = 750
CANDLES_PAGE = 500
MAX_PAGES = 10_000  # a bound on any one call (10,000 pages of 500 candles: 9.5 years of minutes)
RESOLUTIONS: dict[timedelta, str] = {
    timedelta(minutes=1): "1m",
    timedelta(minutes=5): "5m",
    timedelta(minutes=15): "15m",
    timedelta(hours=1): "1h",
    timedelta(hours=4): "4h",
    timedelta(days=1): "1d",
}

Get = Callable[[str, type[Any], dict[str, Any]], Awaitable[Any]]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


async def fundings(
    get: Get, *, symbol: str, market_id: int, start: datetime, end: datetime, venue: str
) -> list[FundingHistoryEntry]:
    """Every hourly settlement at `start <= at < end`, oldest first."""
    low = int(start.timestamp())
    high = _ceil_div(int(end.timestamp() * 1000), 1000)  # seconds, covering `end`
    found: dict[datetime, Decimal] = {}
    for _ in range(MAX_PAGES):
        if high < low:
            break
        params = {
            "market_id": market_id,
            "resolution": "1h",
            "start_timestamp": low,
            "end_timestamp": high,
            "count_back": FUNDINGS_PAGE,
        }
        page: FundingsReply = await get("fundings", FundingsReply, params)
        for row in page.fundings:
            rate = hourly_from_fundings(row.rate) * (1 if row.direction == "long" else -1)
            if not start <= row.timestamp < end:
                continue
            if found.setdefault(row.timestamp, rate) != rate:
                raise MalformedReply(
                    f"fundings: two different rates settled at {row.timestamp.isoformat()}",
                    venue=venue,
                    endpoint="fundings",
                    field="reply.fundings.timestamp",
                )
        if len(page.fundings) < FUNDINGS_PAGE:
            break
        oldest = int(min(row.timestamp for row in page.fundings).timestamp())
        if oldest > high:
            raise MalformedReply("fundings: a full page outside its window", venue=venue, endpoint="fundings")
        high = oldest - 1
    return [FundingHistoryEntry(symbol, at, rate, FUNDING_INTERVAL) for at, rate in sorted(found.items())]


async def candles(
    get: Get, *, symbol: str, market_id: int, resolution: timedelta, start: datetime, end: datetime, venue: str
) -> list[PriceCandle]:
    """Every mark-price candle opening at `start <= at < end`, oldest first."""
    name = RESOLUTIONS.get(resolution)
    if name is None:
        served = ", ".join(RESOLUTIONS.values())
        raise VenueRejected(
            f"Lighter serves candles of {served}, not {resolution}", venue=venue, reason=RejectReason.OTHER
        )
    low = int(start.timestamp() * 1000)
    high = _ceil_div(int(end.timestamp() * 1_000_000), 1000)  # milliseconds, covering `end`
    found: dict[datetime, PriceCandle] = {}
    for _ in range(MAX_PAGES):
        if high < low:
            break
        params = {
            "market_id": market_id,
            "resolution": name,
            "start_timestamp": low,
            "end_timestamp": high,
            "count_back": CANDLES_PAGE,
        }
        page: MarkCandlesReply = await get("markPriceCandles", MarkCandlesReply, params)
        for row in page.c:
            if not start <= row.t < end:
                continue
            candle = PriceCandle(symbol, row.t, resolution, row.o, row.h, row.l, row.c, kind="mark")
            if found.setdefault(row.t, candle) != candle:
                raise MalformedReply(
                    f"markPriceCandles: two different candles open at {row.t.isoformat()}",
                    venue=venue,
                    endpoint="markPriceCandles",
                    field="reply.c.t",
                )
        if len(page.c) < CANDLES_PAGE:
            break
        oldest = int(min(row.t for row in page.c).timestamp() * 1000)
        if oldest > high:
            raise MalformedReply(
                "markPriceCandles: a full page outside its window", venue=venue, endpoint="markPriceCandles"
            )
        high = oldest - 1
    return sorted(found.values(), key=lambda c: c.at)
