"""The four risk managers: thresholds and their boundaries, the waterfall, the hold guard, min hold, odd input.

Spreads are hourly rates; the entry spread of most examples is 0.0001 (1 bp per hour), so a current spread of
0.00005 is an erosion ratio of exactly 0.5.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs
import pytest
from fundarb_risk_standard import (
    CombinedConfig,
    CombinedManager,
    DivergenceFlipConfig,
    DivergenceFlipManager,
    MaxAgeConfig,
    MaxAgeManager,
    ProfitErosionConfig,
    ProfitErosionManager,
)
from hypothesis import assume, given
from hypothesis import strategies as st

from fundarb_core.model import ExitReason, PositionStatus
from fundarb_core.model.records import PositionRecord
from fundarb_core.strategy import ExitDecision, PositionView, RiskManager
from fundarb_core.testing.strategies import aware_datetimes

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ENTRY = Decimal("0.0001")
HOUR = timedelta(hours=1)
BEST = Decimal("0.00003")  # `best_opportunity_spread` set: this very pair is still the best opportunity

FLIP, SEVERE, EROSION, AGE = (
    ExitReason.DIVERGENCE_FLIPPED,
    ExitReason.SEVERE_EROSION,
    ExitReason.PROFIT_EROSION,
    ExitReason.TIME_LIMIT,
)
WATERFALL = (FLIP, SEVERE, EROSION, AGE)


def view(
    current: Any,
    entry: Any = ENTRY,
    *,
    age: timedelta = HOUR,
    best: Decimal | None = None,
    now: Any = NOW,
    opened: bool = True,
) -> PositionView:
    """A view of one open BTC position, opened `age` before `now` (created then, if `opened` is False)."""
    start = NOW - age
    position = PositionRecord(
        "pos-1",
        "BTC",
        PositionStatus.OPEN,
        "aster",
        "lighter",
        Decimal(1000),
        created_at=start,
        updated_at=start,
        opened_at=start if opened else None,
    )
    return PositionView(position, now, entry, current, {}, {}, best)


def managers(**overrides: Any) -> list[RiskManager]:
    """Every manager, each with the settings of `overrides` that its config has."""

    def build(config_cls: type[Any], manager_cls: type[Any]) -> RiskManager:
        names = {f.name for f in attrs.fields(config_cls)}
        manager: RiskManager = manager_cls(config_cls(**{k: v for k, v in overrides.items() if k in names}))
        return manager

    return [
        build(ProfitErosionConfig, ProfitErosionManager),
        build(DivergenceFlipConfig, DivergenceFlipManager),
        build(MaxAgeConfig, MaxAgeManager),
        build(CombinedConfig, CombinedManager),
    ]


# The earlier bot's rules: ratios to the entry spread, no floor, no minimum hold, no settlement wait.
LEGACY: dict[str, Any] = {
    "exit_apr": None,
    "erosion_threshold": Decimal("0.5"),
    "severe_erosion_threshold": Decimal("0.2"),
    "min_hold": timedelta(0),
    "settlement_wait": timedelta(0),
}


def exits(decision: ExitDecision, reason: ExitReason) -> bool:
    return decision.exit and decision.reason is reason


# -- defaults --------------------------------------------------------------------------------------------------


def test_defaults_judge_absolute_levels_after_a_minimum_hold() -> None:
    assert attrs.asdict(CombinedConfig()) == {
        "flip_threshold": Decimal(0),
        "exit_apr": Decimal("0.05"),
        "erosion_threshold": None,  # no ratio to the entry peak unless asked for
        "severe_erosion_threshold": None,
        "hold_if_best": True,
        "max_age": timedelta(hours=168),
        "min_hold": timedelta(hours=24),
        "settlement_wait": timedelta(minutes=30),
        # The pipelines after an exit are off by default: an exit closes, as the earlier bot did.
        "transfer_on_exit": None,
        "auto_reopen": None,
        "reduce_size": [],
        "exit_plan": [],
    }
    assert attrs.asdict(ProfitErosionConfig()) == {
        "erosion_threshold": Decimal("0.5"),
        "severe_erosion_threshold": Decimal("0.2"),
        "hold_if_best": True,
    }
    assert DivergenceFlipConfig().flip_threshold == 0
    assert MaxAgeConfig().max_age == timedelta(hours=168)


def test_every_manager_keeps_the_contract_and_plans_nothing_yet() -> None:
    for manager in managers():
        assert isinstance(manager, RiskManager)
        # An empty plan is the closer's "close now"; the action-plan issue extends `combined`.
        assert list(manager.generate_actions(view(Decimal(-1)), FLIP, None)) == []


# -- profit_erosion --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "reason"),
    [
        ("0.0002", None),  # ratio 2: better than at entry
        ("0.00005", None),  # ratio exactly 0.5: not below the threshold
        ("0.0000499999", EROSION),  # just below 0.5
        ("0.00002", EROSION),  # ratio exactly 0.2: eroded, not severely
        ("0.0000199999", SEVERE),  # just below 0.2
        ("0", SEVERE),  # the spread is gone
        ("-0.0001", SEVERE),  # alone, profit_erosion sees a flip as severe erosion
    ],
)
def test_profit_erosion_thresholds(current: str, reason: ExitReason | None) -> None:
    decision = ProfitErosionManager(ProfitErosionConfig()).should_exit(view(Decimal(current)))
    assert decision.exit is (reason is not None)
    assert decision.reason is reason


def test_erosion_detail_never_shows_a_ratio_at_the_threshold() -> None:
    decision = ProfitErosionManager(ProfitErosionConfig()).should_exit(view(Decimal("0.0000499999")))
    assert decision.detail == "erosion ratio 0.4999 < threshold 0.5 (spread 0.0000499999, entry 0.0001)"


def test_erosion_thresholds_are_configurable() -> None:
    manager = ProfitErosionManager(
        ProfitErosionConfig(erosion_threshold=Decimal("0.4"), severe_erosion_threshold=Decimal("0.1"))
    )
    assert not manager.should_exit(view(Decimal("0.000045"))).exit
    assert exits(manager.should_exit(view(Decimal("0.000039"))), EROSION)
    assert exits(manager.should_exit(view(Decimal("0.000015"))), EROSION)
    assert exits(manager.should_exit(view(Decimal("0.0000099"))), SEVERE)


def test_hold_guard_keeps_an_eroded_position_while_it_is_the_best_opportunity() -> None:
    manager = ProfitErosionManager(ProfitErosionConfig())
    held = manager.should_exit(view(Decimal("0.00003"), best=BEST))
    assert not held.exit
    assert held.detail == "profit erosion held: ratio 0.3 < 0.5, but this pair is still the best opportunity"
    assert exits(manager.should_exit(view(Decimal("0.00003"))), EROSION)  # no longer the best: exit


def test_hold_guard_never_holds_severe_erosion_or_a_flip() -> None:
    for manager in (ProfitErosionManager(ProfitErosionConfig()), CombinedManager(CombinedConfig(**LEGACY))):
        assert exits(manager.should_exit(view(Decimal("0.00001"), best=BEST)), SEVERE)
    assert exits(CombinedManager(CombinedConfig(**LEGACY)).should_exit(view(Decimal("-0.00001"), best=BEST)), FLIP)


def test_hold_guard_can_be_switched_off() -> None:
    manager = ProfitErosionManager(ProfitErosionConfig(hold_if_best=False))
    assert exits(manager.should_exit(view(Decimal("0.00003"), best=BEST)), EROSION)


@pytest.mark.parametrize("entry", [Decimal(0), Decimal("-0.0001"), None, Decimal("NaN")])
def test_erosion_without_a_positive_entry_spread_stays_and_says_why(entry: Decimal | None) -> None:
    decision = ProfitErosionManager(ProfitErosionConfig()).should_exit(view(Decimal("-0.001"), entry))
    assert decision == ExitDecision(
        False, None, f"erosion not checked: entry spread {entry!r} is not a positive number"
    )


# -- divergence_flip -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "flips"),
    [("0.00001", False), ("0", False), ("-0.000000000001", True), ("-0.001", True)],
)
def test_divergence_flip_threshold(current: str, flips: bool) -> None:
    decision = DivergenceFlipManager(DivergenceFlipConfig()).should_exit(view(Decimal(current)))
    assert decision.exit is flips
    assert decision.reason is (FLIP if flips else None)


def test_divergence_flip_tolerates_a_configured_negative_spread_and_needs_no_entry_spread() -> None:
    manager = DivergenceFlipManager(DivergenceFlipConfig(flip_threshold=Decimal("-0.00001")))
    assert not manager.should_exit(view(Decimal("-0.00001"), Decimal(0))).exit
    decision = manager.should_exit(view(Decimal("-0.000011"), Decimal(0)))
    assert decision == ExitDecision(True, FLIP, "spread -0.000011 < flip threshold -0.00001")


# -- max_age ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "expired"),
    [
        (timedelta(hours=168) - timedelta(microseconds=1), False),
        (timedelta(hours=168), True),
        (timedelta(days=30), True),
    ],
)
def test_max_age_boundary(age: timedelta, expired: bool) -> None:
    decision = MaxAgeManager(MaxAgeConfig()).should_exit(view(ENTRY, age=age))
    assert decision.exit is expired
    if expired:
        assert decision.reason is AGE
        assert decision.detail.endswith("reached max age 7d")


def test_max_age_counts_from_creation_when_the_open_time_is_unknown() -> None:
    manager = MaxAgeManager(MaxAgeConfig(max_age=timedelta(hours=12)))
    assert exits(manager.should_exit(view(ENTRY, age=timedelta(hours=12), opened=False)), AGE)
    assert not manager.should_exit(view(ENTRY, age=timedelta(hours=11), opened=False)).exit


# -- combined --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "age", "best", "reason"),
    [
        ("-0.00001", timedelta(days=30), None, FLIP),  # flip, severe erosion and age all fire: flip first
        ("0.00001", timedelta(days=30), None, SEVERE),  # severe erosion and age fire: severe first
        ("0.00003", timedelta(days=30), None, EROSION),  # erosion and age fire: erosion first
        ("0.00003", timedelta(days=30), BEST, AGE),  # erosion held by the guard: the age check still applies
        ("0.00008", timedelta(days=30), None, AGE),
        ("0.00008", HOUR, None, None),
        ("0.00003", HOUR, BEST, None),
    ],
)
def test_combined_waterfall(current: str, age: timedelta, best: Decimal | None, reason: ExitReason | None) -> None:
    decision = CombinedManager(CombinedConfig(**LEGACY)).should_exit(view(Decimal(current), age=age, best=best))
    assert decision.reason is reason
    assert decision.exit is (reason is not None)


def test_combined_stay_says_what_the_guard_held() -> None:
    decision = CombinedManager(CombinedConfig(**LEGACY)).should_exit(view(Decimal("0.00003"), best=BEST))
    assert decision == ExitDecision(
        False, None, "profit erosion held: ratio 0.3 < 0.5, but this pair is still the best opportunity"
    )
    assert CombinedManager(CombinedConfig(**LEGACY)).should_exit(view(Decimal("0.00008"))) == ExitDecision.stay()


def test_min_hold_blocks_every_exit_until_it_passes() -> None:
    config = CombinedConfig(**{**LEGACY, "min_hold": HOUR, "max_age": timedelta(minutes=30)})
    manager = CombinedManager(config)
    young = manager.should_exit(view(Decimal("-0.001"), age=timedelta(minutes=59)))
    assert young == ExitDecision(False, None, "min hold 1h not reached (age 59m)")
    assert exits(manager.should_exit(view(Decimal("-0.001"), age=HOUR)), FLIP)
    assert exits(manager.should_exit(view(ENTRY, age=HOUR)), AGE)


def test_combined_without_an_entry_spread_still_exits_on_a_flip_or_age() -> None:
    manager = CombinedManager(CombinedConfig(**LEGACY))
    assert exits(manager.should_exit(view(Decimal("-0.00001"), Decimal(0))), FLIP)
    assert exits(manager.should_exit(view(Decimal("0.00001"), Decimal(0), age=timedelta(days=8))), AGE)
    assert manager.should_exit(view(Decimal("0.00001"), Decimal(0))) == ExitDecision(
        False, None, "erosion not checked: entry spread Decimal('0') is not a positive number"
    )


# -- odd input -------------------------------------------------------------------------------------------------

ODD_VIEWS = {
    "NaN spread": view(Decimal("NaN")),
    "signalling NaN spread": view(Decimal("sNaN")),
    "infinite spread": view(Decimal("-Infinity")),
    "no spread": view(None),
    "float spread": view(-0.5),
    "no entry spread": view(Decimal("0.00001"), None),
    "zero spreads": view(Decimal(0), Decimal(0)),
    "infinite entry": view(Decimal("0.00001"), Decimal("Infinity")),
    "absurd exponents": view(Decimal("-9.99E+999999"), Decimal("1E-999999")),
    "naive now": view(ENTRY, now=NOW.replace(tzinfo=None)),
    "no now": view(ENTRY, now=None),
}


@pytest.mark.parametrize("odd", ODD_VIEWS.values(), ids=ODD_VIEWS.keys())
def test_odd_input_never_raises(odd: PositionView) -> None:
    for manager in managers(min_hold=HOUR):
        decision = manager.should_exit(odd)
        assert isinstance(decision, ExitDecision)
        assert decision.exit is (decision.reason is not None)


def test_odd_input_stays_with_a_reason() -> None:
    combined = CombinedManager(CombinedConfig(**LEGACY))
    assert combined.should_exit(view(Decimal("NaN"))).detail == (
        "flip not checked: current spread Decimal('NaN') is not a number; "
        "erosion not checked: current spread Decimal('NaN') is not a number"
    )
    assert MaxAgeManager(MaxAgeConfig()).should_exit(view(ENTRY, now=None)) == ExitDecision(
        False, None, "age limit not checked: the position's age is unknown"
    )
    # Spreads that are numbers still decide when the timestamps are broken; min hold does not block them.
    blocked = CombinedManager(CombinedConfig(**{**LEGACY, "min_hold": HOUR}))
    assert exits(blocked.should_exit(view(Decimal("-0.001"), now=NOW.replace(tzinfo=None))), FLIP)


# -- properties ------------------------------------------------------------------------------------------------

spreads = st.decimals(Decimal("-0.003"), Decimal("0.003"), places=10)


@st.composite
def configs(draw: st.DrawFn) -> CombinedConfig:
    erosion = draw(st.decimals(0, 1, places=3))
    return CombinedConfig(
        exit_apr=None,
        settlement_wait=timedelta(0),
        flip_threshold=draw(st.decimals(Decimal("-0.0001"), Decimal("0.0001"), places=8)),
        erosion_threshold=erosion,
        severe_erosion_threshold=draw(st.decimals(0, erosion, places=3)),
        hold_if_best=draw(st.booleans()),
        max_age=draw(st.timedeltas(timedelta(seconds=1), timedelta(hours=400))),
        min_hold=draw(st.one_of(st.just(timedelta(0)), st.timedeltas(timedelta(0), timedelta(hours=48)))),
    )


@st.composite
def views(draw: st.DrawFn, config: CombinedConfig) -> PositionView:
    """Views around the config's boundaries: spreads at the thresholds (and a hair either side) as often as not."""
    entry = draw(st.one_of(st.decimals(Decimal("0.000001"), Decimal("0.003"), places=10), st.just(Decimal(0))))
    edges = [config.flip_threshold, entry * config.erosion_threshold, entry * config.severe_erosion_threshold]
    hair = Decimal("1E-12")
    current = draw(
        st.one_of(spreads, st.sampled_from(edges).flatmap(lambda e: st.sampled_from([e - hair, e, e + hair])))
    )
    age_edges = [config.max_age, config.min_hold]
    age = draw(
        st.one_of(
            st.timedeltas(-HOUR, timedelta(hours=500)),
            st.sampled_from(age_edges).flatmap(lambda a: st.sampled_from([a - timedelta(microseconds=1), a])),
        )
    )
    return view(current, entry, age=age, best=draw(st.none() | st.just(BEST)))


@st.composite
def config_and_view(draw: st.DrawFn) -> tuple[CombinedConfig, PositionView]:
    config = draw(configs())
    return config, draw(views(config))


def specified(config: CombinedConfig, v: PositionView) -> ExitReason | None:
    """The waterfall as the issue states it, in exact rational arithmetic: the first check that holds wins."""
    if config.min_hold > timedelta(0) and v.age < config.min_hold:
        return None
    if v.current_spread < config.flip_threshold:
        return FLIP
    if v.entry_spread > 0:
        ratio = Fraction(v.current_spread) / Fraction(v.entry_spread)
        if ratio < Fraction(config.severe_erosion_threshold):
            return SEVERE
        held = config.hold_if_best and v.best_opportunity_spread is not None
        if ratio < Fraction(config.erosion_threshold) and not held:
            return EROSION
    if v.age >= config.max_age:
        return AGE
    return None


def with_current(v: PositionView, current: Decimal) -> PositionView:
    return attrs.evolve(v, current_spread=current)


@given(config_and_view())
def test_combined_respects_the_waterfall_order(case: tuple[CombinedConfig, PositionView]) -> None:
    config, v = case
    decision = CombinedManager(config).should_exit(v)
    assert decision.reason is specified(config, v)
    assert decision.exit is (decision.reason is not None)


@given(config_and_view(), st.decimals(0, Decimal("0.005"), places=10))
def test_a_worse_spread_never_turns_an_exit_into_a_stay(
    case: tuple[CombinedConfig, PositionView], drop: Decimal
) -> None:
    config, v = case
    worse = with_current(v, v.current_spread - drop)
    rank = {reason: i for i, reason in enumerate(WATERFALL)}
    for manager in managers(**attrs.asdict(config)):
        before, after = manager.should_exit(v), manager.should_exit(worse)
        if before.exit:
            assert after.exit, (manager, v.current_spread, worse.current_spread)
            # ... and the reason only moves up the waterfall (towards the flip), never down.
            assert before.reason is not None
            assert after.reason is not None
            assert rank[after.reason] <= rank[before.reason]


@given(config_and_view())
def test_min_hold_blocks_and_then_changes_nothing(case: tuple[CombinedConfig, PositionView]) -> None:
    config, v = case
    assume(config.min_hold > timedelta(0))
    decision = CombinedManager(config).should_exit(v)
    if v.age < config.min_hold:
        assert not decision.exit
        assert decision.detail.startswith("min hold ")
    else:
        assert decision == CombinedManager(attrs.evolve(config, min_hold=timedelta(0))).should_exit(v)


EXTREMES = [Decimal(f"{sign}9.999999999999999999999999999999E+999999") for sign in "+-"] + [Decimal("1E-999999")]
ORDINARY = [Decimal(0), Decimal("-0.001"), ENTRY]


@pytest.mark.parametrize(
    ("current", "entry"),
    [(c, e) for c in EXTREMES + ORDINARY for e in EXTREMES + ORDINARY if c in EXTREMES or e in EXTREMES],
)
def test_extreme_exponents_never_overflow(current: Decimal, entry: Decimal) -> None:
    for manager in managers(erosion_threshold=Decimal(1), severe_erosion_threshold=Decimal(1)) + managers():
        decision = manager.should_exit(view(current, entry))
        assert decision.exit is (decision.reason is not None)


def odd_numbers() -> st.SearchStrategy[Any]:
    """Anything a broken caller might pass: NaN, ±Infinity, extreme exponents, floats, ints, None, text."""
    return st.one_of(
        st.decimals(), st.sampled_from(EXTREMES), st.integers(), st.floats(), st.none(), st.text(max_size=3)
    )


@given(
    current=odd_numbers(),
    entry=odd_numbers(),
    best=odd_numbers(),
    now=st.one_of(aware_datetimes(), st.datetimes(), st.none()),
)
def test_no_input_makes_a_manager_raise(current: Any, entry: Any, best: Any, now: Any) -> None:
    v = attrs.evolve(view(ENTRY), current_spread=current, entry_spread=entry, best_opportunity_spread=best, now=now)
    for manager in managers(min_hold=HOUR, flip_threshold=Decimal("-0.00001")):
        decision = manager.should_exit(v)
        assert decision.exit is (decision.reason is not None)
