"""The closer's hold guard asks for the best pair of the open positions' symbols alone: `Scanner.best_pairs` with
`symbols` (on `SpreadSignal.hourly` of those symbols) must give exactly the part of the full answer for them, with
ties, missing smoothed rates (the quote's own rate instead), unusable quotes and symbols listed on one venue only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from fundarb_core.strategy.scanner import Scanner
from fundarb_core.strategy.signal import SpreadSignal
from fundarb_core.venues import FundingRate

NOW = datetime(2026, 1, 1, tzinfo=UTC)
VENUES = ("a", "b", "c")
SYMBOLS = ("BTC", "ETH", "SOL", "XRP")

# A few values, so that ties between venues are common; 5 per hour is unusable (beyond the plausible range).
_values = st.sampled_from([Decimal("-0.001"), Decimal(0), Decimal("0.0001"), Decimal("0.0002"), Decimal(5)])
_quotes = st.dictionaries(
    st.sampled_from(VENUES), st.dictionaries(st.sampled_from(SYMBOLS), _values, max_size=len(SYMBOLS)), max_size=3
)
_smoothed = st.dictionaries(
    st.tuples(st.sampled_from(VENUES), st.sampled_from(SYMBOLS)), _values.filter(abs(Decimal(1)).__gt__)
)


def _rate(symbol: str, hourly: Decimal) -> FundingRate:
    return FundingRate(symbol, hourly, timedelta(hours=1), NOW + timedelta(hours=1), Decimal(100))


# A tie between two venues on both sides: no best pair for that symbol, in both answers.
@example(quotes={"a": {"BTC": Decimal("0.0001")}, "b": {"BTC": Decimal("0.0001")}}, smoothed={}, asked=["BTC"])
# A smoothed rate for one venue only: the other venue's quote stands in.
@example(quotes={"a": {"BTC": Decimal(0)}, "b": {"BTC": Decimal("0.0002")}}, smoothed={("b", "BTC"): Decimal("-0.001")},
         asked=["BTC", "ETH"])  # fmt: skip
@given(quotes=_quotes, smoothed=_smoothed, asked=st.lists(st.sampled_from(SYMBOLS), max_size=4))
def test_the_best_pairs_of_some_symbols_are_the_full_answers_part_for_them(
    quotes: dict[str, dict[str, Decimal]], smoothed: dict[tuple[str, str], Decimal], asked: list[str]
) -> None:
    rates = {v: {s: _rate(s, h) for s, h in venue_quotes.items()} for v, venue_quotes in quotes.items()}
    signal = SpreadSignal(timedelta(hours=8))
    for (venue, symbol), value in smoothed.items():
        signal._update((venue, symbol), value, NOW)
    full = Scanner.best_pairs(rates, signal.hourly())
    symbols = set(asked)
    part = Scanner.best_pairs(rates, signal.hourly(rates, symbols), symbols=symbols)
    assert part == {pair for pair in full if pair[0] in symbols}
    assert signal.hourly(rates, symbols) == {
        v: {s: r for s, r in by_symbol.items() if s in symbols}
        for v, by_symbol in signal.hourly().items()
        if v in rates and any(s in symbols for s in by_symbol)
    }
