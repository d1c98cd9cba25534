"""`combined`'s pipelines: close → transfer back to the target split → reopen, and partial reductions.

Managers are built from `[risk_manager]` sections through the core's config loader, as the bot builds them. The
position is the BTC pair long on `aster`, short on `lighter`, opened an hour before `NOW`, with an entry spread of
0.0001 (1 bp per hour), so a current spread of 0.00007 is an erosion ratio of exactly 0.7.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fundarb_risk_standard import CombinedConfig, CombinedManager, plugin
from fundarb_risk_standard.config import ReduceStep, TransferOnExit
from hypothesis import assume, given
from hypothesis import strategies as st

from fundarb_core.actions import ActionPlan, Priority, RebalanceAction, as_plan, validate_details
from fundarb_core.config import parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.model import ExitReason, PositionStatus
from fundarb_core.model.records import PlannedAction, PositionRecord
from fundarb_core.plugins import Plugins
from fundarb_core.store import as_stored
from fundarb_core.strategy import ExitDecision, PositionView
from fundarb_core.strategy.risk import PlanContext

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ENTRY = Decimal("0.0001")
HOUR = timedelta(hours=1)
FLIP, SEVERE, EROSION, AGE = (
    ExitReason.DIVERGENCE_FLIPPED,
    ExitReason.SEVERE_EROSION,
    ExitReason.PROFIT_EROSION,
    ExitReason.TIME_LIMIT,
)
# Two reduction steps above the erosion exit (0.5): shed 20 % below 0.8, 30 % below 0.7.
STEPS = [{"erosion_below": "0.8", "fraction": "0.2"}, {"erosion_below": "0.7", "fraction": "0.3"}]


def _plugins() -> Plugins:
    plugins = Plugins().load(entry_points=False)
    plugins.register(plugin, name="risk_standard", distribution="fundarb-risk-standard")
    return plugins


PLUGINS = _plugins()


def manager(**settings: Any) -> CombinedManager:
    """A `combined` manager from a `[risk_manager]` section (TOML values: strings for decimals and durations)."""
    legacy = {"erosion_threshold": "0.5", "severe_erosion_threshold": "0.2", "min_hold": "0s", "settlement_wait": "0s"}
    section = parse_config(
        {"risk_manager": {"kind": "combined", **legacy, **settings}}, PLUGINS, references=False
    ).risk_manager
    assert section is not None
    built = PLUGINS.registry.get("risk_managers", section.kind).factory(section.config)
    assert isinstance(built, CombinedManager)
    return built


def problems(**settings: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config({"risk_manager": {"kind": "combined", **settings}}, PLUGINS, references=False)
    return list(info.value.problems)


def view(
    current: Any = Decimal("0.00003"),
    entry: Any = ENTRY,
    *,
    age: timedelta = HOUR,
    best: Decimal | None = None,
    reductions: list[dict[str, Any]] | None = None,
    long_venue: str = "aster",
    short_venue: str = "lighter",
) -> PositionView:
    start = NOW - age
    position = PositionRecord(
        "pos-1",
        "BTC",
        PositionStatus.OPEN,
        long_venue,
        short_venue,
        Decimal(1000),
        created_at=start,
        updated_at=start,
        opened_at=start,
        state={} if reductions is None else {"reductions": reductions},
    )
    return PositionView(position, NOW, entry, current, {}, {}, best)


def context(decision: ExitDecision, *, closed: bool = False) -> PlanContext:
    return PlanContext(decision, ("aster", "lighter"), ("desk",), closed)


def exit_context(reason: ExitReason) -> PlanContext:
    return context(ExitDecision(True, reason, "test"))


def validated(action: RebalanceAction) -> Any:
    """The action's details as its handler will read them back from the journal."""
    details_cls = PLUGINS.registry.get("action_types", action.action_type).config_cls
    return validate_details(details_cls, as_stored(action.details))


# -- no pipeline: close now ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [FLIP, SEVERE, EROSION, AGE])
def test_without_a_pipeline_the_plan_is_empty(reason: ExitReason) -> None:
    assert list(manager().generate_actions(view(), reason, exit_context(reason))) == []
    assert list(manager().generate_actions(view(), reason, None)) == []


def test_disabled_pipelines_plan_nothing() -> None:
    off = manager(transfer_on_exit={"enabled": False}, auto_reopen={"enabled": False})
    assert list(off.generate_actions(view(), EROSION, exit_context(EROSION))) == []


def test_a_reduce_request_without_reduction_steps_plans_nothing() -> None:
    reduce = context(ExitDecision(False, EROSION, "", reduce=Decimal("0.3")))
    assert list(manager(auto_reopen={}).generate_actions(view(Decimal("0.00006")), EROSION, reduce)) == []


# -- close → transfer → reopen ---------------------------------------------------------------------------------


def test_close_transfer_reopen_with_every_setting() -> None:
    combined = manager(
        transfer_on_exit={"target": {"aster": "3", "lighter": "1", "hyperliquid": "6"}, "route": "desk",
                          "min_amount": "25"},
        auto_reopen={"pair": "same", "size_usd": "500"},
    )  # fmt: skip
    actions = list(combined.generate_actions(view(), EROSION, exit_context(EROSION)))
    assert actions == [
        RebalanceAction("close_position", "pos-1", "profit_erosion", {"urgency": "normal"}, Priority.NORMAL, "close"),
        RebalanceAction(
            "transfer_funds",
            "pos-1",
            "profit_erosion",
            {
                "rebalance": {"aster": Decimal("0.75"), "lighter": Decimal("0.25")},
                "min_amount": Decimal(25),
                "route": "desk",
            },
            Priority.NORMAL,
            "transfer",
        ),
        RebalanceAction(
            "open_position",
            "pos-1",
            "profit_erosion",
            {"symbol": "BTC", "long_venue": "aster", "short_venue": "lighter", "size_usd": Decimal(500)},
            key="reopen",
        ),
    ]
    close, transfer, reopen = (validated(a) for a in actions)
    assert close.urgency == "normal"
    assert transfer.rebalance == {"aster": Decimal("0.75"), "lighter": Decimal("0.25")}
    assert transfer.route == "desk"
    assert transfer.min_amount == 25
    assert (reopen.symbol, reopen.long_venue, reopen.short_venue, reopen.size_usd) == ("BTC", "aster", "lighter", 500)


def test_defaults_split_equally_and_reopen_the_best_opportunity() -> None:
    actions = list(manager(transfer_on_exit={}, auto_reopen={}).generate_actions(view(), AGE, exit_context(AGE)))
    assert [a.action_type for a in actions] == ["close_position", "transfer_funds", "open_position"]
    assert actions[1].details == {"rebalance": {"aster": Decimal("0.5"), "lighter": Decimal("0.5")},
                                  "min_amount": Decimal(10)}  # fmt: skip
    assert actions[2].details == {}  # no route, no size, no pair: the best opportunity now
    assert all(a.reason == "time_limit" and a.position_id == "pos-1" for a in actions)


def test_reopen_on_another_pair_excludes_the_closed_one() -> None:
    actions = list(manager(auto_reopen={"pair": "other"}).generate_actions(view(), FLIP, exit_context(FLIP)))
    assert [a.action_type for a in actions] == ["close_position", "open_position"]
    assert actions[1].details == {"exclude_position_pair": True}
    assert validated(actions[1]).exclude_position_pair is True


def test_a_transfer_alone_follows_the_close() -> None:
    actions = list(manager(transfer_on_exit={}).generate_actions(view(), EROSION, exit_context(EROSION)))
    assert [(a.action_type, a.key) for a in actions] == [("close_position", "close"), ("transfer_funds", "transfer")]


@pytest.mark.parametrize(
    ("target", "aster", "lighter"),
    [
        ({}, "0.5", "0.5"),
        ({"aster": "3", "lighter": "1"}, "0.75", "0.25"),
        ({"aster": "0.6", "lighter": "0.4", "binance": "5"}, "0.6", "0.4"),  # other venues are ignored
        ({"aster": "0", "lighter": "2"}, "0", "1"),
        pytest.param({"aster": "0", "lighter": "0"}, "0.5", "0.5", id="all-zero"),  # nothing to go by: equal split
    ],
)
def test_rebalance_shares_are_the_target_renormalised_to_the_two_venues(
    target: dict[str, str], aster: str, lighter: str
) -> None:
    actions = list(manager(transfer_on_exit={"target": target}).generate_actions(view(), AGE, exit_context(AGE)))
    shares = actions[1].details["rebalance"]
    assert shares == {"aster": Decimal(aster), "lighter": Decimal(lighter)}
    assert validated(actions[1]).rebalance == shares


def test_rebalance_thirds_still_sum_to_exactly_one() -> None:
    actions = manager(transfer_on_exit={"target": {"lighter": "2", "aster": "1"}}).generate_actions(
        view(), AGE, exit_context(AGE)
    )
    shares = actions[1].details["rebalance"]
    assert shares["aster"] == Decimal(1) / 3
    assert sum(shares.values()) == 1
    validated(actions[1])  # the transfer handler insists on an exact sum of 1


share = st.decimals(0, 1000, places=6)


@given(
    target=st.fixed_dictionaries({}, optional={"aster": share, "lighter": share, "binance": share, "okx": share}),
    pair=st.sampled_from([("aster", "lighter"), ("lighter", "aster"), ("okx", "aster")]),
)
def test_rebalance_shares_are_valid_for_any_target(target: dict[str, Decimal], pair: tuple[str, str]) -> None:
    """Any target: the position's two venues, shares ≥ 0 summing to exactly 1, in the target's proportion."""
    long_venue, short_venue = pair
    combined = CombinedManager(CombinedConfig(transfer_on_exit=TransferOnExit(target=target)))
    actions = list(combined.generate_actions(view(long_venue=long_venue, short_venue=short_venue), AGE, None))
    shares = actions[1].details["rebalance"]
    assert set(shares) == {long_venue, short_venue}
    assert sum(shares.values()) == 1
    assert all(s >= 0 for s in shares.values())
    a, b = (target.get(v, Decimal(1)) for v in (long_venue, short_venue))
    assume(a + b > 0)  # both zero: the "all-zero" case above
    assert abs(shares[long_venue] - a / (a + b)) <= Decimal("1E-27")
    validated(actions[1])


# -- urgency ---------------------------------------------------------------------------------------------------


def test_a_flip_is_planned_more_urgently_than_profit_erosion() -> None:
    combined = manager(transfer_on_exit={}, auto_reopen={})
    flip = list(combined.generate_actions(view(), FLIP, exit_context(FLIP)))
    erosion = list(combined.generate_actions(view(), EROSION, exit_context(EROSION)))
    assert flip[0].urgency > erosion[0].urgency
    assert flip[1].urgency > erosion[1].urgency
    assert (flip[0].urgency, erosion[0].urgency) == (Priority.URGENT, Priority.NORMAL)
    assert flip[0].details == {"urgency": "urgent"}
    assert erosion[0].details == {"urgency": "normal"}
    assert validated(flip[0]).urgency == "urgent"


@pytest.mark.parametrize(("reason", "urgent"), [(FLIP, True), (SEVERE, True), (EROSION, False), (AGE, False)])
def test_urgency_by_reason(reason: ExitReason, urgent: bool) -> None:
    close = manager(auto_reopen={}).generate_actions(view(), reason, exit_context(reason))[0]
    assert close.urgency == (Priority.URGENT if urgent else Priority.NORMAL)
    assert close.details["urgency"] == ("urgent" if urgent else "normal")


# -- the plan --------------------------------------------------------------------------------------------------


def test_the_actions_form_a_sequential_plan() -> None:
    combined = manager(transfer_on_exit={"route": "desk"}, auto_reopen={"pair": "same"})
    actions = combined.generate_actions(view(), FLIP, exit_context(FLIP))
    plan = as_plan(actions)
    assert isinstance(plan, ActionPlan)
    assert plan.actions == list(actions)
    assert [len(step) for step in plan.steps] == [1, 1, 1]
    why = "divergence_flipped"
    assert plan.planned("p") == [
        PlannedAction("close_position", {"urgency": "urgent"}, "pos-1", (), Priority.URGENT, "p.0", why),
        PlannedAction("transfer_funds", actions[1].details, "pos-1", ("p.0",), Priority.URGENT, "p.1", why),
        PlannedAction("open_position", actions[2].details, "pos-1", ("p.1",), Priority.NORMAL, "p.2", why),
    ]


def test_a_plan_without_the_transfer_reopens_right_after_the_close() -> None:
    planned = as_plan(manager(auto_reopen={}).generate_actions(view(), EROSION, exit_context(EROSION))).planned("q")
    assert [(p.action_type, p.depends_on) for p in planned] == [("close_position", ()), ("open_position", ("q.0",))]


# -- reduce_size: should_exit ----------------------------------------------------------------------------------


def shed(fraction: str, level: str, current: str) -> ExitDecision:
    detail = f"spread {current} eroded below {level} of entry {ENTRY}: shed {fraction}"
    return ExitDecision(False, EROSION, detail, reduce=Decimal(fraction))


@pytest.mark.parametrize(
    ("current", "reductions", "expected"),
    [
        ("0.00009", None, ExitDecision.stay()),  # ratio 0.9: no step crossed
        ("0.00008", None, ExitDecision.stay()),  # ratio exactly 0.8: not below it
        ("0.000079", None, shed("0.2", "0.8", "0.000079")),
        ("0.00007", None, shed("0.2", "0.8", "0.00007")),  # exactly 0.7: only the first step is crossed
        ("0.000065", None, shed("0.3", "0.7", "0.000065")),  # both crossed: the deepest
        ("0.000065", [{"level": "erosion<0.7"}], shed("0.2", "0.8", "0.000065")),  # the deepest was applied
        ("0.000075", [{"level": "erosion<0.8"}], ExitDecision.stay()),  # the only crossed step was applied
        ("0.000065", [{"level": "erosion<0.8"}, {"level": "erosion<0.7"}], ExitDecision.stay()),
        ("0.000065", [{"fraction": "0.3"}], shed("0.3", "0.7", "0.000065")),  # a record without a level: none done
    ],
)
def test_reduce_steps(current: str, reductions: list[Any] | None, expected: ExitDecision) -> None:
    decision = manager(reduce_size=STEPS).should_exit(view(Decimal(current), reductions=reductions))
    assert decision == expected
    assert not decision.exit


def test_an_odd_reduction_record_is_refused_by_the_typed_state_not_guessed_at() -> None:
    with pytest.raises(ValueError, match="reductions"):
        view(Decimal("0.000065"), reductions=["erosion<0.7"])


def test_a_full_exit_wins_over_a_reduction() -> None:
    combined = manager(reduce_size=STEPS)
    decision = combined.should_exit(view(Decimal("0.00004")))  # ratio 0.4: below the erosion threshold 0.5
    assert decision.exit
    assert decision.reason is EROSION
    assert decision.reduce is None
    assert combined.should_exit(view(Decimal("-0.00001"))).reason is FLIP


def test_min_hold_blocks_a_reduction() -> None:
    combined = manager(reduce_size=STEPS, min_hold="2h")
    assert combined.should_exit(view(Decimal("0.000065"))) == ExitDecision(
        False, None, "min hold 2h not reached (age 1h)"
    )
    assert combined.should_exit(view(Decimal("0.000065"), age=2 * HOUR)).reduce == Decimal("0.3")


def test_no_entry_spread_no_reduction() -> None:
    decision = manager(reduce_size=STEPS).should_exit(view(Decimal("0.00001"), Decimal(0)))
    assert decision.reduce is None
    assert not decision.exit


# -- reduce_size: the plan -------------------------------------------------------------------------------------


def test_a_reduce_decision_plans_one_reduce_size_action() -> None:
    combined = manager(reduce_size=STEPS, transfer_on_exit={}, auto_reopen={})  # the exit pipeline is not used
    v = view(Decimal("0.000065"))
    decision = combined.should_exit(v)
    assert decision.reduce == Decimal("0.3")
    actions = list(combined.generate_actions(v, EROSION, context(decision)))
    assert actions == [
        RebalanceAction("reduce_size", "pos-1", "profit_erosion", {"fraction": Decimal("0.3"), "level": "erosion<0.7"})
    ]
    details = validated(actions[0])
    assert (details.fraction, details.level) == (Decimal("0.3"), "erosion<0.7")
    assert as_plan(actions).planned("r")[0].depends_on == ()


def test_the_next_step_once_the_first_is_recorded() -> None:
    combined = manager(reduce_size=STEPS)
    v = view(Decimal("0.000065"), reductions=[{"level": "erosion<0.7", "fraction": "0.3"}])
    actions = list(combined.generate_actions(v, EROSION, context(combined.should_exit(v))))
    assert [(a.action_type, dict(a.details)) for a in actions] == [
        ("reduce_size", {"fraction": Decimal("0.2"), "level": "erosion<0.8"})
    ]


def test_a_reduce_already_applied_when_the_plan_is_built_plans_nothing() -> None:
    combined = manager(reduce_size=STEPS)
    decision = combined.should_exit(view(Decimal("0.000075")))
    assert decision.reduce == Decimal("0.2")
    applied = view(Decimal("0.000075"), reductions=[{"level": "erosion<0.8"}])
    assert list(combined.generate_actions(applied, EROSION, context(decision))) == []


def test_reduce_step_levels_name_their_threshold() -> None:
    assert ReduceStep(Decimal("0.7"), Decimal("0.3")).level == "erosion<0.7"
    assert manager(reduce_size=STEPS).config.reduce_size == [
        ReduceStep(Decimal("0.8"), Decimal("0.2")),
        ReduceStep(Decimal("0.7"), Decimal("0.3")),
    ]


ODD = {
    "NaN spread": view(Decimal("NaN")),
    "signalling NaN spread": view(Decimal("sNaN")),
    "no spread": view(None),
    "float spread": view(-0.5),
    "no entry spread": view(Decimal("0.00001"), None),
    "absurd exponents": view(Decimal("-9.99E+999999"), Decimal("1E-999999")),
}


@pytest.mark.parametrize("odd", ODD.values(), ids=ODD.keys())
def test_odd_input_never_raises_and_sheds_nothing_with_reduction_steps(odd: PositionView) -> None:
    combined = manager(reduce_size=STEPS, transfer_on_exit={}, auto_reopen={})
    decision = combined.should_exit(odd)
    assert decision.reduce is None
    assert decision.exit is (decision.reason is not None)
    reduce = context(ExitDecision(False, EROSION, "", reduce=Decimal("0.3")))
    planned = list(combined.generate_actions(odd, EROSION, reduce))
    if not isinstance(odd.current_spread, Decimal) or not odd.current_spread.is_finite():
        assert planned == []  # not a number: no step is crossed
    assert [a.action_type for a in planned] in ([], ["reduce_size"])


# -- config ----------------------------------------------------------------------------------------------------


def test_every_pipeline_setting_is_read() -> None:
    config = manager(
        transfer_on_exit={"enabled": True, "target": {"aster": "0.6", "lighter": "0.4"}, "route": "desk",
                          "min_amount": "50"},
        auto_reopen={"enabled": True, "pair": "other", "size_usd": "750.5"},
        reduce_size=STEPS,
    ).config  # fmt: skip
    assert config.transfer_on_exit is not None
    assert config.transfer_on_exit.target == {"aster": Decimal("0.6"), "lighter": Decimal("0.4")}
    assert (config.transfer_on_exit.route, config.transfer_on_exit.min_amount) == ("desk", Decimal(50))
    assert config.auto_reopen is not None
    assert (config.auto_reopen.pair, config.auto_reopen.size_usd) == ("other", Decimal("750.5"))
    assert manager().config.transfer_on_exit is None
    assert manager().config.auto_reopen is None
    assert manager().config.reduce_size == []


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"reduce_size": [{"erosion_below": "0.7", "fraction": "1.5"}]},
            "risk_manager.reduce_size[0].fraction: must be between 0 and 1 (exclusive), found 1.5",
        ),
        (
            {"reduce_size": [STEPS[0], {"erosion_below": "0.7", "fraction": "0"}]},
            "risk_manager.reduce_size[1].fraction: must be between 0 and 1 (exclusive), found 0",
        ),
        (
            {"reduce_size": [{"erosion_below": "2", "fraction": "0.5"}]},
            "risk_manager.reduce_size[0].erosion_below: must be between 0 and 1, found 2",
        ),
        ({"reduce_size": [{"fraction": "0.5"}]}, "risk_manager.reduce_size[0].erosion_below: missing"),
        (
            {"auto_reopen": {"pair": "sideways"}},
            "risk_manager.auto_reopen.pair: expected one of 'best', 'same', 'other', found 'sideways'",
        ),
        ({"auto_reopen": {"size_usd": "0"}}, "risk_manager.auto_reopen.size_usd: must be positive, found 0"),
        ({"transfer_on_exit": {"enabled": "yes"}}, "risk_manager.transfer_on_exit.enabled: expected true or false"),
        (
            {"transfer_on_exit": {"target": {"aster": "-1"}}},
            "risk_manager.transfer_on_exit.target: the share of 'aster' must be a non-negative decimal",
        ),
        ({"transfer_on_exit": {"rout": "desk"}}, "risk_manager.transfer_on_exit.rout: unknown key"),
    ],
)
def test_bad_pipeline_values_name_their_key_path(settings: dict[str, Any], expected: str) -> None:
    (problem,) = problems(**settings)
    assert problem.startswith(expected), problem


def test_every_bad_pipeline_value_is_reported_at_once() -> None:
    found = problems(
        reduce_size=[{"erosion_below": "2", "fraction": "1.5"}],
        auto_reopen={"pair": "sideways"},
        transfer_on_exit={"target": {"lighter": "-0.5"}},
    )
    assert [p.split(":")[0] for p in found] == [
        "risk_manager.transfer_on_exit.target",
        "risk_manager.auto_reopen.pair",
        "risk_manager.reduce_size[0].erosion_below",
        "risk_manager.reduce_size[0].fraction",
    ]
