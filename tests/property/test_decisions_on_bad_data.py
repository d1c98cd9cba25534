"""No decision path raises on any market datum: zero, negative, NaN, infinite, huge or missing rates, marks,
intervals, settlement times and books go through the market's filter, the signal, the scanner with its cost model,
the sizer and the exit rules without an exception; what the filter keeps is usable, and what it drops is said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fundarb_core.config import StrategyConfig
from fundarb_core.model import PositionStatus
from fundarb_core.model.records import PositionRecord
from fundarb_core.strategy import PositionView
from fundarb_core.strategy.costs import CostModel
from fundarb_core.strategy.exits import ExitRules, Waterfall
from fundarb_core.strategy.market import rate_problem, usable_hourly
from fundarb_core.strategy.scanner import Scanner
from fundarb_core.strategy.signal import SpreadSignal
from fundarb_core.strategy.sizing import Sizer
from fundarb_core.venues import BBO, FundingRate, Instrument

NOW = datetime(2026, 1, 1, tzinfo=UTC)
VENUES = ("a", "b")

odd_decimals = st.one_of(
    st.sampled_from([Decimal(0), Decimal(-1), Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"),
                     Decimal("-Infinity"), Decimal("1E+999999"), Decimal("1E-999999"), Decimal("-0.0001")]),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e6"), max_value=Decimal("1e6")),
)  # fmt: skip
intervals = st.sampled_from([timedelta(0), timedelta(seconds=-3600), timedelta(microseconds=1), timedelta(hours=1),
                             timedelta(hours=8), timedelta(days=10_000)])  # fmt: skip
times = st.one_of(
    st.sampled_from([NOW, NOW - timedelta(days=30), NOW + timedelta(minutes=5), datetime.min.replace(tzinfo=UTC),
                     datetime.max.replace(tzinfo=UTC)]),
    st.datetimes(timezones=st.just(UTC)),
)  # fmt: skip


@st.composite
def rates(draw: st.DrawFn, symbol: str) -> FundingRate:
    return FundingRate(symbol, draw(odd_decimals), draw(intervals), draw(times), draw(odd_decimals),
                       draw(st.none() | odd_decimals))  # fmt: skip


@st.composite
def markets(draw: st.DrawFn) -> dict[str, dict[str, FundingRate]]:
    out: dict[str, dict[str, FundingRate]] = {}
    for venue in VENUES:
        symbols = draw(st.lists(st.sampled_from(["BTC", "ETH"]), unique=True))  # a symbol may be missing anywhere
        out[venue] = {s: draw(rates(s)) for s in symbols}
    return out


@st.composite
def books(draw: st.DrawFn) -> dict[str, BBO]:
    return {v: BBO("BTC", draw(odd_decimals), draw(odd_decimals), draw(odd_decimals), draw(odd_decimals), NOW)
            for v in draw(st.lists(st.sampled_from(VENUES), unique=True))}  # fmt: skip


def instrument(symbol: str, fee: Decimal | None) -> Instrument:
    return Instrument(symbol, symbol, Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal(5), Decimal(10),
                      timedelta(hours=1), fee, fee)  # fmt: skip


@settings(max_examples=25)  # each example runs every decision path on two ticks: keep the suite's budget
@given(markets(), markets(), books(), st.none() | odd_decimals, st.none() | odd_decimals)
def test_no_decision_path_raises_on_any_market_datum(
    first: dict[str, dict[str, FundingRate]],
    second: dict[str, dict[str, FundingRate]],
    book: dict[str, BBO],
    fee: Decimal | None,
    signal_spread: Any,
) -> None:
    config = StrategyConfig(min_net_apr=Decimal(0))
    instruments = {v: {s: instrument(s, fee) for s in ("BTC", "ETH")} for v in VENUES}
    signal = SpreadSignal(timedelta(hours=2))
    costs = CostModel(config, instruments)
    scanner = Scanner(config, instruments, signal=signal, costs=costs)
    sizer = Sizer(config, instruments)
    rules = Waterfall.of(ExitRules(min_hold=timedelta(0)))
    for i, market in enumerate((first, second)):
        now = NOW + timedelta(hours=2 * i)
        # What the market keeps (its filter) is usable by everything downstream.
        kept = {v: {s: r for s, r in rs.items() if rate_problem(r, now) is None} for v, rs in market.items()}
        for venue_rates in kept.values():
            for r in venue_rates.values():
                assert usable_hourly(r.rate, r.interval) is not None
                assert r.mark_price > 0
        for venue, venue_rates in market.items():
            signal.observe(venue, venue_rates, now)  # unfiltered: the signal filters again
        for opp in scanner.scan(kept, now):
            assert opp.net_apr.is_finite()
            assert opp.cost >= 0
            sizer.quantity(opp)
        Scanner(config, instruments).scan(kept, now)  # without a signal: the latest quotes
        Scanner.best_pairs(market, signal.hourly())
        for long_venue in VENUES:
            for short_venue in VENUES:
                if long_venue == short_venue:
                    continue
                opp = scanner.evaluate("BTC", long_venue, short_venue, market, now, book)
                if opp is not None:
                    assert opp.price_gap <= config.max_price_gap
                costs.round_trip(
                    "BTC",
                    long_venue,
                    short_venue,
                    long_price=fee,
                    short_price=signal_spread,
                    books=book,
                    rates={v: r for v, m in market.items() for r in m.values()},
                    now=now,
                )
                position = PositionRecord("p", "BTC", PositionStatus.OPEN, long_venue, short_venue, Decimal(1000),
                                          created_at=NOW, updated_at=NOW, opened_at=NOW)  # fmt: skip
                view = PositionView(
                    position, now, Decimal("0.0001"), signal.spread("BTC", long_venue, short_venue),
                    {v: m["BTC"] for v, m in market.items() if "BTC" in m}, {}, signal_spread=signal_spread,
                )  # fmt: skip
                decision = rules.should_exit(view)
                assert decision.exit is (decision.reason is not None)
