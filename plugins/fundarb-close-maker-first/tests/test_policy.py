"""The maker-first close policy: the specs it gives for normal, urgent and emergency closes, and its config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fundarb_close_maker_first import MakerFirstConfig, MakerFirstPolicy, plugin

from fundarb_core.config import parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.execution import ClosePolicy, CloseRequest, LegRef, Urgency
from fundarb_core.model import ExecutionMode, Side
from fundarb_core.plugins import Plugins
from fundarb_core.venues import PositionSnapshot

AT = datetime(2026, 1, 1, tzinfo=UTC)
LONG = LegRef("alpha", "BTC")
SHORT = LegRef("beta", "BTC")


def snapshot(quantity: str) -> PositionSnapshot:
    return PositionSnapshot(
        symbol="BTC",
        quantity=Decimal(quantity),
        entry_price=Decimal(100) if Decimal(quantity) else None,
        mark_price=Decimal(100),
        unrealized_pnl=Decimal(0),
        funding_accrued=Decimal(0),
        margin=Decimal(0),
        leverage=Decimal(1),
        liquidation_price=None,
        at=AT,
    )


def request(urgency: Urgency = Urgency.NORMAL, long: str = "0.5", short: str = "-0.25") -> CloseRequest:
    return CloseRequest("p1", {LONG: snapshot(long), SHORT: snapshot(short)}, "test", urgency)


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    """The built-in plugins and this one, registered in-process (installed entry points are not loaded)."""
    manager = Plugins().load(entry_points=False)
    manager.register(plugin, name="close_maker_first_test", distribution="fundarb-close-maker-first-test")
    return manager


def problems(plugins: Plugins, **settings: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config({"close_policy": {"kind": "maker_first", **settings}}, plugins)
    return list(info.value.problems)


# -- normal and urgent exits -----------------------------------------------------------------------------------


def test_normal_exit_closes_each_leg_maker_first_reduce_only_with_its_exact_size() -> None:
    config = MakerFirstConfig()
    specs = MakerFirstPolicy(config).close_specs(request())
    assert {(s.venue, s.symbol, s.side, s.quantity) for s in specs} == {
        ("alpha", "BTC", Side.SELL, Decimal("0.5")),
        ("beta", "BTC", Side.BUY, Decimal("0.25")),
    }
    for spec in specs:
        assert spec.reduce_only
        assert spec.mode is ExecutionMode.LIMIT_WITH_FALLBACK
        assert spec.timeout == config.timeout
        assert spec.reprice_interval == config.reprice_interval
        assert spec.slippage_bps == config.slippage_bps


def test_urgent_exit_waits_only_the_urgent_timeout() -> None:
    config = MakerFirstConfig(timeout=timedelta(seconds=40), urgent_timeout=timedelta(seconds=7))
    normal = MakerFirstPolicy(config).close_specs(request(Urgency.NORMAL))
    urgent = MakerFirstPolicy(config).close_specs(request(Urgency.URGENT))
    assert {s.timeout for s in normal} == {timedelta(seconds=40)}
    assert {s.timeout for s in urgent} == {timedelta(seconds=7)}
    assert {s.mode for s in urgent} == {ExecutionMode.LIMIT_WITH_FALLBACK}


def test_a_flat_leg_gets_no_spec() -> None:
    specs = MakerFirstPolicy(MakerFirstConfig()).close_specs(request(short="0"))
    assert [(s.venue, s.side, s.quantity) for s in specs] == [("alpha", Side.SELL, Decimal("0.5"))]


@pytest.mark.parametrize(
    ("configured", "open_offset", "expected"),
    [(None, Decimal("2.5"), Decimal("2.5")), (Decimal(0), Decimal("2.5"), Decimal(0)), (Decimal(4), Decimal(1), 4)],
    ids=["unset-uses-open-offset", "zero-is-kept", "configured-wins"],
)
def test_limit_offset_defaults_to_the_strategys_open_offset(
    configured: Decimal | None, open_offset: Decimal, expected: Decimal
) -> None:
    policy = MakerFirstPolicy(MakerFirstConfig(limit_offset_bps=configured), open_offset)
    assert {s.limit_offset_bps for s in policy.close_specs(request())} == {expected}
    assert policy.emergency_spec(request(Urgency.EMERGENCY), LONG).limit_offset_bps == expected


# -- emergencies -----------------------------------------------------------------------------------------------


def test_emergency_flattens_the_survivor_at_market_capped_by_the_emergency_slippage() -> None:
    config = MakerFirstConfig(slippage_bps=Decimal(30), emergency_slippage_bps=Decimal(120))
    spec = MakerFirstPolicy(config).emergency_spec(request(Urgency.EMERGENCY, short="0"), LONG)
    assert (spec.venue, spec.symbol, spec.side, spec.quantity) == ("alpha", "BTC", Side.SELL, Decimal("0.5"))
    assert spec.mode is ExecutionMode.MARKET_ONLY
    assert spec.reduce_only
    assert spec.slippage_bps == Decimal(120)
    assert spec.timeout == config.emergency_timeout
    # The cap is mid ± the emergency slippage: a sell accepts no less than 98.8 on a 100 mid.
    assert spec.worst_price(Decimal(100)) == Decimal("98.8")


def test_emergency_in_limit_mode_tries_post_only_for_the_emergency_timeout_first() -> None:
    config = MakerFirstConfig(emergency_mode="limit", emergency_timeout=timedelta(seconds=3))
    spec = MakerFirstPolicy(config).emergency_spec(request(Urgency.EMERGENCY), SHORT)
    assert (spec.side, spec.quantity) == (Side.BUY, Decimal("0.25"))
    assert spec.mode is ExecutionMode.LIMIT_WITH_FALLBACK
    assert spec.timeout == timedelta(seconds=3)
    assert spec.reduce_only
    assert spec.worst_price(Decimal(100)) == Decimal(101)


def test_emergency_of_a_flat_leg_is_refused() -> None:
    with pytest.raises(ValueError, match="nothing to close"):
        MakerFirstPolicy(MakerFirstConfig()).emergency_spec(request(short="0"), SHORT)


# -- registration and config -----------------------------------------------------------------------------------


def test_registered_as_maker_first_and_honours_the_close_policy_protocol(plugins: Plugins) -> None:
    registration = plugins.registry.get("close_policies", "maker_first")
    assert registration.config_cls is MakerFirstConfig
    policy: Any = registration.factory(MakerFirstConfig(), Decimal(3))
    assert isinstance(policy, MakerFirstPolicy)
    assert isinstance(policy, ClosePolicy)
    assert policy.offset == Decimal(3)


def test_a_full_section_parses_to_the_config(plugins: Plugins) -> None:
    section = parse_config(
        {
            "close_policy": {
                "kind": "maker_first",
                "limit_offset_bps": "1.5",
                "timeout": "45s",
                "urgent_timeout": "5s",
                "reprice_interval": "1s",
                "slippage_bps": "40",
                "emergency_mode": "limit",
                "emergency_timeout": "2s",
                "emergency_slippage_bps": "150",
            }
        },
        plugins,
    ).close_policy
    assert section is not None
    assert section.config == MakerFirstConfig(
        limit_offset_bps=Decimal("1.5"),
        timeout=timedelta(seconds=45),
        urgent_timeout=timedelta(seconds=5),
        reprice_interval=timedelta(seconds=1),
        slippage_bps=Decimal(40),
        emergency_mode="limit",
        emergency_timeout=timedelta(seconds=2),
        emergency_slippage_bps=Decimal(150),
    )


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"limit_offset_bps": "-1"}, "close_policy.limit_offset_bps"),
        ({"timeout": "0s"}, "close_policy.timeout"),
        ({"urgent_timeout": "-5s"}, "close_policy.urgent_timeout"),
        ({"reprice_interval": "0s"}, "close_policy.reprice_interval"),
        ({"slippage_bps": "0"}, "close_policy.slippage_bps"),
        ({"emergency_slippage_bps": "-10"}, "close_policy.emergency_slippage_bps"),
        ({"emergency_mode": "twap"}, "close_policy.emergency_mode"),
        ({"slipage_bps": "10"}, "close_policy"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_an_invalid_setting_is_one_problem_naming_its_key(plugins: Plugins, settings: dict[str, Any], key: str) -> None:
    found = problems(plugins, **settings)
    assert len(found) == 1, found
    assert found[0].startswith(key), found


def test_every_problem_is_reported_at_once(plugins: Plugins) -> None:
    found = problems(plugins, timeout="0s", slippage_bps="0", emergency_mode="twap")
    assert len(found) == 3, found
