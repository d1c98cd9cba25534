"""The market-only close policy: reduce-only market orders with a slippage cap, for every urgency, and its config."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fundarb_close_market_only import MarketOnlyConfig, MarketOnlyPolicy, plugin

from fundarb_core.config import parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.execution import ClosePolicy, CloseRequest, LegRef, Urgency
from fundarb_core.model import ExecutionMode, Side
from fundarb_core.plugins import Plugins
from fundarb_core.venues import PositionSnapshot

AT = datetime(2026, 1, 1, tzinfo=UTC)
LONG = LegRef("alpha", "ETH")
SHORT = LegRef("beta", "ETH")


def snapshot(quantity: str) -> PositionSnapshot:
    return PositionSnapshot(
        symbol="ETH",
        quantity=Decimal(quantity),
        entry_price=Decimal(2000) if Decimal(quantity) else None,
        mark_price=Decimal(2000),
        unrealized_pnl=Decimal(0),
        funding_accrued=Decimal(0),
        margin=Decimal(0),
        leverage=Decimal(1),
        liquidation_price=None,
        at=AT,
    )


def request(urgency: Urgency = Urgency.NORMAL, long: str = "3", short: str = "-2.9") -> CloseRequest:
    return CloseRequest("p7", {LONG: snapshot(long), SHORT: snapshot(short)}, "test", urgency)


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    """The built-in plugins and this one, registered in-process (installed entry points are not loaded)."""
    manager = Plugins().load(entry_points=False)
    manager.register(plugin, name="close_market_only_test", distribution="fundarb-close-market-only-test")
    return manager


@pytest.mark.parametrize("urgency", [Urgency.NORMAL, Urgency.URGENT])
def test_every_exit_is_reduce_only_market_with_the_exact_sizes_and_the_slippage_cap(urgency: Urgency) -> None:
    specs = MarketOnlyPolicy(MarketOnlyConfig(slippage_bps=Decimal(25))).close_specs(request(urgency))
    assert {(s.venue, s.symbol, s.side, s.quantity) for s in specs} == {
        ("alpha", "ETH", Side.SELL, Decimal(3)),
        ("beta", "ETH", Side.BUY, Decimal("2.9")),
    }
    for spec in specs:
        assert spec.mode is ExecutionMode.MARKET_ONLY
        assert spec.reduce_only
        assert spec.slippage_bps == Decimal(25)
    worst = {s.side: s.worst_price(Decimal(2000)) for s in specs}
    assert worst == {Side.SELL: Decimal(1995), Side.BUY: Decimal(2005)}


def test_a_flat_leg_gets_no_spec() -> None:
    specs = MarketOnlyPolicy(MarketOnlyConfig()).close_specs(request(long="0"))
    assert [(s.venue, s.side, s.quantity) for s in specs] == [("beta", Side.BUY, Decimal("2.9"))]


def test_emergency_uses_the_emergency_slippage_cap() -> None:
    config = MarketOnlyConfig(slippage_bps=Decimal(10), emergency_slippage_bps=Decimal(200))
    spec = MarketOnlyPolicy(config).emergency_spec(request(Urgency.EMERGENCY, short="0"), LONG)
    assert (spec.venue, spec.side, spec.quantity) == ("alpha", Side.SELL, Decimal(3))
    assert spec.mode is ExecutionMode.MARKET_ONLY
    assert spec.reduce_only
    assert spec.slippage_bps == Decimal(200)
    assert spec.worst_price(Decimal(2000)) == Decimal(1960)


def test_the_open_offset_is_ignored_market_orders_have_no_limit_price() -> None:
    near = MarketOnlyPolicy(MarketOnlyConfig(), Decimal(0)).close_specs(request())
    far = MarketOnlyPolicy(MarketOnlyConfig(), Decimal(50)).close_specs(request())
    assert near == far


def test_registered_as_market_only_and_honours_the_close_policy_protocol(plugins: Plugins) -> None:
    registration = plugins.registry.get("close_policies", "market_only")
    assert registration.config_cls is MarketOnlyConfig
    policy: Any = registration.factory(MarketOnlyConfig(), Decimal(1))
    assert isinstance(policy, MarketOnlyPolicy)
    assert isinstance(policy, ClosePolicy)


def test_a_section_parses_to_the_config(plugins: Plugins) -> None:
    section = parse_config(
        {"close_policy": {"kind": "market_only", "slippage_bps": "30", "emergency_slippage_bps": "90"}}, plugins
    ).close_policy
    assert section is not None
    assert section.config == MarketOnlyConfig(slippage_bps=Decimal(30), emergency_slippage_bps=Decimal(90))


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"slippage_bps": "0"}, "close_policy.slippage_bps"),
        ({"emergency_slippage_bps": "-1"}, "close_policy.emergency_slippage_bps"),
        ({"slippage_bps": "lots"}, "close_policy.slippage_bps"),
        ({"timeout": "30s"}, "close_policy"),
    ],
    ids=["zero", "negative", "not-a-number", "unknown-key"],
)
def test_an_invalid_setting_is_one_problem_naming_its_key(plugins: Plugins, settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"close_policy": {"kind": "market_only", **settings}}, plugins)
    assert len(info.value.problems) == 1, info.value.problems
    assert info.value.problems[0].startswith(key), info.value.problems
