"""Market-only closing: reduce-only market orders with a slippage cap."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import attrs

from fundarb_core.config.validators import positive
from fundarb_core.execution import CloseLegSpec, CloseRequest, LegRef
from fundarb_core.model import ExecutionMode

__all__ = ["MarketOnlyConfig", "MarketOnlyPolicy"]


@attrs.frozen
class MarketOnlyConfig:
    slippage_bps: Decimal = attrs.field(default=Decimal(50), validator=positive)
    emergency_slippage_bps: Decimal = attrs.field(default=Decimal(100), validator=positive)


class MarketOnlyPolicy:
    name = "market_only"

    def __init__(self, config: MarketOnlyConfig, open_offset_bps: Decimal = Decimal(1)) -> None:
        self.config = config

    def _spec(self, request: CloseRequest, leg: LegRef, slippage: Decimal) -> CloseLegSpec:
        return CloseLegSpec.from_snapshot(
            leg.venue,
            request.snapshots[leg],
            mode=ExecutionMode.MARKET_ONLY,
            slippage_bps=slippage,
            max_market_attempts=5,
        )

    def close_specs(self, request: CloseRequest) -> Sequence[CloseLegSpec]:
        return [
            self._spec(request, leg, self.config.slippage_bps)
            for leg, snap in request.snapshots.items()
            if snap.quantity != 0
        ]

    def emergency_spec(self, request: CloseRequest, leg: LegRef) -> CloseLegSpec:
        return self._spec(request, leg, self.config.emergency_slippage_bps)
