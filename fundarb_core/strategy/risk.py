"""The risk-manager contract, and the legacy exit heuristics used when no risk manager is configured or it errs.

A risk manager is registered through `fundarb_register_risk_managers` as `register(name, ConfigCls, factory)`,
where `factory(config)` returns an object with `should_exit` and `generate_actions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import attrs

from fundarb_core.model import ExitReason
from fundarb_core.model.records import PositionRecord
from fundarb_core.venues import FundingRate, PositionSnapshot

__all__ = ["ExitDecision", "PositionView", "RiskManager", "legacy_should_exit"]


@attrs.frozen
class PositionView:
    """What a risk manager sees of one open position at one tick.

    Spreads are hourly funding rates, normalised from each venue's own interval: `short − long` (positive pays).
    `rates` and `snapshots` are keyed by venue name (the position's two venues).
    """

    position: PositionRecord
    now: datetime
    entry_spread: Decimal
    current_spread: Decimal
    rates: Mapping[str, FundingRate]
    snapshots: Mapping[str, PositionSnapshot]
    best_opportunity_spread: Decimal | None = None  # this very pair's spread if it is the best opportunity now

    @property
    def age(self) -> timedelta:
        opened = self.position.opened_at or self.position.created_at
        return self.now - opened

    @property
    def erosion_ratio(self) -> Decimal | None:
        """current / entry spread (1 = as good as at entry, 0 = gone, < 0 = flipped); None without an entry spread."""
        if self.entry_spread <= 0:
            return None
        return self.current_spread / self.entry_spread


@attrs.frozen
class ExitDecision:
    exit: bool
    reason: ExitReason | None = None
    detail: str = ""

    @classmethod
    def stay(cls) -> ExitDecision:
        return cls(False)


@runtime_checkable
class RiskManager(Protocol):
    """Decides when a position stops paying, and what to do after the exit."""

    def should_exit(self, view: PositionView) -> ExitDecision:
        """Return whether to close the position now, and why."""
        ...

    def generate_actions(self, view: PositionView, reason: ExitReason, context: Any) -> Sequence[Any]:
        """Return the plan after an exit (RebalanceActions); an empty plan means 'close now', as before."""
        ...


def legacy_should_exit(
    view: PositionView, *, erosion_threshold: Decimal = Decimal("0.5"), max_age: timedelta = timedelta(hours=168)
) -> ExitDecision:
    """The earlier bot's fallback: spread flipped, erosion below the threshold, maximum age."""
    if view.current_spread < 0:
        return ExitDecision(True, ExitReason.DIVERGENCE_FLIPPED, f"spread {view.current_spread}")
    ratio = view.erosion_ratio
    if ratio is not None and ratio < erosion_threshold:
        return ExitDecision(True, ExitReason.PROFIT_EROSION, f"erosion ratio {ratio:.3f}")
    if view.age >= max_age:
        return ExitDecision(True, ExitReason.TIME_LIMIT, f"age {view.age}")
    return ExitDecision.stay()
