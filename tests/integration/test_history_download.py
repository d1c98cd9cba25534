"""`data download` stores exactly the rows a venue holds, across pages and windows, through rate limits, and an
interrupted download resumes without duplicating or missing a row (sim venue, and a fake venue with page limits)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fundarb_core.app.download import download_history
from fundarb_core.clock import SimClock
from fundarb_core.errors import RateLimited
from fundarb_core.store.history import HistoryStore
from fundarb_core.venues import Capabilities, FundingHistoryEntry, PriceCandle, VenueContext
from fundarb_core.venues.sim import SimVenueConfig, build_sim_venue

START = datetime(2025, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Interrupted(Exception):
    """Stands for a crash or Ctrl-C in the middle of a download."""


class FakeHistoryVenue:
    """A venue holding fixed history, served in pages of at most `page` rows (oldest first, like Aster's
    `fundingRate` with `limit`), with a rate limit of `per_window` requests per `window` of clock time: past it
    a request raises `RateLimited(retry_after=...)` until the window rolls over."""

    capabilities = Capabilities(funding_history=True, price_history=True, simulated=True)

    def __init__(self, clock: SimClock, hours: int, *, page: int = 7, per_window: int = 6) -> None:
        self.clock = clock
        self.page, self.per_window, self.window = page, per_window, timedelta(seconds=10)
        self.funding = {
            s: [FundingHistoryEntry(s, START + i * HOUR, Decimal(i * (k + 1)) / 10**7, HOUR) for i in range(hours)]
            for k, s in enumerate(("BTC", "ETH"))
        }
        self.candles = {
            s: [PriceCandle(s, START + i * HOUR, HOUR, Decimal(100 + i), Decimal(101 + i), Decimal(99 + i),
                            Decimal(100 + i) + Decimal("0.5"), kind="last") for i in range(hours)]
            for s in ("BTC", "ETH")
        }  # fmt: skip
        self.requests = 0
        self.limited = 0
        self.fail_at_request: int | None = None
        self._window_start = clock.now()
        self._in_window = 0

    def _request(self) -> None:
        now = self.clock.now()
        if now - self._window_start >= self.window:
            self._window_start, self._in_window = now, 0
        if self._in_window >= self.per_window:
            self.limited += 1
            retry = (self._window_start + self.window - now).total_seconds()
            raise RateLimited("too many requests", venue="fake", retry_after=retry)
        self._in_window += 1
        self.requests += 1
        if self.fail_at_request is not None and self.requests == self.fail_at_request:
            raise Interrupted

    def _pages(self, rows: Sequence[Any], start: datetime, end: datetime) -> list[Any]:
        out: list[Any] = []
        cursor = start
        while True:
            self._request()
            page = [r for r in rows if cursor <= r.at < end][: self.page]
            out += page
            if len(page) < self.page:
                return out
            cursor = page[-1].at + timedelta(milliseconds=1)

    async def fetch_funding_history(self, symbol: str, start: datetime, end: datetime) -> list[FundingHistoryEntry]:
        return self._pages(self.funding[symbol], start, end)

    async def fetch_price_candles(
        self, symbol: str, resolution: timedelta, start: datetime, end: datetime
    ) -> list[PriceCandle]:
        assert resolution == HOUR
        return self._pages(self.candles[symbol], start, end)


def download(
    venue: Any, store: HistoryStore, clock: SimClock, until: datetime, windows: tuple[int, int] = (20, 30)
) -> Any:
    return clock.run(
        download_history(venue, "v", store, ["BTC", "ETH"], START, until, clock,
                         funding_window=windows[0] * HOUR, candle_window=windows[1] * HOUR)
    )  # fmt: skip


async def test_fake_venue_rows_arrive_exactly_across_pages_rate_limits_and_an_interruption() -> None:
    clock = SimClock(START + timedelta(days=10))
    venue = FakeHistoryVenue(clock, hours=100)
    with HistoryStore.open(None) as store:
        venue.fail_at_request = 23  # in the middle: some windows done, one half-fetched
        with pytest.raises(Interrupted):
            await download(venue, store, clock, START + 100 * HOUR)
        partial = {s: len(store.funding("v", s)) + len(store.candles("v", s)) for s in ("BTC", "ETH")}
        assert 0 < sum(partial.values()) < 400
        before = venue.requests
        venue.fail_at_request = None
        report = await download(venue, store, clock, START + 100 * HOUR)
        for symbol in ("BTC", "ETH"):
            assert store.funding("v", symbol) == venue.funding[symbol]
            assert store.candles("v", symbol) == venue.candles[symbol]
        assert report.added == 400 - sum(partial.values())
        assert venue.limited > 0  # the rate limit was hit ...
        assert report.waits > 0  # ... and waited out
        # Resumed, not restarted: fewer requests than a whole download needs (4 series × ≥ 15 pages).
        assert venue.requests - before < 60
        # Incremental: a second run with nothing new asks for nothing and adds nothing.
        again = await download(venue, store, clock, START + 100 * HOUR)
        assert again.added == 0
        assert all(not part.fetched for part in again.series)


async def test_sim_venue_history_lands_exactly_after_an_interruption() -> None:
    clock = SimClock(START)
    sim = build_sim_venue("sim", SimVenueConfig(symbols=["BTC", "ETH"], profile="lighter-like"), VenueContext(clock))
    await clock.advance(timedelta(hours=12))  # the sim serves only what has happened
    until = START + timedelta(hours=12)
    expected = {
        s: (
            await clock.run(sim.fetch_funding_history(s, START, until)),
            await clock.run(sim.fetch_price_candles(s, HOUR, START, until)),
        )
        for s in ("BTC", "ETH")
    }
    assert all(len(f) == 12 and len(c) == 12 for f, c in expected.values())

    class Flaky:
        """The sim, interrupted at its fourth history request."""

        capabilities = sim.capabilities
        calls = 0

        async def fetch_funding_history(self, *args: Any) -> Any:
            return await self._call(sim.fetch_funding_history(*args))

        async def fetch_price_candles(self, *args: Any) -> Any:
            return await self._call(sim.fetch_price_candles(*args))

        async def _call(self, request: Any) -> Any:
            Flaky.calls += 1
            if Flaky.calls == 4:
                request.close()
                raise Interrupted
            return await request

    with HistoryStore.open(None) as store:
        with pytest.raises(Interrupted):
            await download(Flaky(), store, clock, until, (5, 5))
        report = await download(sim, store, clock, until, (5, 5))
        for symbol, (funding, candles) in expected.items():
            assert store.funding("v", symbol) == list(funding)
            assert store.candles("v", symbol) == list(candles)
        # BTC's funding (windows of 5, 5 and 2 hours) was done before the interruption, and is not fetched again.
        assert report.added == 48 - 12
        assert [p.series for p in report.series if p.fetched] == ["candles", "funding", "candles"]
