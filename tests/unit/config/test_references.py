"""Cross-references: a plugin section's `check(config)` sees the whole config; its lines get the section's path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest

from fundarb_core import hookimpl
from fundarb_core.config import parse_config, share_problems
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins, Register


@attrs.frozen
class PairPolicyConfig:
    """A close policy that names a venue it prefers to close first."""

    first: str = "a"

    def check(self, config: Any) -> list[str]:
        if self.first not in config.venues:
            return [f"first: unknown venue {self.first!r}"]
        return []


@attrs.frozen
class BrokenCheckConfig:
    def check(self, config: Any) -> list[str]:
        raise RuntimeError("plugin bug")


class _Plugin:
    @hookimpl
    def fundarb_register_venues(self, register: Register) -> None:
        register("pair_venue", None, lambda *args: None)  # no settings, so no symbol list

    @hookimpl
    def fundarb_register_close_policies(self, register: Register) -> None:
        register("pair", PairPolicyConfig, lambda *args: None)
        register("broken", BrokenCheckConfig, lambda *args: None)


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    loaded = Plugins().load(entry_points=False)
    loaded.register(_Plugin(), name="pair_policy", distribution="fundarb-pair-policy")
    return loaded


SIM_VENUES = {"a": {"kind": "sim"}, "b": {"kind": "sim"}}


def test_a_plugin_check_line_is_prefixed_with_the_section_path(plugins: Plugins) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"venues": SIM_VENUES, "close_policy": {"kind": "pair", "first": "c"}}, plugins)
    assert info.value.problems == ("close_policy.first: unknown venue 'c'",)


def test_a_passing_check_loads_the_config(plugins: Plugins) -> None:
    config = parse_config({"venues": SIM_VENUES, "close_policy": {"kind": "pair", "first": "b"}}, plugins)
    assert config.close_policy is not None
    assert config.close_policy.config == PairPolicyConfig("b")


def test_references_can_be_skipped_for_a_fragment(plugins: Plugins) -> None:
    config = parse_config({"close_policy": {"kind": "pair", "first": "c"}}, plugins, references=False)
    assert config.close_policy is not None


def test_cross_references_wait_until_every_section_is_valid(plugins: Plugins) -> None:
    data = {"venues": SIM_VENUES, "close_policy": {"kind": "pair", "first": "c"}, "strategy": {"leverage": "0"}}
    with pytest.raises(ConfigError) as info:
        parse_config(data, plugins)
    assert info.value.problems == ("strategy.leverage: must be positive, found 0",)


def test_a_failing_plugin_check_is_reported_not_raised(plugins: Plugins) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"venues": SIM_VENUES, "close_policy": {"kind": "broken"}}, plugins)
    assert info.value.problems == ("close_policy: the 'broken' plugin's check failed (RuntimeError: plugin bug)",)


@pytest.mark.parametrize(
    ("shares", "expected"),
    [
        ({"a": "0.5", "b": "0.5"}, []),
        ({"a": "1"}, []),
        ({}, []),
        ({"a": "0.9", "b": "0.9"}, ["target: shares must sum to 1, found 1.8"]),
        ({"a": "0.5", "c": "0.5"}, ["target.c: unknown venue 'c' (venues: a, b)"]),
        ({"a": "0.3", "b": "0.3", "c": "0.3"}, [
            "target.c: unknown venue 'c' (venues: a, b)", "target: shares must sum to 1, found 0.9",
        ]),
    ],
)  # fmt: skip
def test_share_tables_name_configured_venues_and_sum_to_one(shares: dict[str, str], expected: list[str]) -> None:
    table = {venue: Decimal(share) for venue, share in shares.items()}
    assert share_problems("target", table, {"a": None, "b": None}) == expected


def test_no_venues_configured_is_said_plainly() -> None:
    assert share_problems("target", {"a": Decimal(1)}, {}) == ["target.a: unknown venue 'a' (no venues are configured)"]


@pytest.mark.parametrize(
    ("symbols", "exclude", "expected"),
    [
        (["BTC", "ETH"], [], []),
        (["BTC", "DOGE"], [], ["strategy.symbols[1]: 'DOGE' cannot be traded on two venues (only a lists it)"]),
        (["XRP"], [], ["strategy.symbols[0]: 'XRP' cannot be traded on two venues (no venue lists it)"]),
        (["BTC"], ["BTC"], ["strategy.symbols[0]: 'BTC' is also in strategy.exclude_symbols"]),
    ],
)
def test_strategy_symbols_are_listed_on_two_venues(
    plugins: Plugins, symbols: list[str], exclude: list[str], expected: list[str]
) -> None:
    data = {
        "venues": {"a": {"kind": "sim", "symbols": ["BTC", "ETH", "DOGE"]}, "b": {"kind": "sim"}},
        "strategy": {"symbols": symbols, "exclude_symbols": exclude},
    }
    if not expected:
        assert parse_config(data, plugins).strategy.symbols == symbols
        return
    with pytest.raises(ConfigError) as info:
        parse_config(data, plugins)
    assert list(info.value.problems) == expected


def test_a_venue_that_lists_every_market_may_trade_any_symbol(plugins: Plugins) -> None:
    """A venue section without a symbol list (a real venue: every market it has) does not restrict the strategy."""
    data = {"venues": {"a": {"kind": "sim"}, "b": {"kind": "pair_venue"}}, "strategy": {"symbols": ["BTC"]}}
    assert parse_config(data, plugins).strategy.symbols == ["BTC"]
