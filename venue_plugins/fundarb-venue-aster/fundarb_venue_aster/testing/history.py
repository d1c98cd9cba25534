"""The fake Aster's history: seeded, deterministic funding rates and mark-price candles over a configurable range.

`fundingRate` and `markPriceKlines` answer with Aster's page rules: rows ascending; with `startTime` the first
`limit` rows from there, otherwise the last `limit` rows up to `endTime` (or now); `limit` at most 1000 (funding)
or 1500 (klines), larger is refused with -1130. The same seed always gives the same rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fundarb_venue_aster.testing.exchange import ApiError, FakeMarket, fmt

__all__ = ["FUNDING_LIMIT", "KLINE_INTERVALS", "KLINE_LIMIT", "History", "page"]

FUNDING_LIMIT = 1000
KLINE_LIMIT = 1500
KLINE_INTERVALS = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
    "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000,
    "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000,
}  # fmt: skip


def _unit(seed: int, *parts: object) -> Decimal:
    """A deterministic number in [-1, 1) from the seed and `parts`."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return Decimal(int.from_bytes(digest[:4], "big")) / Decimal(2**31) - 1


@dataclass
class History:
    """Rows between `start_ms` (inclusive) and `end_ms` (exclusive), derived from `seed`."""

    seed: int
    start_ms: int
    end_ms: int

    def funding(self, market: FakeMarket, live: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every settlement of `market`: the seeded ones before the live exchange's own, then those."""
        step = market.interval_hours * 3_600_000
        first_live = min((row["fundingTime"] for row in live), default=self.end_ms)
        rows = []
        at = self.start_ms - self.start_ms % step + (step if self.start_ms % step else 0)
        while at < min(self.end_ms, first_live):
            rate = market.funding_rate + _unit(self.seed, market.symbol, at) * Decimal("0.0002")
            mark = market.mark * (1 + _unit(self.seed, market.symbol, "mark", at) / 50)
            rows.append(
                {
                    "symbol": market.symbol,
                    "fundingRate": fmt(rate.quantize(Decimal("0.00000001"))),
                    "fundingTime": at,
                    "markPrice": fmt(mark.quantize(market.tick)),
                }
            )
            at += step
        return rows + sorted(live, key=lambda row: row["fundingTime"])

    def klines(self, market: FakeMarket, step: int, now_ms: int) -> list[list[Any]]:
        """Mark-price candles of `market` opening from the range's start up to now."""
        rows = []
        at = self.start_ms - self.start_ms % step
        end = max(self.end_ms, now_ms)
        while at < end:
            wiggle = [_unit(self.seed, market.symbol, at, i) / 100 for i in range(4)]
            open_, close = (market.mark * (1 + w) for w in wiggle[:2])
            high = max(open_, close) * (1 + abs(wiggle[2]))
            low = min(open_, close) * (1 - abs(wiggle[3]))
            prices = [fmt(p.quantize(market.tick)) for p in (open_, high, low, close)]
            rows.append([at, *prices, "0", at + step - 1, "0", 0, "0", "0", "0"])
            at += step
        return rows


def page(rows: list[Any], time_of: Any, q: dict[str, str], *, default: int, maximum: int) -> list[Any]:
    """Aster's paging of a time series: filter by startTime/endTime (inclusive), then `limit` rows."""
    try:
        limit = int(q.get("limit", str(default)))
        start = int(q["startTime"]) if "startTime" in q else None
        end = int(q["endTime"]) if "endTime" in q else None
    except ValueError:
        raise ApiError(400, -1100, "Illegal characters found in a parameter.") from None
    if not 1 <= limit <= maximum:
        raise ApiError(400, -1130, f"Data sent for parameter 'limit' is not valid (max {maximum}).")
    chosen = [r for r in rows if (start is None or time_of(r) >= start) and (end is None or time_of(r) <= end)]
    return chosen[:limit] if start is not None else chosen[-limit:]
