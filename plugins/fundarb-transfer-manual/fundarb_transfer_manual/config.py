"""Settings of `[transfers.<name>] kind = "manual"`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

__all__ = ["ManualTransferConfig"]


def _non_negative(_: Any, __: attrs.Attribute[Decimal], value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ValueError(f"must be a non-negative amount, found {value!r}")


@attrs.frozen
class ManualTransferConfig:
    """`approval_limit`: amounts above it wait for `fundarb actions approve` before every step (0: all do)."""

    approval_limit: Decimal = attrs.field(default=Decimal(0), validator=_non_negative)
