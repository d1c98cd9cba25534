"""The replay loader has the history store write its numbers as text without the column's trailing zeros, and the
series then reads them with `Decimal` alone: that must give exactly (digits and exponent) what `Series.dec` gives
for the store's own text, for any number the columns hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from fundarb_core.store.history import HistoryStore
from fundarb_core.venues import FundingHistoryEntry, PriceCandle
from fundarb_core.venues.replay.data import Series, load_replay_data

T0 = datetime(2025, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _numbers(places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=places, allow_nan=False,
                       allow_infinity=False)  # fmt: skip


@settings(max_examples=40, deadline=None)  # each example builds a DuckDB store: keep the suite's budget
@given(rates=st.lists(_numbers(24), min_size=1, max_size=6), prices=st.lists(_numbers(18), min_size=4, max_size=12))
def test_tidy_text_reads_as_dec_reads_the_stored_text(rates: list[Decimal], prices: list[Decimal]) -> None:
    candles = [prices[k : k + 4] for k in range(0, len(prices) - 3, 4)]
    with HistoryStore.open(None) as store:
        store.add_funding("v", [FundingHistoryEntry("X", T0 + k * HOUR, r, HOUR) for k, r in enumerate(rates)])
        store.add_candles(
            "v", [PriceCandle("X", T0 + k * HOUR, HOUR, *c, Decimal(0), "mark") for k, c in enumerate(candles)]
        )
        series = load_replay_data(store, "v", T0, T0 + len(rates) * HOUR + len(candles) * HOUR).series["X"]
        plain_rates = [r for (r,) in store.rows("SELECT CAST(rate AS VARCHAR) FROM funding ORDER BY at_ms", [])]
        plain_candles = store.rows(
            "SELECT CAST(open AS VARCHAR), CAST(high AS VARCHAR), CAST(low AS VARCHAR), CAST(close AS VARCHAR) "
            "FROM candles ORDER BY at_ms", [],
        )  # fmt: skip
    assert series.tidy
    got_rates = [str(series.rate(j)) for j in range(len(rates))]
    assert got_rates == [str(Series.dec(text)) for text in plain_rates]
    assert [Decimal(r) for r in got_rates] == rates  # the same numbers as stored
    for i, plain in enumerate(plain_candles):
        assert [str(v) for v in series.candle(i)] == [str(Series.dec(text)) for text in plain]
        assert str(series.open(i)) == str(Series.dec(plain[0]))
