"""The replay venue puts its marks on the tick grid with `_on_tick` (the price at the context's precision, quantized)
instead of `Instrument.round_price`. Every replay tick is a power of ten (`_grid`), and on such a grid the two must
agree to the digit and the exponent for any price (or refuse it alike): otherwise a backtest's results would move."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from hypothesis import example, given
from hypothesis import strategies as st

from fundarb_core.venues import Instrument
from fundarb_core.venues.replay.venue import _grid, _on_tick

# Prices from a millionth of a dollar to a hundred million; long ones of up to 38 significant digits (an interpolated
# mid carries the context's 28, a recorded open or close up to the store's 38); and halves exactly on the grid's
# midpoints.
_prices = st.decimals(min_value=Decimal("1e-6"), max_value=Decimal("1e8"), allow_nan=False, allow_infinity=False)
_long = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(min_value=1, max_value=10**38 - 1),
    st.integers(min_value=-40, max_value=-10),
)
_halves = st.builds(
    lambda units, exponent: (Decimal(units) + Decimal("0.5")).scaleb(exponent),
    st.integers(min_value=1, max_value=10**9),
    st.integers(min_value=-10, max_value=2),
)


def _instrument(reference: Decimal) -> Instrument:
    tick, step = _grid(reference)
    return Instrument(symbol="X", venue_symbol="X", tick_size=tick, step_size=step, min_qty=step,
                      min_notional=Decimal(5), max_leverage=Decimal(10),
                      funding_interval=timedelta(hours=1))  # fmt: skip


@given(reference=_prices, price=st.one_of(_prices, _long, _halves))
# 29 digits: `round_price` divides in the context's 28 digits first, which rounds this one up to ...500 and then the
# half to even; quantizing the 29 digits at once would round down.
@example(reference=Decimal("12345000000"), price=Decimal("12345499999.999999999999999999"))
@example(reference=Decimal("0.000001"), price=Decimal("1E+18"))  # a result of 29 digits: refused both ways
def test_on_tick_is_round_price_on_a_power_of_ten_grid(reference: Decimal, price: Decimal) -> None:
    instrument = _instrument(reference)
    expected = _outcome(lambda: instrument.round_price(price))
    got = _outcome(lambda: _on_tick(price, instrument.tick_size))
    assert got == expected
    if isinstance(got, Decimal) and isinstance(expected, Decimal):
        assert got.as_tuple() == expected.as_tuple()  # the same digits and exponent: the same text in every report


def _outcome(rounded: Callable[[], Decimal]) -> Decimal | str:
    """The rounded price, or that it cannot be represented (a price so far above its tick that the result needs more
    than the context's 28 digits: both ways refuse it alike)."""
    try:
        return rounded()
    except InvalidOperation:
        return "more digits than the context holds"


def test_a_half_rounds_to_even_as_round_price_does() -> None:
    instrument = _instrument(Decimal("123.45"))
    assert instrument.tick_size == Decimal("0.01")
    for price, expected in (("1.005", "1.00"), ("1.015", "1.02"), ("1.0150000001", "1.02"), ("2.5E-3", "0.00")):
        assert str(_on_tick(Decimal(price), instrument.tick_size)) == expected
        assert str(instrument.round_price(Decimal(price))) == expected
