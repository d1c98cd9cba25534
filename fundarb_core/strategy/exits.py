"""The exit policy: each rule once (flip, floor, erosion with its hold-if-best guard, age, min hold, settlement
wait, reduce steps), the waterfall that runs them, and the defaults used when no risk manager is configured (or it
errs).

The rules judge the smoothed spread (`PositionView.spread`: the signal's estimate where known), against absolute
levels: below `flip_threshold` (hourly) the pair pays us no more; below `exit_apr` it pays too little to keep the
capital in it. Entry needs the smoothed spread net of the round trip amortised over the entry hold to clear
`[strategy] min_net_apr`, so the exit floor sits below the entry level (hysteresis). The ratio of the current to
the entry spread (`erosion_threshold`, `severe_erosion_threshold`) is off by default: the entry spread is a peak by
selection, and a ratio to a peak exits on noise. A non-urgent exit waits for a settlement that pays the position
within `settlement_wait` (exit right after a receiving leg is paid, not minutes before).

Risk-manager plugins (`fundarb-risk-standard`) compose their managers from these rules; the bot's fallback is the
same waterfall with the `combined` defaults (`ExitRules()`), not a second copy of the rules or of their settings.

A rule returns an exit decision when it fires, and a stay decision otherwise; a stay carries a `detail` only when
there is something to say (the rule could not judge odd input, or a guard held an exit back), so the usual path
formats no text. No rule raises on odd input: a spread that is missing, not a number or not finite, an entry spread
that is zero or negative, timestamps that cannot be subtracted: each makes that rule abstain, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from decimal import ROUND_FLOOR, Context, Decimal
from functools import lru_cache, partial
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
    "floor",
    "min_hold",
    "reduce_crossed",
    "settlement_wait",
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

_HOURS_PER_YEAR = Decimal(8760)
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


@lru_cache(maxsize=1024)  # a pure function of its argument; the hold and ages repeat across positions
def duration_text(value: timedelta) -> str:
    """Format a duration as the config writes it ("1h30m"), negative ones (clock skew) with a minus sign."""
    from fundarb_core.convert import format_duration

    return f"-{format_duration(-value)}" if value < timedelta(0) else format_duration(value)


def _judged(view: PositionView) -> object:
    """The spread the rules judge (smoothed where known), or whatever odd value the view holds."""
    try:
        return view.spread
    except Exception:  # a view built by hand without the property's fields
        return getattr(view, "current_spread", None)


def _ratio_text(current: Decimal, entry: Decimal) -> str:
    ratio = _ARITH.divide(current, entry)
    return "0" if ratio.is_zero() else str(_SHOWN.plus(ratio))


def flip(view: PositionView, threshold: Decimal) -> ExitDecision:
    """Exit DIVERGENCE_FLIPPED when the judged spread is below `threshold` (hourly)."""
    judged = _judged(view)
    current = usable(judged)
    if current is None:
        return ExitDecision(False, None, f"flip not checked: current spread {judged!r} is not a number")
    if current < threshold:
        return ExitDecision(True, ExitReason.DIVERGENCE_FLIPPED, f"spread {current} < flip threshold {threshold}")
    return STAY


def floor(view: PositionView, apr: Decimal, *, hold_if_best: bool) -> ExitDecision:
    """Exit PROFIT_EROSION when the judged spread, as an APR (× 8760), is below `apr`.

    With `hold_if_best`, held back while this very pair is still the best opportunity for its symbol.
    """
    judged = _judged(view)
    current = usable(judged)
    if current is None:
        return ExitDecision(False, None, f"floor not checked: current spread {judged!r} is not a number")
    level = _ARITH.multiply(current, _HOURS_PER_YEAR)
    if level >= apr:
        return STAY
    shown = _SHOWN.plus(level)
    if hold_if_best and view.best_opportunity_spread is not None:
        return ExitDecision(False, None, f"floor exit held: APR {shown} < {apr}, but this pair is still the best")
    return ExitDecision(True, ExitReason.PROFIT_EROSION, f"spread APR {shown} < exit floor {apr} (spread {current})")


def settlement_wait(view: PositionView, window: timedelta) -> ExitDecision | None:
    """A stay while settlements within `window` pay the position on balance (at the current rates); else None."""
    if window <= timedelta(0):
        return None
    received = Decimal(0)
    due_in: list[timedelta] = []
    for venue, sign in ((view.position.long_venue, -1), (view.position.short_venue, 1)):
        rate = view.rates.get(venue) if isinstance(view.rates, Mapping) else None
        try:
            due = rate.next_funding_time - view.now  # type: ignore[union-attr]
            per_interval = usable(rate.rate)  # type: ignore[union-attr]
        except (AttributeError, TypeError, OverflowError, ValueError):
            continue
        if per_interval is None or not isinstance(due, timedelta) or not timedelta(0) <= due <= window:
            continue
        received += sign * per_interval
        due_in.append(due)
    if received > 0:
        return ExitDecision(
            False, None, f"exit waits for the settlement in {duration_text(max(due_in))}: it pays {received}"
        )
    return None


def erosion(view: PositionView, threshold: Decimal, severe: Decimal, *, hold_if_best: bool) -> ExitDecision:
    """Exit SEVERE_EROSION when current / entry spread < `severe`, else PROFIT_EROSION when it is < `threshold`.

    The ratio is compared as `current < threshold × entry` (entry > 0): no division, exact at the boundary.
    With `hold_if_best`, a PROFIT_EROSION exit (never a severe one) is held back while `view.best_opportunity_spread`
    is set, meaning this very pair is still the best opportunity.
    """
    judged = _judged(view)
    current = usable(judged)
    if current is None:
        return ExitDecision(False, None, f"erosion not checked: current spread {judged!r} is not a number")
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
    current, entry = usable(_judged(view)), usable(view.entry_spread)
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
    """The thresholds of the full waterfall, with the defaults of the `combined` manager (docs/strategy.md)."""

    flip_threshold: Decimal = Decimal(0)
    exit_apr: Decimal | None = Decimal("0.05")
    erosion_threshold: Decimal | None = None
    severe_erosion_threshold: Decimal | None = None
    hold_if_best: bool = True
    max_age: timedelta = timedelta(hours=168)
    min_hold: timedelta = timedelta(hours=24)
    settlement_wait: timedelta = timedelta(minutes=30)

    def rules(self) -> list[Rule]:
        """flip → floor → erosion (if set; hold guard) → age."""
        rules: list[Rule] = [partial(flip, threshold=self.flip_threshold)]
        if self.exit_apr is not None:
            rules.append(partial(floor, apr=self.exit_apr, hold_if_best=self.hold_if_best))
        if self.erosion_threshold is not None or self.severe_erosion_threshold is not None:
            threshold = self.erosion_threshold if self.erosion_threshold is not None else Decimal(0)
            severe = self.severe_erosion_threshold if self.severe_erosion_threshold is not None else Decimal(0)
            rules.append(partial(erosion, threshold=threshold, severe=severe, hold_if_best=self.hold_if_best))
        rules.append(partial(age_limit, max_age=self.max_age))
        return rules


class Waterfall:
    """Run `rules` in order once `min_hold` has passed; the first exit wins, unless a settlement that pays the
    position is due within `settle` (then it stays, and the exit comes right after the payment)."""

    def __init__(
        self, rules: Sequence[Rule], *, hold: timedelta = timedelta(0), settle: timedelta = timedelta(0)
    ) -> None:
        self.rules = tuple(rules)
        self.hold = hold
        self.settle = settle

    @classmethod
    def of(cls, settings: ExitRules) -> Waterfall:
        return cls(settings.rules(), hold=settings.min_hold, settle=settings.settlement_wait)

    def should_exit(self, view: PositionView) -> ExitDecision:
        """Return the first rule's exit, or a stay whose detail says what could not be checked or was held."""
        blocked = min_hold(view, self.hold)
        if blocked is not None:
            return blocked
        notes: list[str] = []
        for rule in self.rules:
            decision = rule(view)
            if decision.exit:
                try:
                    wait = settlement_wait(view, self.settle)
                except Exception:  # a view too odd to read its rates: exit as decided
                    wait = None
                return decision if wait is None else ExitDecision(False, None, f"{decision.detail}; {wait.detail}")
            if decision.detail:
                notes.append(decision.detail)
        return ExitDecision(False, None, "; ".join(notes)) if notes else STAY
