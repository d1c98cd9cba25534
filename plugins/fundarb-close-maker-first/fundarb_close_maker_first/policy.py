"""Maker-first closing: post-only at the touch, re-priced, market fallback; emergencies at market."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Literal

import attrs

from fundarb_core.config.validators import non_negative, positive, positive_duration
from fundarb_core.execution import CloseLegSpec, CloseRequest, LegRef, Urgency
from fundarb_core.model import ExecutionMode

__all__ = ["MakerFirstConfig", "MakerFirstPolicy"]


@attrs.frozen
class MakerFirstConfig:
    """Settings of `kind = "maker_first"`. `limit_offset_bps` unset: the strategy's open offset."""

    limit_offset_bps: Decimal | None = attrs.field(default=None)
    timeout: timedelta = attrs.field(default=timedelta(seconds=30), validator=positive_duration)
    urgent_timeout: timedelta = attrs.field(default=timedelta(seconds=10), validator=positive_duration)
    reprice_interval: timedelta = attrs.field(default=timedelta(seconds=2), validator=positive_duration)
    slippage_bps: Decimal = attrs.field(default=Decimal(50), validator=positive)
    emergency_mode: Literal["market", "limit"] = "market"
    emergency_timeout: timedelta = attrs.field(default=timedelta(seconds=5), validator=positive_duration)
    emergency_slippage_bps: Decimal = attrs.field(default=Decimal(100), validator=positive)

    @limit_offset_bps.validator
    def _offset(self, attribute: attrs.Attribute[Decimal | None], value: Decimal | None) -> None:
        if value is not None:
            non_negative(self, attribute, value)


class MakerFirstPolicy:
    """Normal exits maker-first with market fallback; emergencies reduce-only market (or a short limit)."""

    name = "maker_first"

    def __init__(self, config: MakerFirstConfig, open_offset_bps: Decimal = Decimal(1)) -> None:
        self.config = config
        self.offset = config.limit_offset_bps if config.limit_offset_bps is not None else open_offset_bps

    def close_specs(self, request: CloseRequest) -> Sequence[CloseLegSpec]:
        timeout = self.config.urgent_timeout if request.urgency is Urgency.URGENT else self.config.timeout
        return [
            CloseLegSpec.from_snapshot(
                leg.venue,
                snap,
                mode=ExecutionMode.LIMIT_WITH_FALLBACK,
                limit_offset_bps=self.offset,
                timeout=timeout,
                reprice_interval=self.config.reprice_interval,
                slippage_bps=self.config.slippage_bps,
            )
            for leg, snap in request.snapshots.items()
            if snap.quantity != 0
        ]

    def emergency_spec(self, request: CloseRequest, leg: LegRef) -> CloseLegSpec:
        market = self.config.emergency_mode == "market"
        return CloseLegSpec.from_snapshot(
            leg.venue,
            request.snapshots[leg],
            mode=ExecutionMode.MARKET_ONLY if market else ExecutionMode.LIMIT_WITH_FALLBACK,
            limit_offset_bps=self.offset,
            timeout=self.config.emergency_timeout,
            reprice_interval=self.config.reprice_interval,
            slippage_bps=self.config.emergency_slippage_bps,
            max_market_attempts=5,
        )
