"""`combined`'s pipelines checked against the whole file: the venues and the route they name exist, shares sum to 1."""

from __future__ import annotations

from typing import Any

import pytest
from fundarb_risk_standard import plugin

from fundarb_core import hookimpl
from fundarb_core.config import parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins, Register


class _Route:
    """A transfer handler with no settings, so that a file can name a `[transfers.<route>]`."""

    @hookimpl
    def fundarb_register_transfer_handlers(self, register: Register) -> None:
        register("desk", None, lambda *args: None)


def _plugins() -> Plugins:
    plugins = Plugins().load(entry_points=False)
    plugins.register(plugin, name="risk_standard", distribution="fundarb-risk-standard")
    plugins.register(_Route(), name="desk_route", distribution="fundarb-desk-route")
    return plugins


PLUGINS = _plugins()


def config(risk: dict[str, Any], *, transfers: bool = True) -> dict[str, Any]:
    """A whole file: venues `aster` and `lighter`, a route `desk` (unless told), `combined` with `risk`."""
    return {
        "venues": {"aster": {"kind": "sim"}, "lighter": {"kind": "sim"}},
        "transfers": {"desk": {"kind": "desk"}} if transfers else {},
        "risk_manager": {"kind": "combined", **risk},
    }


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, PLUGINS)
    return list(info.value.problems)


def test_a_consistent_file_loads() -> None:
    loaded = parse_config(
        config(
            {
                "transfer_on_exit": {"target": {"aster": "0.6", "lighter": "0.4"}, "route": "desk"},
                "auto_reopen": {"pair": "same"},
                "reduce_size": [
                    {"erosion_below": "0.8", "fraction": "0.2"},
                    {"erosion_below": "0.7", "fraction": "0.3"},
                ],
            }
        ),
        PLUGINS,
    )
    assert loaded.risk_manager is not None


def test_an_unknown_target_venue_and_shares_summing_to_1_8_are_one_line_each() -> None:
    found = problems(config({"transfer_on_exit": {"target": {"aster": "0.9", "lighter": "0.5", "binance": "0.4"}}}))
    assert found == [
        "risk_manager.transfer_on_exit.target.binance: unknown venue 'binance' (venues: aster, lighter)",
        "risk_manager.transfer_on_exit.target: shares must sum to 1, found 1.8",
    ]


def test_a_target_must_give_every_venue_a_share() -> None:
    assert problems(config({"transfer_on_exit": {"target": {"aster": "1"}}})) == [
        "risk_manager.transfer_on_exit.target: no share for venue 'lighter' (every venue needs one, or none does)"
    ]


def test_the_named_route_must_exist() -> None:
    assert problems(config({"transfer_on_exit": {"route": "bank"}})) == [
        "risk_manager.transfer_on_exit.route: no [transfers.bank] section (routes: desk)"
    ]


def test_a_transfer_needs_some_route() -> None:
    assert problems(config({"transfer_on_exit": {}}, transfers=False)) == [
        "risk_manager.transfer_on_exit: no [transfers.<name>] route is configured to move the funds"
    ]


def test_a_disabled_transfer_is_not_checked() -> None:
    data = config({"transfer_on_exit": {"enabled": False, "target": {"nowhere": "3"}}}, transfers=False)
    assert parse_config(data, PLUGINS).risk_manager is not None


def test_a_repeated_reduction_level_is_reported() -> None:
    steps = [{"erosion_below": "0.8", "fraction": "0.2"}, {"erosion_below": "0.80", "fraction": "0.3"}]
    assert problems(config({"reduce_size": steps})) == [
        "risk_manager.reduce_size[1].erosion_below: 0.80 repeats reduce_size[0] (each level is applied once)"
    ]
