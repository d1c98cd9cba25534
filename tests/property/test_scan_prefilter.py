"""The scanner rules most pairs out on their smoothed spread and fees alone, before pricing the rest of a round trip:
it must return exactly what evaluating every pair in full returns (negative maker fees, i.e. rebates, included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from fundarb_core.config import StrategyConfig
from fundarb_core.strategy.costs import CostModel
from fundarb_core.strategy.scanner import Scanner
from fundarb_core.strategy.signal import SpreadSignal
from fundarb_core.venues import FundingRate, Instrument

NOW = datetime(2026, 1, 1, tzinfo=UTC)
VENUES = ("a", "b", "c")
SYMBOLS = ("BTC", "ETH", "SOL")

hourly_rates = st.decimals(min_value=Decimal("-0.002"), max_value=Decimal("0.002"), places=6)
fees = st.decimals(min_value=Decimal("-0.005"), max_value=Decimal("0.001"), places=5)  # rebates, large ones too
intervals = st.sampled_from([timedelta(hours=1), timedelta(hours=4), timedelta(hours=8)])


@st.composite
def quotes(draw: st.DrawFn) -> dict[str, dict[str, FundingRate]]:
    out: dict[str, dict[str, FundingRate]] = {}
    for venue in VENUES:
        out[venue] = {}
        for symbol in draw(st.lists(st.sampled_from(SYMBOLS), unique=True)):
            interval = draw(intervals)
            per_interval = draw(hourly_rates) * int(interval.total_seconds() // 3600)
            mark = Decimal(100) + draw(st.integers(-20, 20)) / Decimal(100)
            due = NOW + draw(st.sampled_from([timedelta(minutes=10), timedelta(hours=1)]))
            out[venue][symbol] = FundingRate(symbol, per_interval, interval, due, mark)
    return out


@settings(max_examples=100)
@given(
    st.lists(quotes(), min_size=1, max_size=3),
    st.dictionaries(st.sampled_from(VENUES), st.tuples(fees, fees), min_size=len(VENUES)),
    st.decimals(min_value=Decimal(0), max_value=Decimal("2"), places=2),
    st.sampled_from([timedelta(0), timedelta(hours=2)]),
    st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(1)]),
    st.sampled_from([Decimal(0), Decimal(1)]),
)
def test_the_scan_finds_exactly_the_pairs_a_full_evaluation_passes(
    ticks: list[dict[str, dict[str, FundingRate]]],
    venue_fees: dict[str, tuple[Decimal, Decimal]],
    min_net_apr: Decimal,
    window: timedelta,
    maker_share: Decimal,
    spread_bps: Decimal,
) -> None:
    config = StrategyConfig(
        min_net_apr=min_net_apr, max_price_gap=Decimal("0.01"), maker_share=maker_share, slippage_bps=spread_bps,
        half_spread_bps=spread_bps,
    )  # fmt: skip
    instruments = {
        v: {s: Instrument(s, s, Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal(5), Decimal(10),
                          timedelta(hours=1), maker, taker) for s in SYMBOLS}
        for v, (maker, taker) in venue_fees.items()
    }  # fmt: skip
    signal = SpreadSignal(window)
    scanner = Scanner(config, instruments, signal=signal, costs=CostModel(config, instruments))
    for i, rates in enumerate(ticks):
        now = NOW + timedelta(hours=i)
        for venue, venue_rates in rates.items():
            signal.observe(venue, venue_rates, now)
        every = [
            opp
            for long_venue in VENUES
            for short_venue in VENUES
            if long_venue != short_venue
            for symbol in SYMBOLS
            if symbol in rates[long_venue] and symbol in rates[short_venue]
            if (opp := scanner.evaluate(symbol, long_venue, short_venue, rates, now)) is not None
            and opp.net_apr >= min_net_apr
        ]
        every.sort(key=lambda o: (-o.net_apr, o.symbol, o.long_venue))
        assert scanner.scan(rates, now) == every
