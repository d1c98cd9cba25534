"""The exit policy: each rule once (flip, erosion with its hold-if-best guard, age, min hold, reduce steps), the
waterfall that runs them, and the defaults used when no risk manager is configured (or it errs).

Risk-manager plugins (`fundarb-risk-standard`) compose their managers from these rules; the bot's fallback is the
same waterfall with the `combined` defaults (`ExitRules()`), not a second copy of the rules or of their settings.

A rule returns an exit decision when it fires, and a stay decision otherwise; a stay carries a `detail` only when
there is something to say (the rule could not judge odd input, or a guard held an exit back), so the usual path
formats no text. No rule raises on odd input: a spread that is missing, not a number or not finite, an entry spread
that is zero or negative, timestamps that cannot be subtracted: each makes that rule abstain, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import ROUND_FLOOR, Context, Decimal
from functools import partial
from typing import Any

import attrs

from fundarb_core.model import ExitReason
from fundarb_core.strategy.risk import ExitDecision, PositionView

__all__ = [
    "STAY",
    "URGENT_REASONS",
    "ExitRules",
    "Rule",
    "Waterfall",
    "age_limit",
    "erosion",
    "flip",
    "min_hold",
    "reduce_crossed",
    "usable",
]

Rule = Callable[[PositionView], ExitDecision]

STAY = ExitDecision(False)
# Exits whose plan runs before others' (a flipped spread costs money every hour it stays open).
URGENT_REASONS = frozenset(
    {
        ExitReason.DIVERGENCE_FLIPPED,
        ExitReason.SEVERE_EROSION,
        ExitReason.LEG_LIQUIDATED,
        ExitReason.LIQUIDATION_RISK,
        ExitReason.SEVERE_IMBALANCE,
        ExitReason.MAX_LOSS,
    }
)

# Arithmetic on input we do not control: no traps, so an absurd exponent yields Infinity instead of raising.
_ARITH = Context(prec=28, traps=[])
# Ratios in messages: 4 significant digits rounded towards −∞, so a ratio shown below a threshold is below it.
_SHOWN = Context(prec=4, rounding=ROUND_FLOOR, traps=[])


def usable(value: object) -> Decimal | None:
    """Return `value` as a finite Decimal (an int is taken exactly), or None when it is anything else."""
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return None


def age_of(view: PositionView) -> timedelta | None:
    """Return how long the position has been open, or None when its timestamps cannot say."""
    try:
        age = view.age
    except (TypeError, ValueError, OverflowError, AttributeError):  # naive vs aware, None, a broken record
        return None
    return age if isinstance(age, timedelta) else None


def duration_text(value: timedelta) -> str:
    """Format a duration as the config writes it ("1h30m"), negative ones (clock skew) with a minus sign."""
    from fundarb_core.convert import format_duration

    return f"-{format_duration(-value)}" if value < timedelta(0) else format_duration(value)


def _ratio_text(current: Decimal, entry: Decimal) -> str:
    ratio = _ARITH.divide(current, entry)
    return "0" if ratio.is_zero() else str(_SHOWN.plus(ratio))


def flip(view: PositionView, threshold: Decimal) -> ExitDecision:
    """Exit DIVERGENCE_FLIPPED when the current spread is below `threshold`."""
    current = usable(view.current_spread)
    if current is None:
        return ExitDecision(False, None, f"flip not checked: current spread {view.current_spread!r} is not a number")
    if current < threshold:
        return ExitDecision(True, ExitReason.DIVERGENCE_FLIPPED, f"spread {current} < flip threshold {threshold}")
    return STAY


def erosion(view: PositionView, threshold: Decimal, severe: Decimal, *, hold_if_best: bool) -> ExitDecision:
    """Exit SEVERE_EROSION when current / entry spread < `severe`, else PROFIT_EROSION when it is < `threshold`.

    The ratio is compared as `current < threshold × entry` (entry > 0): no division, exact at the boundary.
    With `hold_if_best`, a PROFIT_EROSION exit (never a severe one) is held back while `view.best_opportunity_spread`
    is set, meaning this very pair is still the best opportunity.
    """
    current = usable(view.current_spread)
    if current is None:
        return ExitDecision(False, None, f"erosion not checked: current spread {view.current_spread!r} is not a number")
    entry = usable(view.entry_spread)
    if entry is None or entry <= 0:
        return ExitDecision(
            False, None, f"erosion not checked: entry spread {view.entry_spread!r} is not a positive number"
        )
    if current < _ARITH.multiply(severe, entry):
        ratio = _ratio_text(current, entry)
        return ExitDecision(
            True,
            ExitReason.SEVERE_EROSION,
            f"erosion ratio {ratio} < severe threshold {severe} (spread {current}, entry {entry})",
        )
    if current < _ARITH.multiply(threshold, entry):
        ratio = _ratio_text(current, entry)
        if hold_if_best and view.best_opportunity_spread is not None:
            return ExitDecision(
                False,
                None,
                f"profit erosion held: ratio {ratio} < {threshold}, but this pair is still the best opportunity",
            )
        return ExitDecision(
            True,
            ExitReason.PROFIT_EROSION,
            f"erosion ratio {ratio} < threshold {threshold} (spread {current}, entry {entry})",
        )
    return STAY


def reduce_crossed(view: PositionView, steps: Sequence[Any], done: set[str]) -> Any | None:
    """The deepest reduction step (`erosion_below`, `level`) the erosion has crossed and not yet applied.

    Compared as `current < erosion_below × entry` (entry > 0), like `erosion`; odd input crosses nothing.
    """
    current, entry = usable(view.current_spread), usable(view.entry_spread)
    if current is None or entry is None or entry <= 0:
        return None
    crossed = [s for s in steps if current < _ARITH.multiply(s.erosion_below, entry) and s.level not in done]
    return min(crossed, key=lambda s: s.erosion_below) if crossed else None


def age_limit(view: PositionView, max_age: timedelta) -> ExitDecision:
    """Exit TIME_LIMIT once the position is `max_age` old."""
    age = age_of(view)
    if age is None:
        return ExitDecision(False, None, "age limit not checked: the position's age is unknown")
    if age >= max_age:
        return ExitDecision(
            True, ExitReason.TIME_LIMIT, f"age {duration_text(age)} reached max age {duration_text(max_age)}"
        )
    return STAY


def min_hold(view: PositionView, hold: timedelta) -> ExitDecision | None:
    """Return a stay decision while the position is younger than `hold`; None once it may exit (or hold is 0).

    An unknown age does not block: the spread rules still protect a position whose timestamps are broken.
    """
    if hold <= timedelta(0):
        return None
    age = age_of(view)
    if age is None or age >= hold:
        return None
    return ExitDecision(False, None, f"min hold {duration_text(hold)} not reached (age {duration_text(age)})")


@attrs.frozen
class ExitRules:
    """The thresholds of the full waterfall, with the earlier bot's defaults (those of the `combined` manager)."""

    flip_threshold: Decimal = Decimal(0)
    erosion_threshold: Decimal = Decimal("0.5")
    severe_erosion_threshold: Decimal = Decimal("0.2")
    hold_if_best: bool = True
    max_age: timedelta = timedelta(hours=168)
    min_hold: timedelta = timedelta(0)

    def rules(self) -> list[Rule]:
        """flip → severe erosion → erosion (hold guard) → age."""
        return [
            partial(flip, threshold=self.flip_threshold),
            partial(
                erosion,
                threshold=self.erosion_threshold,
                severe=self.severe_erosion_threshold,
                hold_if_best=self.hold_if_best,
            ),
            partial(age_limit, max_age=self.max_age),
        ]


class Waterfall:
    """Run `rules` in order once `min_hold` has passed; the first exit wins."""

    def __init__(self, rules: Sequence[Rule], *, hold: timedelta = timedelta(0)) -> None:
        self.rules = tuple(rules)
        self.hold = hold

    @classmethod
    def of(cls, settings: ExitRules) -> Waterfall:
        return cls(settings.rules(), hold=settings.min_hold)

    def should_exit(self, view: PositionView) -> ExitDecision:
        """Return the first rule's exit, or a stay whose detail says what could not be checked or was held."""
        blocked = min_hold(view, self.hold)
        if blocked is not None:
            return blocked
        notes: list[str] = []
        for rule in self.rules:
            decision = rule(view)
            if decision.exit:
                return decision
            if decision.detail:
                notes.append(decision.detail)
        return ExitDecision(False, None, "; ".join(notes)) if notes else STAY
