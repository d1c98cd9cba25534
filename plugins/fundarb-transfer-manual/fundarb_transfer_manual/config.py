"""Settings of `[transfers.<name>] kind = "manual"`."""

from __future__ import annotations

from decimal import Decimal

import attrs

from fundarb_core.config.validators import non_negative

__all__ = ["ManualTransferConfig"]


@attrs.frozen
class ManualTransferConfig:
    """`approval_limit`: amounts above it wait for `fundarb actions approve` before every step (0: all do)."""

    approval_limit: Decimal = attrs.field(default=Decimal(0), validator=non_negative)
