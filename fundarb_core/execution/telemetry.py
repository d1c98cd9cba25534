"""Telemetry of an open or a close: latency, leg skew, time to flat, slippage, fees, maker share."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs

from fundarb_core.execution.specs import OrderResult

__all__ = ["Telemetry"]

ZERO = Decimal(0)


@attrs.frozen
class Telemetry:
    """Figures for one multi-leg execution (all seconds are clock seconds)."""

    submit_latency: float | None  # decision → first submission, across legs
    leg_skew: float | None  # between the legs' first submissions
    time_to_done: float
    slippage_bps: Decimal | None  # quantity-weighted across legs
    fees: Decimal
    maker_share: Decimal | None

    @classmethod
    def from_results(cls, results: Sequence[OrderResult], decision_at: float, done_at: float) -> Telemetry:
        submits: list[float] = []
        filled = fees = maker = weighted = ZERO
        slipped = False
        for r in results:  # one pass: a close's telemetry is on its hot path
            if r.first_submit_at is not None:
                submits.append(r.first_submit_at)
            filled += r.filled_qty
            fees += r.fees
            maker += r.maker_qty
            slip = r.slippage_bps
            if slip is not None:
                weighted += slip * r.filled_qty
                slipped = True
        return cls(
            submit_latency=min(submits) - decision_at if submits else None,
            leg_skew=max(submits) - min(submits) if len(submits) > 1 else None,
            time_to_done=done_at - decision_at,
            slippage_bps=weighted / filled if slipped and filled else None,
            fees=fees,
            maker_share=maker / filled if filled else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in attrs.asdict(self).items()}
