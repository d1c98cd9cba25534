"""The four standard risk managers: `profit_erosion`, `divergence_flip`, `max_age` and `combined`.

Each is a short waterfall of the core's exit rules (`fundarb_core.strategy.exits`, where each rule exists once): the
first rule that fires decides the exit; when none fires the
position stays, and the stay's `detail` joins whatever the rules had to say (odd input, a held exit). None of them
raises on odd input. `generate_actions` returns an empty plan, which the closer reads as "close now".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from fundarb_core.model import ExitReason
from fundarb_core.strategy import exits as _rules
from fundarb_core.strategy.risk import ExitDecision, PositionView
from fundarb_risk_standard.config import (
    CombinedConfig,
    DivergenceFlipConfig,
    MaxAgeConfig,
    ProfitErosionConfig,
    ReduceStep,
)

__all__ = ["CombinedManager", "DivergenceFlipManager", "MaxAgeManager", "ProfitErosionManager"]

Rule = Callable[[PositionView], ExitDecision]
C = TypeVar("C")


class _Waterfall(Generic[C]):
    """Run `rules` in order; the first exit wins."""

    name: ClassVar[str]

    def __init__(self, config: C, rules: Sequence[Rule]) -> None:
        self.config = config
        self._rules = tuple(rules)

    def should_exit(self, view: PositionView) -> ExitDecision:
        """Return the first rule's exit, or a stay whose detail says what could not be checked or was held."""
        return _rules.Waterfall(self._rules).should_exit(view)

    def generate_actions(self, view: PositionView, reason: ExitReason, context: Any) -> Sequence[Any]:
        """Return the plan to run after an exit; empty, which the closer reads as "close both legs now".

        The action-plan work (issue 7) extends `combined` with transfers, reopening and partial reductions.
        """
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


class ProfitErosionManager(_Waterfall[ProfitErosionConfig]):
    """SEVERE_EROSION, then PROFIT_EROSION (held back while this pair is still the best opportunity)."""

    name = "profit_erosion"

    def __init__(self, config: ProfitErosionConfig) -> None:
        super().__init__(
            config,
            [
                partial(
                    _rules.erosion,
                    threshold=config.erosion_threshold,
                    severe=config.severe_erosion_threshold,
                    hold_if_best=config.hold_if_best,
                )
            ],
        )


class DivergenceFlipManager(_Waterfall[DivergenceFlipConfig]):
    """DIVERGENCE_FLIPPED when the current spread falls below the flip threshold."""

    name = "divergence_flip"

    def __init__(self, config: DivergenceFlipConfig) -> None:
        super().__init__(config, [partial(_rules.flip, threshold=config.flip_threshold)])


class MaxAgeManager(_Waterfall[MaxAgeConfig]):
    """TIME_LIMIT once the position reaches its maximum age."""

    name = "max_age"

    def __init__(self, config: MaxAgeConfig) -> None:
        super().__init__(config, [partial(_rules.age_limit, max_age=config.max_age)])


class CombinedManager(_Waterfall[CombinedConfig]):
    """flip → floor → erosion (if set) → age on the smoothed spread, once `min_hold` passed; an exit waits for a
    settlement that pays the position within `settlement_wait`."""

    name = "combined"

    def __init__(self, config: CombinedConfig) -> None:
        rules = self.exit_rules(config)
        super().__init__(config, rules.rules())
        # `should_exit` checks the hold first: the waterfall itself need not check it again.
        self._waterfall = _rules.Waterfall(rules.rules(), settle=rules.settlement_wait)

    @staticmethod
    def exit_rules(config: CombinedConfig) -> _rules.ExitRules:
        """The core's exit rules with this manager's thresholds."""
        return _rules.ExitRules(
            flip_threshold=config.flip_threshold,
            exit_apr=config.exit_apr,
            erosion_threshold=config.erosion_threshold,
            severe_erosion_threshold=config.severe_erosion_threshold,
            hold_if_best=config.hold_if_best,
            max_age=config.max_age,
            min_hold=config.min_hold,
            settlement_wait=config.settlement_wait,
        )

    def should_exit(self, view: PositionView) -> ExitDecision:
        """Stay while the position is younger than `min_hold`; then the waterfall decides; then a reduction step."""
        held = _rules.min_hold(view, self.config.min_hold)
        if held is not None:
            return held
        decision = self._waterfall.should_exit(view)
        if decision.exit:
            return decision
        step = self._reduce_step(view)
        if step is None:
            return decision
        return ExitDecision(
            False,
            ExitReason.PROFIT_EROSION,
            f"spread {view.spread} eroded below {step.erosion_below} of entry {view.entry_spread}: "
            f"shed {step.fraction}",
            reduce=step.fraction,
        )

    def _reduce_step(self, view: PositionView) -> ReduceStep | None:
        """The deepest reduction step the erosion has crossed and that has not been applied to this position."""
        if not self.config.reduce_size:
            return None
        done = {str(r.level) for r in view.position.state.reductions}
        step: ReduceStep | None = _rules.reduce_crossed(view, self.config.reduce_size, done)
        return step

    def generate_actions(self, view: PositionView, reason: ExitReason, context: Any) -> Sequence[Any]:
        """The configured pipeline: reduce; or close → transfer back to the target split → reopen.

        Nothing configured: an empty plan, which the bot reads as "close now".
        """
        from fundarb_core.actions import Priority, RebalanceAction

        position = view.position
        decision = getattr(context, "decision", None)
        if decision is not None and decision.reduce is not None:
            step = self._reduce_step(view)
            if step is None:
                return []
            return [
                RebalanceAction(
                    "reduce_size", position.id, reason.value, {"fraction": step.fraction, "level": step.level}
                )
            ]
        if self.config.exit_plan:
            return self._configured_plan(position.id, reason)
        transfer = self.config.transfer_on_exit
        reopen = self.config.auto_reopen
        transfer_on = transfer is not None and transfer.enabled
        reopen_on = reopen is not None and reopen.enabled
        if not transfer_on and not reopen_on:
            return []
        urgent = reason in _rules.URGENT_REASONS
        priority = Priority.URGENT if urgent else Priority.NORMAL
        steps = [
            RebalanceAction(
                "close_position", position.id, reason.value, {"urgency": "urgent" if urgent else "normal"}, priority,
                key="close",
            )
        ]  # fmt: skip
        if transfer is not None and transfer_on:
            a, b = sorted((position.long_venue, position.short_venue))
            share_a, share_b = transfer.target.get(a, Decimal(1)), transfer.target.get(b, Decimal(1))
            total = share_a + share_b
            if total <= 0:  # nothing to go by: an even split
                share_a, total = Decimal(1), Decimal(2)
            shares = {a: share_a / total, b: 1 - share_a / total}
            details: dict[str, Any] = {"rebalance": shares, "min_amount": transfer.min_amount}
            if transfer.route is not None:
                details["route"] = transfer.route
            steps.append(
                RebalanceAction("transfer_funds", position.id, reason.value, details, priority, key="transfer")
            )
        if reopen is not None and reopen_on:
            open_details: dict[str, Any] = {}
            if reopen.pair == "same":
                open_details.update(
                    symbol=position.symbol, long_venue=position.long_venue, short_venue=position.short_venue
                )
            elif reopen.pair == "other":
                open_details["exclude_position_pair"] = True
            if reopen.size_usd is not None:
                open_details["size_usd"] = reopen.size_usd
            steps.append(RebalanceAction("open_position", position.id, reason.value, open_details, key="reopen"))
        return steps

    def _configured_plan(self, position_id: str, reason: ExitReason) -> Any:
        """`exit_plan` as configured: one step after another, unless a step names its own `after` keys."""
        from fundarb_core.actions import ActionPlan, Priority, RebalanceAction

        return ActionPlan.of(
            *(
                RebalanceAction(
                    step.action_type, position_id, reason.value, dict(step.details),
                    Priority.URGENT if step.urgent else Priority.NORMAL,
                    key=step.key or f"step{i}", after=tuple(step.after) if step.after is not None else None,
                )
                for i, step in enumerate(self.config.exit_plan)
            )
        )  # fmt: skip
