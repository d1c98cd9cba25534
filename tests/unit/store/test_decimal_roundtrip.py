"""Money round-trips exactly through every money column, on every backend: never a float, never rounded."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fundarb_core.model import Side
from fundarb_core.store._types import DecimalText, format_decimal

# Up to 18 decimals and magnitudes up to 1e12, both signs, every scale in between (trailing zeros included).
amounts = st.integers(min_value=0, max_value=18).flatmap(
    lambda places: st.integers(min_value=-(10 ** (12 + places)), max_value=10 ** (12 + places)).map(
        lambda units: Decimal(units).scaleb(-places)
    )
)
positive = amounts.filter(lambda d: d > 0)
rates = st.decimals(min_value=Decimal("-0.05"), max_value=Decimal("0.05"), places=18)

# The fixture's store is shared by the examples on purpose: every example writes rows under fresh ids.
_ids = itertools.count()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(quantity=positive, price=positive, fee=amounts, rate=rates, amount=amounts)
async def test_prices_quantities_and_rates_round_trip_exactly(store, clock, quantity, price, fee, rate, amount) -> None:
    n = next(_ids)
    coid = f"c{n}"
    await store.orders.record_intent(
        client_order_id=coid, venue="v", symbol="BTC", side=Side.BUY, quantity=quantity, price=price
    )
    fill, _ = await store.fills.add(
        venue="v", venue_fill_id=f"f{n}", client_order_id=coid, quantity=quantity, price=price, fee=fee, at=clock.now()
    )
    payment, _ = await store.funding.add(
        venue="v", venue_payment_id=f"p{n}", symbol="BTC", amount=amount, rate=rate, at=clock.now()
    )
    order = await store.orders.get(coid)
    [fill_back] = await store.fills.list(client_order_id=coid)
    [payment_back] = [p for p in await store.funding.list() if p.venue_payment_id == f"p{n}"]
    for written, read in [
        (quantity, order.quantity),
        (price, order.price),
        (quantity, fill_back.quantity),
        (price, fill_back.price),
        (fee, fill_back.fee),
        (amount, payment_back.amount),
        (rate, payment_back.rate),
    ]:
        assert type(read) is Decimal
        assert read == written
        # Not just equal in value: the same digits and scale (0.50 stays 0.50).
        assert read.as_tuple() == written.as_tuple() or written.as_tuple().exponent > 0
    assert (fill.fee, payment.amount) == (fee, amount)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_the_text_form_parses_back_to_the_same_value(value: Decimal) -> None:
    assert Decimal(format_decimal(value)) == value


@pytest.mark.parametrize("bad", [0.1, 1, "1.5", True])
def test_only_decimals_are_accepted_as_money(bad: object) -> None:
    with pytest.raises(TypeError, match="money must be a Decimal"):
        DecimalText().process_bind_param(bad, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_non_finite_money_is_refused(bad: Decimal) -> None:
    with pytest.raises(ValueError, match="must be finite"):
        format_decimal(bad)
