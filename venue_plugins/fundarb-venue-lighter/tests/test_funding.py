"""Funding is hourly and normalised; two of Lighter's sources, in their different units, agree after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fundarb_venue_lighter import venue as venue_module
from fundarb_venue_lighter.funding import (
    hourly_from_funding_rates,
    hourly_from_fundings,
    next_funding_time,
    units_agree,
)
from fundarb_venue_lighter.testing import FakeLighter
from fundarb_venue_lighter.venue import LighterVenue
from hypothesis import given
from hypothesis import strategies as st

from fundarb_core.errors import VenueUnavailable
from fundarb_core.model import Side


async def test_funding_rates_and_fundings_agree_once_normalised(fake: FakeLighter, venue: LighterVenue) -> None:
    rates = await venue.fetch_funding_rates()
    assert set(rates) == {"ETH", "BTC", "SOL", "DOGE"}
    now = datetime.now(UTC)
    for symbol, rate in rates.items():
        assert rate.interval == timedelta(hours=1)
        assert rate.hourly == rate.rate
        market_id = venue._markets[symbol].market_id
        # `fundings` (percent per hour, a magnitude and the side that paid) against `funding-rates` (per 8 h).
        settled = await venue.fetch_funding_history(symbol, now - timedelta(hours=3), now)
        assert settled, symbol
        assert units_agree(rate.hourly, settled[-1].hourly), (symbol, rate.hourly, settled[-1].hourly)
        assert rate.hourly == fake.exchange.markets[market_id].hourly_rate  # and both are what the venue charges


def test_a_wrong_unit_reading_is_detected() -> None:
    wire_8h, wire_percent_hourly = Decimal("0.0008"), Decimal("0.01")  # both mean 0.0001 an hour
    assert units_agree(hourly_from_funding_rates(wire_8h), hourly_from_fundings(wire_percent_hourly))
    assert not units_agree(wire_8h, hourly_from_fundings(wire_percent_hourly))  # forgot the 8 h
    assert not units_agree(hourly_from_funding_rates(wire_8h), wire_percent_hourly)  # forgot the percent


# hypothesis takes naive bounds and attaches the time zone itself.
@given(st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)))  # noqa: DTZ001
def test_next_funding_is_the_next_whole_hour(now: datetime) -> None:
    nxt = next_funding_time(now)
    assert now < nxt <= now + timedelta(hours=1)
    assert (nxt.minute, nxt.second, nxt.microsecond) == (0, 0, 0)


async def test_funding_payments_come_from_position_funding(fake: FakeLighter, venue: LighterVenue) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    await venue.place_market_order("BTC", Side.BUY, Decimal("0.01"), worst_price=Decimal(61000), client_order_id="f")
    hour = 3_600_000
    at_ms = (int(datetime.now(UTC).timestamp() * 1000) // hour + 1) * hour
    fake.exchange.settle_funding(at_ms)
    fake.exchange.settle_funding(at_ms + hour)
    payments = await venue.fetch_funding_payments("BTC", start)
    assert len(payments) == 2
    assert payments[0].at < payments[1].at
    for payment in payments:
        # Long, positive rate: pays 0.01 × 60000 × 0.00001.
        assert payment.amount == Decimal("-0.006")
        assert payment.rate == Decimal("0.00001")
        assert payment.position_qty == Decimal("0.01")
        assert payment.mark_price == Decimal("60000")
    assert len({p.payment_id for p in payments}) == 2
    assert await venue.fetch_funding_payments("BTC", payments[1].at + timedelta(seconds=1)) == []
    snapshot = await venue.get_position_snapshot("BTC")
    assert snapshot.funding_accrued == Decimal("-0.012")


async def test_a_funding_window_too_long_to_read_whole_raises(
    fake: FakeLighter, venue: LighterVenue, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    await venue.place_market_order("BTC", Side.BUY, Decimal("0.01"), worst_price=Decimal(61000), client_order_id="w")
    hour = 3_600_000
    at_ms = (int(datetime.now(UTC).timestamp() * 1000) // hour + 1) * hour
    for n in range(3):
        fake.exchange.settle_funding(at_ms + n * hour)
    monkeypatch.setattr(venue_module, "FUNDING_PAGE", 1)  # one settlement per page
    monkeypatch.setattr(venue_module, "FUNDING_PAGES", 2)
    with pytest.raises(VenueUnavailable, match="more than 2 pages"):
        await venue.fetch_funding_payments(None, start)
    monkeypatch.setattr(venue_module, "FUNDING_PAGES", 3)  # exactly enough pages: all of them
    assert len(await venue.fetch_funding_payments(None, start)) == 3
