"""The four standard risk managers: `profit_erosion`, `divergence_flip`, `max_age` and `combined`.

Each is a short waterfall of the rules in `_rules`: the first rule that fires decides the exit; when none fires the
position stays, and the stay's `detail` joins whatever the rules had to say (odd input, a held exit). None of them
raises on odd input. `generate_actions` returns an empty plan, which the closer reads as "close now".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from fundarb_core.model import ExitReason
from fundarb_core.strategy.risk import ExitDecision, PositionView
from fundarb_risk_standard import _rules
from fundarb_risk_standard.config import CombinedConfig, DivergenceFlipConfig, MaxAgeConfig, ProfitErosionConfig

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
        notes: list[str] = []
        for rule in self._rules:
            decision = rule(view)
            if decision.exit:
                return decision
            if decision.detail:
                notes.append(decision.detail)
        return ExitDecision(False, None, "; ".join(notes)) if notes else _rules.STAY

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
    """The earlier bot's waterfall: flip → severe erosion → erosion (hold guard) → age, once `min_hold` passed."""

    name = "combined"

    def __init__(self, config: CombinedConfig) -> None:
        super().__init__(
            config,
            [
                partial(_rules.flip, threshold=config.flip_threshold),
                partial(
                    _rules.erosion,
                    threshold=config.erosion_threshold,
                    severe=config.severe_erosion_threshold,
                    hold_if_best=config.hold_if_best,
                ),
                partial(_rules.age_limit, max_age=config.max_age),
            ],
        )

    def should_exit(self, view: PositionView) -> ExitDecision:
        """Stay while the position is younger than `min_hold`; then the waterfall decides."""
        blocked = _rules.min_hold(view, self.config.min_hold)
        return blocked if blocked is not None else super().should_exit(view)
