"""Download a venue's funding and price history into the history store: windowed, rate-limit aware, resumable.

A request is cut into windows (30 days of funding, 7 days of candles); the venue pages through its own limits
inside each window. After a window's rows are stored, the window is recorded as downloaded, so an interrupted
download continues from the first window it had not finished, and a later one with the same start fetches only
what is new (incremental). Rows are deduplicated on (venue, symbol, time) by the store, so a window fetched twice
(interrupted between its rows and its record) never duplicates anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.errors import RateLimited, VenueError, VenueUnavailable
from fundarb_core.store.history import HistoryStore, from_ms, to_ms
from fundarb_core.venues import Venue

__all__ = ["DownloadReport", "SeriesReport", "download_history"]

T = TypeVar("T")
FUNDING_WINDOW = timedelta(days=30)
CANDLE_WINDOW = timedelta(days=7)
PUBLISH_LAG = timedelta(hours=1)
MAX_RETRIES = 8
BACKOFF = 1.0  # seconds, doubled per consecutive transient failure (when the venue gave no retry_after)

Progress = Callable[[str, int, int], Any]  # (what, windows done, windows in all)


@attrs.define
class SeriesReport:
    series: str
    symbol: str
    start: datetime
    end: datetime
    fetched: int = 0
    added: int = 0


@attrs.define
class DownloadReport:
    venue: str
    series: list[SeriesReport] = attrs.field(factory=list)
    waits: int = 0  # how many times the venue asked us to slow down (or was briefly unavailable)

    @property
    def added(self) -> int:
        return sum(s.added for s in self.series)


def _floor(at: datetime, step: timedelta) -> datetime:
    ms, step_ms = to_ms(at), int(step.total_seconds() * 1000)
    return from_ms(ms - ms % step_ms)


def _windows(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    out = []
    while start < end:
        out.append((start, min(start + size, end)))
        start += size
    return out


async def _patiently(call: Callable[[], Awaitable[T]], clock: Clock, report: DownloadReport) -> T:
    """Await `call`, waiting (on `clock`) and retrying while the venue rate-limits us or is briefly unavailable."""
    for attempt in range(MAX_RETRIES + 1):
        try:
            return await call()
        except VenueUnavailable as exc:  # RateLimited is one
            if attempt == MAX_RETRIES:
                raise
            delay = exc.retry_after if isinstance(exc, RateLimited) and exc.retry_after else BACKOFF * 2**attempt
            report.waits += 1
            logger.bind(venue=report.venue).info("history: {}; waiting {:.1f} s", exc, delay)
            await clock.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


async def download_history(
    venue: Venue,
    venue_name: str,
    store: HistoryStore,
    symbols: Sequence[str],
    since: datetime,
    until: datetime,
    clock: Clock,
    *,
    resolution: timedelta = timedelta(hours=1),
    funding: bool = True,
    candles: bool = True,
    on_progress: Progress | None = None,
    funding_window: timedelta = FUNDING_WINDOW,
    candle_window: timedelta = CANDLE_WINDOW,
) -> DownloadReport:
    """Fetch `symbols`' funding and candles for `[since, until)` into `store`; see the module docstring.

    A series the venue does not announce (`capabilities.funding_history` / `price_history`) is skipped.
    Raises `VenueError` when the venue keeps failing; what was stored until then stays, and the next call resumes.
    """
    caps = venue.capabilities
    report = DownloadReport(venue_name)
    plan: list[tuple[str, str, list[tuple[datetime, datetime]]]] = []
    candle_end = min(until, _floor(clock.now(), resolution))  # only candles that have closed
    for symbol in symbols:
        if funding and caps.funding_history:
            start = store.downloaded_until(venue_name, "funding", symbol, since)
            plan.append(("funding", symbol, _windows(start, until, funding_window)))
        if candles and caps.price_history:
            start = store.downloaded_until(venue_name, "candles", symbol, since)
            plan.append(("candles", symbol, _windows(start, candle_end, candle_window)))
    if not plan:
        raise VenueError(f"{venue_name} offers no history (funding_history / price_history)", venue=venue_name)
    total = sum(len(w) for _, _, w in plan)
    done = 0
    if on_progress is not None:
        on_progress("", done, total)
    for series, symbol, windows in plan:
        part = SeriesReport(series, symbol, windows[0][0] if windows else since, until)
        report.series.append(part)
        for a, b in windows:
            if series == "funding":
                fetch_f = getattr(venue, "fetch_funding_history")  # noqa: B009 - optional method, announced above
                rows_f = await _patiently(lambda: fetch_f(symbol, a, b), clock, report)  # noqa: B023 - awaited here
                part.fetched += len(rows_f)
                part.added += store.add_funding(venue_name, rows_f)
            else:
                fetch_c = getattr(venue, "fetch_price_candles")  # noqa: B009
                rows_c = await _patiently(lambda: fetch_c(symbol, resolution, a, b), clock, report)  # noqa: B023
                part.fetched += len(rows_c)
                part.added += store.add_candles(venue_name, rows_c)
            # The last hour is stored but not recorded as done: a venue may publish a settlement a little late,
            # and the next run asks for that hour again (the store drops what it already has).
            done_until = min(b, clock.now() - PUBLISH_LAG)
            if done_until > a:
                store.mark_downloaded(venue_name, series, symbol, a, done_until)
            done += 1
            if on_progress is not None:
                on_progress(f"{series} {symbol}", done, total)
    return report
