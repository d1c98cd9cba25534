"""Pure units: the error table, symbol mapping, client ids, instruments from filters, the weight limiter."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fundarb_venue_aster.errors import CODES, Kind, VenueHalted, error_for
from fundarb_venue_aster.ratelimit import WeightLimiter
from fundarb_venue_aster.records import RateLimit, SymbolInfo, read
from fundarb_venue_aster.symbols import MarketUnits, canonical_for, format_decimal
from fundarb_venue_aster.wire import CLIENT_ID, instrument_from, wire_client_id

from fundarb_core.clock import SimClock
from fundarb_core.errors import AmbiguousOutcome, RateLimited, VenueRejected, VenueUnavailable
from fundarb_core.model import RejectReason

R = RejectReason

# Every code reference/aster.md lists, with what it must become.
REFERENCE_CODES: list[tuple[int, type[Exception], RejectReason | None]] = [
    (-1000, VenueUnavailable, None),
    (-1003, RateLimited, None),
    (-1021, VenueUnavailable, None),
    (-1022, VenueRejected, R.AUTHENTICATION),
    (-1102, VenueRejected, R.OTHER),
    (-1111, VenueRejected, R.OFF_STEP),
    (-1121, VenueRejected, R.UNKNOWN_SYMBOL),
    (-2010, VenueRejected, R.OTHER),
    (-2011, VenueRejected, R.UNKNOWN_ORDER),
    (-2013, VenueRejected, R.UNKNOWN_ORDER),
    (-2018, VenueRejected, R.INSUFFICIENT_MARGIN),
    (-2019, VenueRejected, R.INSUFFICIENT_MARGIN),
    (-2021, VenueRejected, R.OTHER),
    (-2022, VenueRejected, R.REDUCE_ONLY_WOULD_INCREASE),
    (-2024, VenueRejected, R.REDUCE_ONLY_WOULD_INCREASE),
    (-4003, VenueRejected, R.BELOW_MIN_QUANTITY),
    (-4004, VenueRejected, R.BELOW_MIN_QUANTITY),
    (-4005, VenueRejected, R.OTHER),
    (-4014, VenueRejected, R.OFF_TICK),
    (-4015, VenueRejected, R.OTHER),
    (-4016, VenueRejected, R.PRICE_OUT_OF_BOUNDS),
    (-4024, VenueRejected, R.PRICE_OUT_OF_BOUNDS),
    (-4023, VenueRejected, R.OFF_STEP),
    (-4131, VenueRejected, R.SLIPPAGE),
    (-4164, VenueRejected, R.BELOW_MIN_NOTIONAL),
    (-4225, VenueUnavailable, None),
    (-5022, VenueRejected, R.POST_ONLY_WOULD_CROSS),
]


@pytest.mark.parametrize(("code", "kind", "reason"), REFERENCE_CODES, ids=[str(c[0]) for c in REFERENCE_CODES])
def test_every_reference_code_is_mapped(code: int, kind: type[Exception], reason: RejectReason | None) -> None:
    assert code in CODES
    error = error_for("aster", 400, code, "msg", changes_orders=False)
    assert type(error) is kind, error
    assert error.code == code
    if reason is not None:
        assert isinstance(error, VenueRejected)
        assert error.reason == reason


def test_new_order_rejected_is_refined_by_its_message() -> None:
    error = error_for(
        "aster", 400, -2010, "Account has insufficient balance for requested action.", changes_orders=True
    )
    assert isinstance(error, VenueRejected)
    assert error.reason == R.INSUFFICIENT_MARGIN


@pytest.mark.parametrize("code", [None, -1000, -1006, -1007, -1021])
def test_503_is_ambiguous_for_orders_and_unavailable_for_queries(code: int | None) -> None:
    order = error_for("aster", 503, code, "Service Unavailable.", changes_orders=True, client_order_id="c1")
    assert isinstance(order, AmbiguousOutcome)
    assert order.client_order_id == "c1"
    query = error_for("aster", 503, code, "Service Unavailable.", changes_orders=False)
    assert type(query) is VenueUnavailable
    assert query.transient


def test_status_codes_without_an_aster_code() -> None:
    assert isinstance(error_for("aster", 429, None, "", changes_orders=True, retry_after=3), RateLimited)
    halted = error_for("aster", 418, -1003, "banned", changes_orders=False)
    assert isinstance(halted, VenueHalted)
    assert not halted.transient
    assert type(error_for("aster", 403, None, "WAF", changes_orders=True)) is VenueUnavailable
    assert isinstance(error_for("aster", 502, None, "bad gateway", changes_orders=True), AmbiguousOutcome)
    unknown = error_for("aster", 400, -9999, "new code", changes_orders=True)
    assert isinstance(unknown, VenueRejected)
    assert unknown.reason == R.OTHER


def test_retry_codes_are_clock_codes() -> None:
    assert {code for code, (kind, _) in CODES.items() if kind is Kind.RETRY} == {-1021, -4225}


@pytest.mark.parametrize(
    ("base", "symbol", "multiplier"),
    [
        ("BTC", "BTC", 1),
        ("1000PEPE", "PEPE", 1000),
        ("1000000MOG", "MOG", 1_000_000),
        ("2Z", "2Z", 1),
        ("1INCH", "1INCH", 1),
        ("1000", "1000", 1),
        ("10000X", "10000X", 1),  # 1000 followed by a digit: not a multiplier
        ("1MBABYDOGE", "1MBABYDOGE", 1),  # not understood: stays itself (matches no other venue)
    ],
)
def test_canonical_symbols(base: str, symbol: str, multiplier: int) -> None:
    assert canonical_for(base) == (symbol, Decimal(multiplier))


def test_market_units_round_trip() -> None:
    units = MarketUnits("1000PEPEUSDT", Decimal(1000))
    assert units.qty_to_venue(Decimal(2_000_000)) == 2000
    assert units.qty_from_venue(Decimal(3)) == 3000
    assert units.price_to_venue(Decimal("0.000012")) == Decimal("0.012")
    assert units.price_from_venue(Decimal("0.0123456")) == Decimal("0.0000123456")


@pytest.mark.parametrize(
    ("value", "text"), [("100", "100"), ("1E+2", "100"), ("0.00100", "0.001"), ("1.5E-7", "0.00000015"), ("0", "0")]
)
def test_decimals_are_sent_without_exponents(value: str, text: str) -> None:
    assert format_decimal(Decimal(value)) == text


def test_client_ids() -> None:
    core_style = "fa0123456789abcdef-12"
    assert wire_client_id(core_style) == core_style
    long_id = "x" * 40
    mapped = wire_client_id(long_id)
    assert CLIENT_ID.match(mapped)
    assert mapped == wire_client_id(long_id), "the mapping must be deterministic (restarts look orders up by it)"
    assert wire_client_id("has space") != wire_client_id("has-space")


def entry(**filters: dict[str, Any]) -> SymbolInfo:
    base = {
        "PRICE_FILTER": {"filterType": "PRICE_FILTER", "minPrice": "0.10", "maxPrice": "100000", "tickSize": "0.10"},
        "LOT_SIZE": {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "100", "stepSize": "0.001"},
        "MIN_NOTIONAL": {"filterType": "MIN_NOTIONAL", "notional": "5"},
    }
    base.update(filters)
    data = {"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "status": "TRADING",
            "pricePrecision": 2, "quantityPrecision": 3, "filters": list(base.values())}  # fmt: skip
    return read(data, SymbolInfo)


def test_instrument_grids_come_from_filters_and_round_correctly() -> None:
    instrument, units = instrument_from(entry(), funding_hours=Decimal(4), max_leverage=Decimal(50), fees=None)
    assert (instrument.tick_size, instrument.step_size) == (Decimal("0.1"), Decimal("0.001"))
    assert instrument.funding_interval.total_seconds() == 4 * 3600
    assert instrument.round_price(Decimal("60000.06")) == Decimal("60000.1")
    assert instrument.close_qty(Decimal("-0.0019")) == Decimal("0.001")
    assert units.market == "BTCUSDT"
    # Fee rates unread: never 0, both at the base tier's taker rate, and flagged as assumed.
    assert (instrument.maker_fee, instrument.taker_fee) == (Decimal("0.00035"), Decimal("0.00035"))
    assert instrument.extra["fees_known"] is False


def test_a_market_whose_grid_does_not_start_at_zero_is_refused() -> None:
    off = {"filterType": "PRICE_FILTER", "minPrice": "0.05", "maxPrice": "100000", "tickSize": "0.10"}
    with pytest.raises(ValueError, match="off the tick/step grid"):
        instrument_from(entry(PRICE_FILTER=off), funding_hours=Decimal(8), max_leverage=Decimal(20), fees=None)


async def test_limiter_headroom_priority_and_backoff() -> None:
    clock = SimClock()
    limiter = WeightLimiter("aster", clock, Decimal("0.5"))
    limiter.configure([RateLimit("REQUEST_WEIGHT", "MINUTE", 1, 10)])
    limiter.acquire(5)
    with pytest.raises(RateLimited):
        limiter.acquire(1)
    limiter.acquire(5, priority=True)  # a reduce-only order may spend the reserve
    with pytest.raises(RateLimited):
        limiter.acquire(1, priority=True)
    await clock.advance(60)
    limiter.acquire(1)  # a new minute
    limiter.back_off(3)
    with pytest.raises(RateLimited) as info:
        limiter.acquire(1, priority=True)
    assert info.value.retry_after == 3
    await clock.advance(3)
    limiter.acquire(1)
