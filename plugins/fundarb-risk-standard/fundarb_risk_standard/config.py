"""The settings of each risk manager, with the earlier bot's defaults.

Thresholds are `Decimal`s, durations `timedelta`s. Spreads (and so `flip_threshold`) are hourly funding rates,
`short − long`, the unit of `PositionView`; `exit_apr` is an APR; erosion thresholds are ratios of the current to
the entry spread.
This module stays cheap to import: the registration hook loads it whenever plugins load.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

import attrs

from fundarb_core.config.validators import (
    fraction,
    non_negative,
    non_negative_duration,
    open_fraction,
    positive,
    positive_duration,
)

__all__ = [
    "MAX_FLIP_THRESHOLD",
    "AutoReopen",
    "CombinedConfig",
    "DivergenceFlipConfig",
    "MaxAgeConfig",
    "PlanStep",
    "ProfitErosionConfig",
    "ReduceStep",
    "TransferOnExit",
]

# 1 % per hour (87.6 × a year): a flip threshold beyond this is a unit mistake (an APR, a percentage), not a choice.
MAX_FLIP_THRESHOLD = Decimal("0.01")


# -- validators ------------------------------------------------------------------------------------------------


def _decimal(_: Any, __: attrs.Attribute[Any], value: object) -> None:
    """Require a finite Decimal (TOML gives one from a string such as "0.5"; Python callers must too)."""
    if not isinstance(value, Decimal):
        raise TypeError(f'must be a Decimal such as Decimal("0.5"), found {type(value).__name__} {value!r}')
    if not value.is_finite():
        raise ValueError(f"must be a finite number, found {value}")


def _hourly_rate(_: Any, __: attrs.Attribute[Any], value: Decimal) -> None:
    """Require an hourly funding rate of plausible size."""
    if abs(value) > MAX_FLIP_THRESHOLD:
        raise ValueError(
            f"must be an hourly funding rate between -{MAX_FLIP_THRESHOLD} and {MAX_FLIP_THRESHOLD}, found {value}"
        )


def _duration(_: Any, __: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, timedelta):
        raise TypeError(f'must be a duration such as "12h", found {type(value).__name__} {value!r}')


def _bool(_: Any, __: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"must be true or false, found {type(value).__name__} {value!r}")


_RATIO = attrs.validators.and_(_decimal, fraction)
_FLIP = attrs.validators.and_(_decimal, _hourly_rate)
_MAX_AGE = attrs.validators.and_(_duration, positive_duration)
_MIN_HOLD = attrs.validators.and_(_duration, non_negative_duration)


def _severe_not_above_erosion(instance: Any, _: attrs.Attribute[Any], value: Decimal | None) -> None:
    """Require severe ≤ erosion: otherwise every erosion exit would be a severe one and `erosion_threshold` unused."""
    if instance is None:  # the config loader checks fields one by one first; this one needs the whole instance
        return
    if value is None or instance.erosion_threshold is None:
        return
    if value > instance.erosion_threshold:
        raise ValueError(
            f"severe_erosion_threshold ({value}) must not be above erosion_threshold ({instance.erosion_threshold})"
        )


# -- the configs -----------------------------------------------------------------------------------------------


@attrs.frozen
class ProfitErosionConfig:
    """Settings of `kind = "profit_erosion"`: exit when the spread has eroded below a share of its entry value.

    `hold_if_best` skips a PROFIT_EROSION exit (never a SEVERE_EROSION one) while this very pair is still the best
    opportunity, as the earlier bot did: closing it only to reopen it would pay the fees twice.
    """

    erosion_threshold: Decimal = attrs.field(default=Decimal("0.5"), validator=_RATIO)
    severe_erosion_threshold: Decimal = attrs.field(
        default=Decimal("0.2"), validator=[_RATIO, _severe_not_above_erosion]
    )
    hold_if_best: bool = attrs.field(default=True, validator=_bool)


@attrs.frozen
class DivergenceFlipConfig:
    """Settings of `kind = "divergence_flip"`: exit when the spread falls below `flip_threshold` (it pays no more)."""

    flip_threshold: Decimal = attrs.field(default=Decimal(0), validator=_FLIP)


@attrs.frozen
class MaxAgeConfig:
    """Settings of `kind = "max_age"`: exit once the position has been open for `max_age`."""

    max_age: timedelta = attrs.field(default=timedelta(hours=168), validator=_MAX_AGE)


def _shares(_: Any, __: attrs.Attribute[Any], value: dict[str, Decimal]) -> None:
    for venue, share in value.items():
        if not isinstance(share, Decimal) or not share.is_finite() or share < 0:
            raise ValueError(f'the share of {venue!r} must be a non-negative decimal such as "0.5"')


@attrs.frozen
class TransferOnExit:
    """After a close, bring the two venues' equity back to `target` shares (default: an equal split).

    `target` gives every configured venue its share, summing to 1 (checked against the whole config); a
    position's two venues are renormalised. `route` names a `[transfers.<route>]` section (default: the first that
    serves the pair). Below `min_amount`, nothing moves.
    """

    enabled: bool = attrs.field(default=True, validator=_bool)
    target: dict[str, Decimal] = attrs.field(factory=dict, validator=_shares)
    route: str | None = None
    min_amount: Decimal = attrs.field(default=Decimal(10), validator=[_decimal, non_negative])


@attrs.frozen
class AutoReopen:
    """After a close (and its transfer), open again: `best` opportunity now, the `same` pair, or the best `other`
    than the closed one; `size_usd` overrides `strategy.position_size_usd`."""

    enabled: bool = attrs.field(default=True, validator=_bool)
    pair: Literal["best", "same", "other"] = "best"
    size_usd: Decimal | None = attrs.field(default=None, validator=attrs.validators.optional([_decimal, positive]))


@attrs.frozen
class ReduceStep:
    """When the erosion ratio (current / entry spread) falls below `erosion_below`, shed `fraction` of both
    legs, once per step, instead of waiting for the full exit."""

    erosion_below: Decimal = attrs.field(validator=_RATIO)
    fraction: Decimal = attrs.field(validator=[_decimal, open_fraction])

    @property
    def level(self) -> str:
        return f"erosion<{self.erosion_below}"


@attrs.frozen
class PlanStep:
    """One step of a configured exit plan: any registered action type, with its details.

    `key` names the step for `after` (default: run after the previous step); `urgent` runs it before others.
    The position's id is filled in. An action type that declares `closes_position` is the plan's close.
    """

    action_type: str = attrs.field(validator=attrs.validators.min_len(1))
    details: dict[str, Any] = attrs.field(factory=dict)
    key: str | None = None
    after: list[str] | None = None
    urgent: bool = attrs.field(default=False, validator=_bool)


@attrs.frozen
class CombinedConfig:
    """Settings of `kind = "combined"`: flip → floor → erosion (if set; hold guard) → age, after `min_hold`.

    The rules judge the smoothed spread (the signal's, `[strategy] signal_window`). `flip_threshold` is hourly;
    `exit_apr` is an absolute floor as an APR (exit below it; `[strategy] min_net_apr` net of costs is the entry
    level above it); the ratios to the entry spread (`erosion_threshold`, `severe_erosion_threshold`) are off
    unless set. `min_hold` blocks every one of these exits until the position is that old; a non-urgent exit waits
    up to `settlement_wait` for a settlement that pays the position. The closer's own rules (a missing leg,
    liquidation risk, a severe imbalance) do not pass through a risk manager and are not blocked.
    """

    flip_threshold: Decimal = attrs.field(default=Decimal(0), validator=_FLIP)
    exit_apr: Decimal | None = attrs.field(default=Decimal("0.05"), validator=attrs.validators.optional(_decimal))
    erosion_threshold: Decimal | None = attrs.field(default=None, validator=attrs.validators.optional(_RATIO))
    severe_erosion_threshold: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional([_RATIO, _severe_not_above_erosion])
    )
    hold_if_best: bool = attrs.field(default=True, validator=_bool)
    max_age: timedelta = attrs.field(default=timedelta(hours=168), validator=_MAX_AGE)
    min_hold: timedelta = attrs.field(default=timedelta(hours=24), validator=_MIN_HOLD)
    settlement_wait: timedelta = attrs.field(default=timedelta(minutes=30), validator=_MIN_HOLD)
    # Pipelines after an exit (need the action runner, `[actions] enabled = true`, the default):
    transfer_on_exit: TransferOnExit | None = None
    auto_reopen: AutoReopen | None = None
    reduce_size: list[ReduceStep] = attrs.field(factory=list)
    # Or the whole exit plan, step by step, from any registered action types (replaces the two pipelines above):
    exit_plan: list[PlanStep] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        if self.exit_plan and (self.transfer_on_exit is not None or self.auto_reopen is not None):
            raise ValueError("exit_plan replaces transfer_on_exit and auto_reopen: give one or the other")

    def check(self, config: Any) -> list[str]:
        """Check what the pipelines name against the whole config (`fundarb_core.config.Config`).

        Called by the core's config loader once every section is valid on its own; lines are relative to
        `[risk_manager]`. `transfer_on_exit.target` names configured venues, gives every one a share and sums to 1;
        `route` names a `[transfers.<route>]` section, and some route exists; a reduction level appears once.
        (Pipelines with `[actions] enabled = false` are allowed: an exit then closes at once, as documented.)
        """
        from fundarb_core.config import known_names, share_problems

        problems: list[str] = []
        transfer = self.transfer_on_exit
        if transfer is not None and transfer.enabled:
            problems += share_problems("transfer_on_exit.target", transfer.target, config.venues)
            if transfer.target:
                problems += [
                    f"transfer_on_exit.target: no share for venue {venue!r} (every venue needs one, or none does)"
                    for venue in config.venues
                    if venue not in transfer.target
                ]
            if transfer.route is not None and transfer.route not in config.transfers:
                problems.append(
                    f"transfer_on_exit.route: no [transfers.{transfer.route}] section "
                    f"{known_names(config.transfers, 'routes')}"
                )
            elif not config.transfers:
                problems.append("transfer_on_exit: no [transfers.<name>] route is configured to move the funds")
        seen: dict[Decimal, int] = {}
        for i, step in enumerate(self.reduce_size):
            first = seen.setdefault(step.erosion_below, i)
            if first != i:
                problems.append(
                    f"reduce_size[{i}].erosion_below: {step.erosion_below} repeats reduce_size[{first}] "
                    "(each level is applied once)"
                )
        return problems
