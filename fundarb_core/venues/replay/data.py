"""Recorded series held in memory for a replay venue: per symbol, funding settlements and candles, by time.

Times are integer milliseconds since the Unix epoch; the values are kept as text and turned into `Decimal`s only
when the replay reads one (a year of hourly rows for a hundred symbols stays cheap to load). The loader has the store
write that text without the trailing zeros of the column's scale (`tidy`), so that a read is one `Decimal(text)`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from fundarb_core.store.history import HistoryStore

__all__ = ["ReplayData", "Series", "load_replay_data"]

ONE = Decimal(1)


@attrs.define
class Series:
    """One symbol's recorded funding (time, rate text, interval s) and candles (time, o, h, l, c as text).

    `tidy`: every text is already as `dec` would write it (plain notation, no trailing zeros after the point), so
    it is read with `Decimal` alone; otherwise (texts from elsewhere) each goes through `dec`.
    """

    funding_at: list[int] = attrs.field(factory=list)
    funding_rate: list[str] = attrs.field(factory=list)
    funding_interval: list[int] = attrs.field(factory=list)
    candle_at: list[int] = attrs.field(factory=list)
    candles: list[tuple[str, str, str, str]] = attrs.field(factory=list)
    tidy: bool = False
    _candle_cache: tuple[int, tuple[Decimal, ...]] = (-1, ())  # the last candle read, as Decimals
    _rate_cache: tuple[int, Decimal] = (-1, Decimal(0))
    _open_cache: tuple[int, Decimal] = (-1, Decimal(0))

    def open(self, i: int) -> Decimal:
        """Candle `i`'s open as a Decimal (what a tick on the hour reads: the other three are not converted)."""
        if self._candle_cache[0] == i:
            return self._candle_cache[1][0]
        if self._open_cache[0] != i:
            text = self.candles[i][0]
            self._open_cache = (i, Decimal(text) if self.tidy else self.dec(text))
        return self._open_cache[1]

    def candle(self, i: int) -> tuple[Decimal, ...]:
        """Candle `i` as (open, high, low, close) Decimals (the last one asked for is kept: ticks reuse it)."""
        if self._candle_cache[0] != i:
            self._candle_cache = (i, tuple(map(Decimal if self.tidy else self.dec, self.candles[i])))
        return self._candle_cache[1]

    def rate(self, j: int) -> Decimal:
        """Settlement `j`'s rate as a Decimal (the last one asked for is kept)."""
        if self._rate_cache[0] != j:
            text = self.funding_rate[j]
            self._rate_cache = (j, Decimal(text) if self.tidy else self.dec(text))
        return self._rate_cache[1]

    @staticmethod
    def dec(text: str) -> Decimal:
        """The stored text as a tidy `Decimal` (no trailing zeros from the column's scale)."""
        if "." in text and "e" not in text and "E" not in text:  # plain notation: drop the zeros from the text
            return Decimal(text.rstrip("0").rstrip(".") or "0")
        value = Decimal(text)
        return value.quantize(ONE) if value == value.to_integral_value() else value.normalize()

    def last_funding(self, at_ms: int) -> int:
        """Index of the last settlement at or before `at_ms` (−1 if none)."""
        return bisect_right(self.funding_at, at_ms) - 1

    def last_candle(self, at_ms: int) -> int:
        """Index of the last candle opening at or before `at_ms` (−1 if none)."""
        return bisect_right(self.candle_at, at_ms) - 1

    def main_interval(self) -> int | None:
        """The most common funding interval in seconds (None without funding)."""
        if not self.funding_interval:
            return None
        return Counter(self.funding_interval).most_common(1)[0][0]


@attrs.define
class ReplayData:
    """A venue's recorded series by symbol, with the candle resolution in milliseconds."""

    source: str
    resolution_ms: int
    series: dict[str, Series] = attrs.field(factory=dict)

    @property
    def rows(self) -> int:
        return sum(len(s.funding_at) + len(s.candle_at) for s in self.series.values())

    def tradable(self) -> list[str]:
        """Symbols with both funding and candles, sorted."""
        return sorted(s for s, v in self.series.items() if v.funding_at and v.candle_at)


def load_replay_data(
    store: HistoryStore,
    source: str,
    start: datetime,
    end: datetime,
    *,
    resolution: timedelta = timedelta(hours=1),
    symbols: list[str] | None = None,
    lookback: timedelta = timedelta(days=2),
) -> ReplayData:
    """Load `source`'s funding and candles between `start - lookback` (the rate in force at the start) and `end`."""
    from fundarb_core.store.history import to_ms

    def text(column: str) -> str:  # the column as `Series.dec` would write it: no trailing zeros after the point
        plain = f"CAST({column} AS VARCHAR)"
        return f"CASE WHEN contains({plain}, '.') THEN rtrim(rtrim({plain}, '0'), '.') ELSE {plain} END"

    lo, hi = to_ms(start - lookback), to_ms(end + resolution)
    where = "venue = ? AND at_ms >= ? AND at_ms < ?"
    params: list[object] = [source, lo, hi]
    if symbols:
        where += f" AND symbol IN ({', '.join('?' for _ in symbols)})"
        params += symbols
    data = ReplayData(source, int(resolution.total_seconds() * 1000))
    funding = store.rows(
        f"SELECT symbol, at_ms, {text('rate')}, interval_s FROM funding WHERE {where} ORDER BY symbol, at_ms",
        params,
    )
    for symbol, at, rate, interval in funding:
        s = data.series.get(symbol)
        if s is None:
            s = data.series[symbol] = Series(tidy=True)
        s.funding_at.append(at)
        s.funding_rate.append(rate)
        s.funding_interval.append(interval)
    candles = store.rows(
        f"SELECT symbol, at_ms, {text('open')}, {text('high')}, {text('low')}, {text('close')} "
        f"FROM candles WHERE {where} AND resolution_s = ? ORDER BY symbol, at_ms",
        [*params, int(resolution.total_seconds())],
    )
    for symbol, at, o, h, low, c in candles:
        s = data.series.get(symbol)
        if s is None:
            s = data.series[symbol] = Series(tidy=True)
        s.candle_at.append(at)
        s.candles.append((o, h, low, c))
    return data
