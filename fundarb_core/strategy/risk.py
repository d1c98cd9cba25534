"""The risk-manager contract: what a manager sees (`PositionView`), decides (`ExitDecision`) and plans.

A risk manager is registered through `fundarb_register_risk_managers` as `register(name, ConfigCls, factory)`,
where `factory(config)` returns an object with `should_exit` and `generate_actions`. The rules themselves live
once in `fundarb_core.strategy.exits`; the bot falls back on them when no manager is configured or it errs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs

from fundarb_core.actions import ActionPlan, RebalanceAction
from fundarb_core.model import ExitReason
from fundarb_core.model.records import PositionRecord
from fundarb_core.venues import FundingRate, PositionSnapshot

__all__ = ["ExitDecision", "Plan", "PlanContext", "PositionView", "RiskManager"]


Plan = ActionPlan | Sequence[RebalanceAction]


@attrs.frozen
class PositionView:
    """What a risk manager sees of one open position at one tick.

    Spreads are hourly funding rates, normalised from each venue's own interval: `short − long` (positive pays);
    `current_spread` is the latest quotes', `signal_spread` the smoothed estimate decisions use (`spread`).
    `rates` and `snapshots` are keyed by venue name (the position's two venues).
    """

    position: PositionRecord
    now: datetime
    entry_spread: Decimal
    current_spread: Decimal
    rates: Mapping[str, FundingRate]
    snapshots: Mapping[str, PositionSnapshot]
    best_opportunity_spread: Decimal | None = None  # this very pair's spread if it is the best opportunity now
    signal_spread: Decimal | None = None  # the smoothed spread (`fundarb_core.strategy.signal`) the rules judge

    @property
    def spread(self) -> Decimal:
        """The spread exit rules judge: the smoothed one where known, else the current one."""
        signal = self.signal_spread
        if isinstance(signal, Decimal) and signal.is_finite():
            return signal
        return self.current_spread

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
    """Whether to close now and why. `reduce` (with `exit` False): stay, but shed that fraction of both legs; the
    bot asks `generate_actions` for the plan (a `reduce_size` action), which needs the action runner."""

    exit: bool
    reason: ExitReason | None = None
    detail: str = ""
    reduce: Decimal | None = None

    @classmethod
    def stay(cls) -> ExitDecision:
        return cls(False)


@attrs.frozen
class PlanContext:
    """What `generate_actions` gets besides the view: the decision that asked for the plan, what is configured,
    and whether the bot already closed the position itself (a critical exit closes at once, then asks for a plan:
    a `close_position` in it finds the position closed and succeeds without sending anything)."""

    decision: ExitDecision
    venues: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()  # configured transfer routes (`[transfers.<name>]`)
    closed: bool = False


@runtime_checkable
class RiskManager(Protocol):
    """Decides when a position stops paying, and what to do after the exit."""

    def should_exit(self, view: PositionView) -> ExitDecision:
        """Return whether to close the position now, and why."""
        ...

    def generate_actions(self, view: PositionView, reason: ExitReason, context: PlanContext) -> Plan:
        """Return the plan after an exit: an `ActionPlan` or a list of `RebalanceAction`s (run in order). An empty
        plan means "close now", as before."""
        ...
