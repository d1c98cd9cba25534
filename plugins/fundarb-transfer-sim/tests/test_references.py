"""`[transfers.<name>] kind = "sim"`: the venues it names are checked against the file's `[venues]`."""

from __future__ import annotations

from typing import Any

import fundarb_transfer_sim.plugin as transfer_sim
import pytest

from fundarb_core import hookimpl
from fundarb_core.config import parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins, Register


class _OtherVenue:
    """A venue kind that is not `sim`, to name in a sim route."""

    @hookimpl
    def fundarb_register_venues(self, register: Register) -> None:
        register("paper", None, lambda *args: None)


def _plugins() -> Plugins:
    plugins = Plugins().load(entry_points=False)
    plugins.register(transfer_sim, name="transfer_sim", distribution="fundarb-transfer-sim")
    plugins.register(_OtherVenue(), name="paper_venue", distribution="fundarb-paper-venue")
    return plugins


PLUGINS = _plugins()


def data(venues: list[str]) -> dict[str, Any]:
    return {
        "venues": {"alpha": {"kind": "sim"}, "beta": {"kind": "sim"}, "desk": {"kind": "paper"}},
        "transfers": {"sim": {"kind": "sim", "venues": venues}},
    }


def test_named_sim_venues_load() -> None:
    config = parse_config(data(["alpha", "beta"]), PLUGINS)
    assert config.transfers["sim"].config.venues == ["alpha", "beta"]


def test_an_unknown_or_non_sim_venue_is_one_line_each() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data(["alpha", "gamma", "desk"]), PLUGINS)
    assert info.value.problems == (
        "transfers.sim.venues[1]: unknown venue 'gamma' (sim venues: alpha, beta)",
        "transfers.sim.venues[2]: venue 'desk' is of kind 'paper'; this route moves funds only between sim venues",
    )
