"""Integer scaling is exact, refuses what is off-grid or out of range, and agrees with the SDK's signer."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from fundarb_venue_lighter.scaling import (
    MAX_PRICE,
    from_base_amount,
    from_price,
    scale_base_amount,
    scale_price,
    to_units,
)
from fundarb_venue_lighter.testing import throwaway_key_pair
from hypothesis import given, settings
from hypothesis import strategies as st

from fundarb_core.errors import VenueRejected
from fundarb_core.model import RejectReason

decimals = st.integers(min_value=0, max_value=8)


@given(units=st.integers(min_value=1, max_value=MAX_PRICE), places=decimals)
def test_a_price_on_the_grid_round_trips_exactly(units: int, places: int) -> None:
    price = from_price(units, places)
    assert scale_price(price, places, venue="t") == units


@given(units=st.integers(min_value=MAX_PRICE + 1, max_value=2**64), places=decimals)
def test_a_price_beyond_the_signers_32_bit_field_is_refused_never_wrapped(units: int, places: int) -> None:
    with pytest.raises(VenueRejected) as info:
        scale_price(from_price(units, places), places, venue="t")
    assert info.value.reason == RejectReason.PRICE_OUT_OF_BOUNDS


@given(units=st.integers(min_value=1, max_value=10**12), places=decimals, extra=st.integers(1, 9))
def test_an_off_grid_value_is_refused_not_rounded(units: int, places: int, extra: int) -> None:
    off = from_price(units, places) + Decimal(extra).scaleb(-places - 1)
    with pytest.raises(VenueRejected) as info:
        scale_price(off, places, venue="t")
    assert info.value.reason == RejectReason.OFF_TICK
    with pytest.raises(VenueRejected) as info:
        scale_base_amount(off, places, venue="t")
    assert info.value.reason == RejectReason.OFF_STEP


@given(units=st.integers(min_value=1, max_value=2**48 - 1), places=decimals)
def test_base_amounts_round_trip(units: int, places: int) -> None:
    assert scale_base_amount(from_base_amount(units, places), places, venue="t") == units


def test_precision_cannot_round_a_value_onto_the_grid() -> None:
    assert to_units(Decimal("0." + "9" * 40), 0) is None
    assert to_units(Decimal("1E+30"), 2) == 10**32
    assert to_units(Decimal("NaN"), 2) is None
    for bad in (Decimal(0), Decimal("-1")):
        with pytest.raises(VenueRejected):
            scale_price(bad, 2, venue="t")
    with pytest.raises(VenueRejected):
        scale_base_amount(Decimal(2**48), 0, venue="t")


@settings(max_examples=40, deadline=None)
@given(units=st.integers(min_value=1, max_value=MAX_PRICE), places=st.integers(0, 6))
async def test_the_signer_signs_exactly_the_scaled_price(units: int, places: int) -> None:
    """What fundarb scales is what the SDK's native signer puts in the transaction (no wrap below 2^32)."""
    from fundarb_venue_lighter.signer import Signer, import_lighter

    signer = await Signer.open("http://127.0.0.1:9", 7, 3, _secret(throwaway_key_pair()[0]), 304, venue="t")
    try:
        price = scale_price(from_price(units, places), places, venue="t")
        signed = signer.create_order(
            market_index=1,
            client_order_index=5,
            base_amount=10,
            price=price,
            is_ask=False,
            order_type=0,
            time_in_force=1,
            reduce_only=False,
            order_expiry=-1,
            nonce=0,
        )
        assert json.loads(signed.info)["Price"] == units
    finally:
        await signer.close()
    assert import_lighter() is not None


async def test_the_raw_signer_wraps_what_scaling_refuses() -> None:
    """Why the range check exists: handed 2^32 + 5 directly, the SDK signs a price of 5."""
    from fundarb_venue_lighter.signer import Signer

    signer = await Signer.open("http://127.0.0.1:9", 7, 3, _secret(throwaway_key_pair()[0]), 304, venue="t")
    try:
        signed = signer.create_order(
            market_index=1,
            client_order_index=5,
            base_amount=10,
            price=2**32 + 5,
            is_ask=False,
            order_type=0,
            time_in_force=1,
            reduce_only=False,
            order_expiry=-1,
            nonce=0,
        )
        assert json.loads(signed.info)["Price"] == 5
    finally:
        await signer.close()


def _secret(value: str) -> object:
    from fundarb_core.secrets import Secret

    return Secret(value)
