"""Funding and mark-price history: exact rows across several pages, the fake's limits, 429 → RateLimited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fundarb_venue_lighter.history import RESOLUTIONS
from fundarb_venue_lighter.testing import FakeLighter
from fundarb_venue_lighter.testing import history as fake_history
from fundarb_venue_lighter.venue import LighterVenue

from fundarb_core.errors import RateLimited, VenueRejected
from fundarb_core.venues import FundingHistoryEntry, PriceCandle

START = datetime(2025, 3, 1, 7, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def test_funding_history_returns_every_settled_hour_across_pages(fake: FakeLighter, venue: LighterVenue) -> None:
    end = START + timedelta(hours=2000)  # 2000 settlements: three pages of at most 750
    rows = await venue.fetch_funding_history("BTC", START, end)
    spec = fake.exchange.markets[1]
    first = datetime(2025, 3, 1, 8, tzinfo=UTC)  # the first whole hour at or after START
    hours = [first + timedelta(hours=k) for k in range(2000)]
    expected = [
        FundingHistoryEntry("BTC", at, fake_history.funding_rate(fake.seed, spec, int(at.timestamp()) // 3600), HOUR)
        for at in hours
    ]
    assert rows == expected
    assert fake.requests["fundings"] == 3
    assert all(r.hourly == r.rate for r in rows)


async def test_negative_rates_come_from_the_direction(fake: FakeLighter, venue: LighterVenue) -> None:
    spec = fake.exchange.markets[0]
    fake.exchange.markets[0] = type(spec)(**{**spec.__dict__, "hourly_rate": Decimal("-0.00002")})
    rows = await venue.fetch_funding_history("ETH", START, START + timedelta(hours=5))
    assert len(rows) == 5
    assert all(r.rate < 0 for r in rows)


async def test_mark_candles_return_exact_rows_across_pages(fake: FakeLighter, venue: LighterVenue) -> None:
    end = START + timedelta(minutes=1234)  # three pages of at most 500
    candles = await venue.fetch_price_candles("ETH", timedelta(minutes=1), START, end)
    spec = fake.exchange.markets[0]
    expected = []
    for k in range(1234):
        opens = START + timedelta(minutes=k)
        raw = fake_history.candle(fake.seed, spec, 60, int(opens.timestamp()))
        o, h, low, c = (Decimal(repr(raw[x])) for x in ("o", "h", "l", "c"))
        expected.append(PriceCandle("ETH", opens, timedelta(minutes=1), o, h, low, c, kind="mark"))
    assert candles == expected
    assert fake.requests["markPriceCandles"] == 3


async def test_an_unserved_resolution_is_refused(venue: LighterVenue) -> None:
    assert timedelta(minutes=3) not in RESOLUTIONS
    with pytest.raises(VenueRejected):
        await venue.fetch_price_candles("ETH", timedelta(minutes=3), START, START + timedelta(hours=1))


async def test_the_history_rate_limit_is_rate_limited_with_retry_after(fake: FakeLighter, venue: LighterVenue) -> None:
    await venue.load_instruments()
    fake.faults.history_per_minute = 2
    with pytest.raises(RateLimited) as info:
        await venue.fetch_funding_history("BTC", START, START + timedelta(hours=2000))  # needs 3 requests
    assert info.value.status == 429
    assert info.value.retry_after is not None
    assert 0 < info.value.retry_after <= 60
