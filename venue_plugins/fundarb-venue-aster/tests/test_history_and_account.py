"""History (funding rates, mark-price candles), bulk position snapshots, start-up account checks, fees by asset."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fundarb_venue_aster.fees import fee_in_quote
from fundarb_venue_aster.testing import FakeAsterServer
from fundarb_venue_aster.venue import AsterVenue
from loguru import logger

from fundarb_core.errors import ConfigError, RateLimited, VenueRejected
from fundarb_core.model import RejectReason, Side
from fundarb_core.venues import Rounding

from .conftest import V1_KEY, v1_config

DAY = timedelta(days=1)


@pytest.fixture
async def history_fake() -> FakeAsterServer:
    async with FakeAsterServer(seed=3, v1_keys={V1_KEY: "fake-v1-api-secret-fedcba9876543210"}, history_days=400) as s:
        yield s


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


async def test_funding_history_returns_exactly_the_rows_across_pages(
    history_fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    venue = make_venue(v1_config(history_fake))
    end = datetime.now(UTC)
    start = end - timedelta(days=380)  # BTC settles every 8 h: ~1140 rows, two pages of 1000
    entries = await venue.fetch_funding_history("BTC", start, end)
    market = history_fake.exchange.markets["BTCUSDT"]
    expected = [
        r for r in history_fake.history.funding(market, history_fake.exchange.funding_history["BTCUSDT"])
        if _ms(start) <= r["fundingTime"] < _ms(end)
    ]  # fmt: skip
    assert len(expected) > 1000
    assert [(_ms(e.at), e.rate) for e in entries] == [(r["fundingTime"], Decimal(r["fundingRate"])) for r in expected]
    assert {e.interval for e in entries} == {timedelta(hours=8)}
    pages = [p for m, p in history_fake.requests if p.endswith("/fundingRate")]
    assert len(pages) == 2
    two_z = await venue.fetch_funding_history("2Z", end - 2 * DAY, end)
    assert {e.interval for e in two_z} == {timedelta(hours=4)}  # fundingInfo.fundingIntervalHours
    assert 10 <= len(two_z) <= 12


async def test_price_candles_page_by_1500_and_convert_units(
    history_fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    venue = make_venue(v1_config(history_fake))
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=2000)
    candles = await venue.fetch_price_candles("PEPE", timedelta(hours=1), start, end)
    assert len(candles) == 2000
    assert [c.at for c in candles] == [start + timedelta(hours=i) for i in range(2000)]
    rows = history_fake.history.klines(history_fake.exchange.markets["1000PEPEUSDT"], 3_600_000, _ms(end))
    first = next(r for r in rows if r[0] == _ms(start))
    assert candles[0].open == Decimal(first[1]) / 1000  # 1000PEPE prices are per 1000 coins
    assert all(c.kind == "mark" and c.low <= c.open <= c.high for c in candles)
    assert len([p for m, p in history_fake.requests if p.endswith("/markPriceKlines")]) == 2
    with pytest.raises(VenueRejected):
        await venue.fetch_price_candles("BTC", timedelta(minutes=7), start, end)


async def test_a_429_on_history_surfaces_as_rate_limited(
    history_fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    venue = make_venue(v1_config(history_fake))
    await venue.load_instruments()
    history_fake.faults.request_limit, history_fake.faults.request_window = 1, 30.0
    end = datetime.now(UTC)
    with pytest.raises(RateLimited) as info:
        await venue.fetch_funding_history("BTC", end - timedelta(days=380), end)  # the second page is refused
    assert info.value.retry_after is not None
    assert 0 < info.value.retry_after <= 31
    with pytest.raises(RateLimited):  # and the client keeps off for that long (no request sent)
        await venue.fetch_funding_history("BTC", end - DAY, end)
    history_fake.faults.inject(418, -1003, "banned", path="markPriceKlines", headers={"Retry-After": "120"})
    history_fake.faults.request_limit = None
    other = make_venue(v1_config(history_fake), name="other")
    with pytest.raises(RateLimited) as banned:
        await other.fetch_price_candles("BTC", timedelta(hours=1), end - DAY, end)
    assert banned.value.retry_after is not None
    assert banned.value.retry_after > 60


async def test_bulk_snapshots_come_from_one_request(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    venue = make_venue(v1_config(fake))
    assert venue.capabilities.bulk_snapshots
    assert venue.capabilities.funding_history
    assert venue.capabilities.price_history
    instruments = await venue.load_instruments()
    bbo = await venue.fetch_bbo_prices("ETH")
    worst = instruments["ETH"].round_price(bbo.ask * Decimal("1.01"), Rounding.UP)
    await venue.place_market_order("ETH", Side.BUY, Decimal("0.5"), worst_price=worst, client_order_id="bulk-1")
    fake.requests.clear()
    snapshots = await venue.get_position_snapshots(["BTC", "ETH", "PEPE"])
    assert [p for _, p in fake.requests] == ["/fapi/v2/positionRisk"]
    assert snapshots["ETH"].quantity == Decimal("0.5")
    assert snapshots["BTC"].quantity == 0
    assert snapshots["PEPE"].mark_price == fake.exchange.markets["1000PEPEUSDT"].mark / 1000
    single = await venue.get_position_snapshot("ETH")
    assert (single.quantity, single.entry_price, single.mark_price) == (
        snapshots["ETH"].quantity, snapshots["ETH"].entry_price, snapshots["ETH"].mark_price
    )  # fmt: skip
    with pytest.raises(VenueRejected) as unknown:
        await venue.get_position_snapshots(["BTC", "NOPE"])
    assert unknown.value.reason == RejectReason.UNKNOWN_SYMBOL


async def test_check_account_refuses_hedge_mode_and_wrong_margin_mode(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    venue = make_venue(v1_config(fake))
    await venue.check_account()  # one-way mode, credentials fine
    account = fake.v1_account(V1_KEY)
    account.dual_side = True
    with pytest.raises(ConfigError, match=r"venues\.aster: the Aster account is in hedge mode"):
        await venue.check_account()
    account.dual_side = False
    account.isolated.add("ETHUSDT")
    strict = make_venue(v1_config(fake, margin_type="cross"), name="strict")
    with pytest.raises(ConfigError) as info:
        await strict.check_account()
    assert info.value.problems == ("venues.strict.margin_type: ETHUSDT not in cross margin mode on Aster",)
    await venue.check_account()  # margin_type "any" (the default) does not check


async def test_check_account_reports_bad_credentials_as_authentication(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    from fundarb_core.secrets import Secret

    venue = make_venue(v1_config(fake, api_key=Secret("unknown-key-1234567890")))
    with pytest.raises(VenueRejected) as info:
        await venue.check_account()
    assert info.value.reason == RejectReason.AUTHENTICATION
    assert "unknown-key-1234567890" not in str(info.value)


def test_fees_by_sign_and_asset() -> None:
    kwargs = {"quote_asset": "USDT", "base_asset": "BTC", "qty": Decimal("0.1"), "price": Decimal(60000), "log": logger}
    # The docs' example shows a negative commission for a fee paid; Binance-style engines send it positive.
    assert fee_in_quote(Decimal("-0.6"), "USDT", rate=Decimal("0.0001"), **kwargs) == Decimal("0.6")
    assert fee_in_quote(Decimal("0.6"), "USDT", rate=Decimal("0.0001"), **kwargs) == Decimal("0.6")
    assert fee_in_quote(Decimal("0.6"), "USDT", rate=Decimal("-0.0001"), **kwargs) == Decimal("-0.6")  # a rebate
    assert fee_in_quote(Decimal("0.00001"), "BTC", rate=Decimal("0.0001"), **kwargs) == Decimal("0.6")
    # An exchange token is not USDT: the fee is counted at the account's rate on the notional, not as 3 USDT.
    assert fee_in_quote(Decimal("3"), "ASTER", rate=Decimal("0.00035"), **kwargs) == Decimal("2.1")
    assert fee_in_quote(Decimal("3"), "BNB", rate=None, **kwargs) == Decimal("3.0")  # the fallback taker rate


async def test_fills_count_fees_in_usdt_whatever_the_reported_sign(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    venue = make_venue(v1_config(fake))
    instruments = await venue.load_instruments()
    bbo = await venue.fetch_bbo_prices("BTC")
    worst = instruments["BTC"].round_price(bbo.ask * Decimal("1.01"), Rounding.UP)
    state = await venue.place_market_order("BTC", Side.BUY, Decimal("0.01"), worst_price=worst, client_order_id="fee-1")
    trades = fake.v1_account(V1_KEY).trades
    paid = sum(Decimal(t["commission"]) for t in trades)
    assert state.fees == paid > 0
    for trade in trades:
        trade["commission"] = "-" + trade["commission"]  # the docs' sign
    venue._final_fees.clear()
    again = await venue.get_order("BTC", "fee-1")
    assert again is not None
    assert again.fees == paid
