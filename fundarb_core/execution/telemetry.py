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
        submits = [r.first_submit_at for r in results if r.first_submit_at is not None]
        filled = sum((r.filled_qty for r in results), ZERO)
        weighted = [(r.slippage_bps, r.filled_qty) for r in results if r.slippage_bps is not None]
        slippage = sum((s * q for s, q in weighted), ZERO) / filled if weighted and filled else None
        maker = sum((r.maker_qty for r in results), ZERO)
        return cls(
            submit_latency=min(submits) - decision_at if submits else None,
            leg_skew=max(submits) - min(submits) if len(submits) > 1 else None,
            time_to_done=done_at - decision_at,
            slippage_bps=slippage,
            fees=sum((r.fees for r in results), ZERO),
            maker_share=maker / filled if filled else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in attrs.asdict(self).items()}
