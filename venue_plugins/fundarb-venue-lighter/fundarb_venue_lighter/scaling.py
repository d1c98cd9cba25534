"""Integer scaling between fundarb's Decimals and Lighter's integer transaction fields, exact or refused.

A Lighter order carries `BaseAmount = size × 10^size_decimals` and `Price = price × 10^price_decimals` as integers.
The SDK's native signer takes the price as a C 32-bit field: a value of 2^32 or more silently wraps (2^32 + 5 is
signed as 5; checked against lighter-sdk 1.1.8), so every price is range-checked here *before* it reaches the
signer. Nothing is ever rounded here: a value that is not an exact multiple of the grid is refused (the caller
rounds, with the rounding it chooses, through `Instrument`).
"""

from __future__ import annotations

from decimal import Decimal

from fundarb_core.errors import VenueRejected
from fundarb_core.model import RejectReason

__all__ = [
    "MAX_BASE_AMOUNT",
    "MAX_CLIENT_ORDER_INDEX",
    "MAX_PRICE",
    "from_base_amount",
    "from_price",
    "scale_base_amount",
    "scale_price",
    "to_units",
]

MAX_PRICE = 2**32 - 1  # the signer's uint32 price field
MAX_BASE_AMOUNT = 2**48 - 1  # the signer refuses more ("BaseAmount should not be larger than 281474976710655")
MAX_CLIENT_ORDER_INDEX = 2**48 - 1


def to_units(value: Decimal, decimals: int) -> int | None:
    """Return `value × 10^decimals` as an int if that is exact, else None.

    Works on the digits themselves, not through Decimal arithmetic, so no context precision can round a value
    onto the grid (0.999…9 with 30 nines is not 1).
    """
    if not value.is_finite():
        return None
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    coefficient: int = int("".join(map(str, digits)) or "0")
    shift = exponent + decimals
    units: int
    if shift >= 0:
        units = coefficient * 10**shift
    else:
        units, remainder = divmod(coefficient, 10**-shift)
        if remainder:
            return None
    return -units if sign else units


def scale_price(price: Decimal, price_decimals: int, *, venue: str) -> int:
    """Return the signer's integer price for `price`, refusing off-tick and out-of-range values (never wrapping)."""
    units = to_units(price, price_decimals)
    if units is None:
        raise VenueRejected(
            f"price {price} is not a multiple of 1e-{price_decimals}", venue=venue, reason=RejectReason.OFF_TICK
        )
    if not 1 <= units <= MAX_PRICE:
        raise VenueRejected(
            f"price {price} scales to {units}, outside the signer's 32-bit field [1, {MAX_PRICE}]",
            venue=venue,
            reason=RejectReason.PRICE_OUT_OF_BOUNDS,
        )
    return units


def scale_base_amount(quantity: Decimal, size_decimals: int, *, venue: str) -> int:
    """Return the integer base amount for `quantity`, refusing off-step, non-positive and too-large values."""
    units = to_units(quantity, size_decimals)
    if units is None:
        raise VenueRejected(
            f"quantity {quantity} is not a multiple of 1e-{size_decimals}", venue=venue, reason=RejectReason.OFF_STEP
        )
    if units < 1:
        raise VenueRejected(
            f"quantity {quantity} is below one step", venue=venue, reason=RejectReason.BELOW_MIN_QUANTITY
        )
    if units > MAX_BASE_AMOUNT:
        raise VenueRejected(
            f"quantity {quantity} scales to {units}, above the signer's limit {MAX_BASE_AMOUNT}",
            venue=venue,
            reason=RejectReason.OTHER,
        )
    return units


def from_price(units: int, price_decimals: int) -> Decimal:
    return Decimal(units).scaleb(-price_decimals)


def from_base_amount(units: int, size_decimals: int) -> Decimal:
    return Decimal(units).scaleb(-size_decimals)
