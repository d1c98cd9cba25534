"""Numbers as a person reads them: money in cents, prices at the instrument's tick, quantities at its step.

Stored and computed values keep every digit; only what is printed is rounded here. Nothing prints `0E-8` or a
28-digit average price.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

__all__ = ["at_step", "money", "percent", "plain"]

CENT = Decimal("0.01")


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


def plain(value: object) -> str:
    """`value` in positional notation with no trailing zeros (`0E-8` → `0`, `1.500` → `1.5`); `-` when absent."""
    d = _decimal(value)
    if d is None:
        return "-"
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def money(value: object, places: int = 2) -> str:
    """An amount of the quote currency (USD) to `places` decimals (cents by default); `-` when absent."""
    d = _decimal(value)
    if d is None:
        return "-"
    q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return format(q + 0 if q else abs(q), "f")  # no "-0.00"


def at_step(value: object, step: object) -> str:
    """A price or quantity shown to the precision of its grid (`tick_size` or `step_size`): 150.0023963… at tick
    0.01 → `150.00`. Without a step, `plain(value)`."""
    d, s = _decimal(value), _decimal(step)
    if d is None:
        return "-"
    if s is None or s <= 0:
        return plain(d)
    exponent = s.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return money(d, places)


def percent(value: object, places: int = 1) -> str:
    """A fraction as a percentage: 0.1234 → `12.3%`."""
    d = _decimal(value)
    if d is None:
        return "-"
    return f"{money(d * 100, places)}%"
