"""The one cattrs converter factory: how fundarb turns values into text and back.

Decimal travels as a string (never a float), datetimes as ISO 8601 in UTC, durations as `"30s"`, `"8h"`,
`"1h30m"`, enums by value, secrets as `env:NAME` references or literal strings (and always masked on the way out).
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import cattrs

from fundarb_core.secrets import MASK, Secret

__all__ = [
    "format_duration",
    "get_converter",
    "make_converter",
    "parse_datetime",
    "parse_decimal",
    "parse_duration",
    "resolve_secret",
]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
# Microseconds per unit: durations are summed exactly (as Decimal) and rounded once, to timedelta's resolution.
_UNIT_US = {"ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000, "w": 604_800_000_000}


def parse_decimal(value: object) -> Decimal:
    """Return `value` as an exact Decimal; floats are refused because they already lost precision."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"expected a finite number, found {value}")
        return value
    if isinstance(value, bool):
        raise TypeError(f'expected a decimal string such as "0.5", found {value!r}')
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        raise TypeError(f'expected a decimal string such as "{value}", found the float {value} (floats are inexact)')
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"expected a decimal number, found {value!r}") from None
        if not result.is_finite():
            raise ValueError(f"expected a finite number, found {value!r}")
        return result
    raise TypeError(f"expected a decimal string, found {type(value).__name__} {value!r}")


def parse_duration(value: object) -> timedelta:
    """Parse `"30s"`, `"500ms"`, `"8h"`, `"1h30m"`, `"2d"` (or a number of seconds) into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise TypeError(f'expected a duration such as "30s" or "8h", found {value!r}')
    if isinstance(value, int | float):
        if not value >= 0:  # also refuses NaN
            raise ValueError(f"expected a non-negative duration, found {value}")
        try:
            return timedelta(seconds=value)
        except OverflowError:
            raise ValueError(f"duration {value!r} is too long") from None
    if not isinstance(value, str):
        raise TypeError(f'expected a duration such as "30s" or "8h", found {type(value).__name__} {value!r}')
    text = value.strip().replace(" ", "")
    pos, micros = 0, Decimal(0)
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        micros += Decimal(match.group(1)) * _UNIT_US[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f'expected a duration such as "30s", "8h" or "1h30m", found {value!r}')
    try:
        return timedelta(microseconds=int(micros.to_integral_value()))
    except OverflowError:
        raise ValueError(f"duration {value!r} is too long") from None


def format_duration(value: timedelta) -> str:
    """Format a timedelta the way `parse_duration` reads it back (`"1h30m"`, `"250ms"`).

    The resolution is a millisecond (finer parts are rounded); negative durations have no text form.
    """
    if value < timedelta(0):
        raise ValueError(f"a duration must not be negative, found {value}")
    ms, rest_us = divmod((value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds, 1000)
    ms += 1 if rest_us >= 500 else 0  # integer arithmetic: exact for every timedelta, however long
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_datetime(value: object) -> datetime:
    """Parse an ISO 8601 datetime (TOML datetimes too); naive values are taken as UTC."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expected an ISO 8601 datetime, found {value!r}") from None
    else:
        raise TypeError(f"expected an ISO 8601 datetime, found {type(value).__name__} {value!r}")
    return result.replace(tzinfo=UTC) if result.tzinfo is None else result.astimezone(UTC)


def resolve_secret(value: object, environ: Mapping[str, str] | None = None) -> Secret:
    """Turn `"env:NAME"` into the secret held by that environment variable, or a literal string into a Secret."""
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected a string or env:NAME, found {type(value).__name__}")
    if value.startswith("env:"):
        name = value[4:]
        env = os.environ if environ is None else environ
        if not name:
            raise ValueError("env: needs a variable name (env:NAME)")
        if name not in env or not env[name]:
            raise ValueError(f"environment variable {name} is not set")
        return Secret(env[name])
    if not value:
        raise ValueError("must not be empty")
    return Secret(value)


def _structure_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, found {type(value).__name__} {value!r}")
    return value


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, found {type(value).__name__} {value!r}")
    return value


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, found {type(value).__name__} {value!r}")
    return value


def _structure_float(value: object, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, found {type(value).__name__} {value!r}")
    return float(value)


def _structure_enum(value: object, cls: type[enum.Enum]) -> enum.Enum:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"expected one of {allowed}, found {value!r}") from None


def make_converter(*, forbid_extra_keys: bool = True) -> cattrs.Converter:
    """Build a converter with fundarb's hooks for simple types registered first."""
    conv = cattrs.Converter(forbid_extra_keys=forbid_extra_keys)
    conv.register_structure_hook(Decimal, lambda v, _: parse_decimal(v))
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(datetime, lambda v, _: parse_datetime(v))
    conv.register_unstructure_hook(datetime, lambda v: v.astimezone(UTC).isoformat())
    conv.register_structure_hook(timedelta, lambda v, _: parse_duration(v))
    conv.register_unstructure_hook(timedelta, format_duration)
    conv.register_structure_hook(Secret, lambda v, _: resolve_secret(v))
    conv.register_unstructure_hook(Secret, lambda _: MASK)
    conv.register_structure_hook(Path, lambda v, _: Path(_structure_str(v, str)).expanduser())
    conv.register_unstructure_hook(Path, str)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook_func(lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _structure_enum)
    # The str and int hooks above are dispatched by class and match subclasses: without these, a StrEnum (Side,
    # OrderStatus) would be structured as the plain string it was read from.
    conv.register_structure_hook(enum.StrEnum, _structure_enum)
    conv.register_structure_hook(enum.IntEnum, _structure_enum)
    return conv


@cache
def get_converter() -> cattrs.Converter:
    """The shared converter (unknown keys rejected)."""
    return make_converter()


def unstructure(value: Any) -> Any:
    """Unstructure with the shared converter."""
    return get_converter().unstructure(value)
