"""`SpreadSignal.observe_hourly` folds a tick's rates in a batch (the time since an estimate's last observation
worked out once per distinct time): it must leave every estimate exactly as one `_update` per symbol does, whatever
the order of times (later, the same instant, earlier), the window (none, short, long), and seeded histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from fundarb_core.model.history import FundingHistoryEntry
from fundarb_core.strategy.signal import SpreadSignal

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SYMBOLS = ("A", "B", "C", "D")

_rates = st.decimals(min_value=Decimal("-0.01"), max_value=Decimal("0.01"), places=8, allow_nan=False)
# A tick: when (seconds from T0; repeats and steps back included) and the rates of some of the symbols.
_ticks = st.lists(
    st.tuples(st.integers(min_value=0, max_value=40) .map(lambda k: k * 900), st.dictionaries(
        st.sampled_from(SYMBOLS), _rates, max_size=len(SYMBOLS))),
    max_size=25,
)  # fmt: skip


def _state(signal: SpreadSignal) -> dict[tuple[str, str], tuple[Decimal, datetime, float]]:
    return {key: (e.value, e.at, e.covered) for key, e in signal._estimates.items()}


# The same symbol quoted again at the same instant, before any time has passed: the newer quote wins (`_update`).
@example(window_s=3600, seeded={}, ticks=[(0, {"A": Decimal("0.001")}), (0, {"A": Decimal("0.002")})])
@given(
    window_s=st.sampled_from([0, 1800, 3600, 8 * 3600, 24 * 3600]),
    seeded=st.dictionaries(st.sampled_from(SYMBOLS), st.lists(_rates, min_size=1, max_size=4), max_size=2),
    ticks=_ticks,
)
def test_a_batch_leaves_every_estimate_as_one_update_per_symbol(
    window_s: int, seeded: dict[str, list[Decimal]], ticks: list[tuple[int, dict[str, Decimal]]]
) -> None:
    batch, single = SpreadSignal(timedelta(seconds=window_s)), SpreadSignal(timedelta(seconds=window_s))
    for symbol, history in seeded.items():
        entries = [FundingHistoryEntry(symbol, T0 - (len(history) - k) * timedelta(hours=1), r, timedelta(hours=1))
                   for k, r in enumerate(history)]  # fmt: skip
        batch.seed("v", symbol, entries)
        single.seed("v", symbol, entries)
    for seconds, rates in ticks:
        now = T0 + timedelta(seconds=seconds)
        batch.observe_hourly("v", rates, now)
        for symbol, hourly in rates.items():
            single._update(("v", symbol), hourly, now)
        assert _state(batch) == _state(single)


# The boundaries: no spread (equal estimates), the widest plausible one, and one just beyond it.
@example(estimates={("long", "A"): Decimal("0.001"), ("short", "A"): Decimal("0.001")}, asked=["A"])
@example(estimates={("long", "A"): Decimal("-0.01"), ("short", "A"): Decimal("0.01")}, asked=["A"])
@example(estimates={("long", "A"): Decimal("-0.01"), ("short", "A"): Decimal("0.010001")}, asked=["A"])
@given(
    estimates=st.dictionaries(
        st.tuples(st.sampled_from(("long", "short")), st.sampled_from(SYMBOLS)),
        st.decimals(min_value=Decimal("-0.03"), max_value=Decimal("0.03"), places=6),
    ),
    asked=st.lists(st.sampled_from(SYMBOLS), unique=True),
)
def test_paying_is_every_positive_spread(estimates: dict[tuple[str, str], Decimal], asked: list[str]) -> None:
    signal = SpreadSignal(timedelta(0))
    for (venue, symbol), hourly in estimates.items():
        signal._update((venue, symbol), hourly, T0)
    expected = {}
    for symbol in asked:
        spread = signal.spread(symbol, "long", "short")
        if spread is not None and spread > 0:
            expected[symbol] = spread
    assert signal.paying(asked, "long", "short") == expected
