"""The fake's history: seeded, deterministic hourly funding and mark-price candles, served with Lighter's page limits.

Every value is a pure function of (seed, market, time), so a test can compute exactly the rows a download must
return. Funding settles every hour from `HISTORY_START`; each hour's rate is the market's `hourly_rate` moved by a
seeded ±20 % (so it agrees with the live `funding-rates` within the adapter's unit cross-check). Candles open on
multiples of their resolution; their prices move around the market's mid by a seeded ±1 %.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fundarb_venue_lighter.testing.exchange import MarketSpec

__all__ = [
    "CANDLES_PAGE",
    "FUNDINGS_PAGE",
    "HISTORY_START",
    "RESOLUTION_SECONDS",
    "candle",
    "candles_page",
    "funding_rate",
    "fundings_page",
]

HISTORY_START = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())  # seconds
FUNDINGS_PAGE = 750  # the most settlements one `fundings` reply holds
CANDLES_PAGE = 500  # the most candles one `markPriceCandles` reply holds
RESOLUTION_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14_400, "1d": 86_400}
HOUR = 3600


def _unit(seed: int, *parts: object) -> Decimal:
    """A deterministic number in [-1, 1] with 3 decimals."""
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return Decimal(int.from_bytes(digest[:4], "big") % 2001 - 1000) / 1000


def funding_rate(seed: int, spec: MarketSpec, hour: int) -> Decimal:
    """The fraction per hour settled at `hour * 3600` (positive: longs paid)."""
    return spec.hourly_rate * (1 + _unit(seed, "funding", spec.market_id, hour) / 5)


def _window(start: int, end: int, step: int, first: int, last: int, count: int, limit: int) -> range:
    """The newest min(count, limit) multiples of `step` in [start, end] ∩ [first, last], as a range (oldest first)."""
    low = max(start, first)
    high = min(end, last)
    low = -(-low // step) * step
    high = high // step * step
    if high < low or count <= 0:
        return range(0)
    n = min((high - low) // step + 1, count, limit)
    return range(high - (n - 1) * step, high + 1, step)


def fundings_page(
    seed: int, spec: MarketSpec, mark: Decimal, start: int, end: int, count: int, now: int
) -> list[dict[str, Any]]:
    """`fundings` rows for seconds [start, end] (inclusive), the newest `count` (at most 750), oldest first."""
    rows = []
    for at in _window(start, end, HOUR, HISTORY_START, now, count, FUNDINGS_PAGE):
        rate = funding_rate(seed, spec, at // HOUR)
        rows.append(
            {
                "timestamp": at,
                "value": format(abs(rate) * mark, "f"),
                "rate": format(abs(rate) * 100, "f"),  # percent per hour, a magnitude
                "direction": "long" if rate >= 0 else "short",  # the side that paid
            }
        )
    return rows


def candle(seed: int, spec: MarketSpec, step: int, opens: int) -> dict[str, Any]:
    """One mark-price candle opening at `opens` (seconds), as `markPriceCandles` writes it (ms, bare numbers)."""
    tick = Decimal(1).scaleb(-spec.price_decimals)

    def price(*where: object) -> Decimal:
        return (spec.mid * (1 + _unit(seed, "mark", spec.market_id, step, opens, *where) / 100)).quantize(tick)

    o, c = price("o"), price("c")
    h = max(o, c, price("h"))
    low = min(o, c, price("l"))
    return {"t": opens * 1000, "o": float(o), "h": float(h), "l": float(low), "c": float(c), "sc": 60}


def candles_page(
    seed: int, spec: MarketSpec, resolution: str, start_ms: int, end_ms: int, count: int, now: int
) -> list[dict[str, Any]]:
    """Candles opening in [start_ms, end_ms] (inclusive), the newest `count` (at most 500), oldest first."""
    step = RESOLUTION_SECONDS[resolution]
    start = -(-start_ms // 1000)
    end = end_ms // 1000
    return [
        candle(seed, spec, step, opens)
        for opens in _window(start, end, step, HISTORY_START, now - step, count, CANDLES_PAGE)
    ]
