"""Small attrs validators with messages that say what was expected and what was found."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs

__all__ = [
    "at_least",
    "fraction",
    "non_empty",
    "non_negative",
    "non_negative_duration",
    "open_fraction",
    "positive",
    "positive_duration",
]

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def positive(_: Any, __: attrs.Attribute[Any], value: Decimal | int) -> None:
    """Require a value above zero."""
    if value <= 0:
        raise ValueError(f"must be positive, found {value}")


def non_negative(_: Any, __: attrs.Attribute[Any], value: Decimal | int) -> None:
    """Require zero or more."""
    if value < 0:
        raise ValueError(f"must not be negative, found {value}")


def fraction(_: Any, __: attrs.Attribute[Any], value: Decimal) -> None:
    """Require a value in [0, 1]."""
    if not 0 <= value <= 1:
        raise ValueError(f"must be between 0 and 1, found {value}")


def open_fraction(_: Any, __: attrs.Attribute[Any], value: Decimal) -> None:
    """Require a value strictly between 0 and 1 (a share of something: neither none of it nor all)."""
    if not 0 < value < 1:
        raise ValueError(f"must be between 0 and 1 (exclusive), found {value}")


def non_negative_duration(_: Any, __: attrs.Attribute[Any], value: timedelta) -> None:
    """Require a duration of zero or more."""
    if value < timedelta(0):
        raise ValueError(f"must not be a negative duration, found {value}")


def positive_duration(_: Any, __: attrs.Attribute[Any], value: timedelta) -> None:
    """Require a duration above zero."""
    if value <= timedelta(0):
        raise ValueError(f"must be a positive duration, found {value}")


def non_empty(_: Any, __: attrs.Attribute[Any], value: str) -> None:
    """Require a non-empty string."""
    if not value.strip():
        raise ValueError("must not be empty")


def at_least(minimum: int | Decimal) -> Validator:
    """Require `value >= minimum`."""

    def check(_: Any, __: attrs.Attribute[Any], value: int | Decimal) -> None:
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, found {value}")

    return check
