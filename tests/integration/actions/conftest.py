"""Bots with the action runner on simulated venues, a sim transfer route and the standard risk managers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fundarb_close_maker_first.plugin as maker_first
import fundarb_risk_standard.plugin as risk_standard
import fundarb_transfer_manual.plugin as transfer_manual
import fundarb_transfer_sim.plugin as transfer_sim
import pytest

from fundarb_core.plugins import Plugins
from tests.integration.bot.conftest import Harness, make_config


def action_plugins() -> Plugins:
    plugins = Plugins().load(entry_points=False)
    for module, name, dist in (
        (maker_first, "close_maker_first", "fundarb-close-maker-first"),
        (risk_standard, "risk_standard", "fundarb-risk-standard"),
        (transfer_sim, "transfer_sim", "fundarb-transfer-sim"),
        (transfer_manual, "transfer_manual", "fundarb-transfer-manual"),
    ):
        plugins.register(module, name=name, distribution=dist)
    return plugins


SIM_ROUTE = {"sim": {"kind": "sim", "delay": "10m"}}


@pytest.fixture
def action_harness(tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Harness] = []

    def make(**sections: Any) -> Harness:
        plugins = action_plugins()
        sections.setdefault("transfers", SIM_ROUTE)
        sections.setdefault("strategy", {"symbols": ["BTC"], "max_positions": 1})
        h = Harness(make_config(tmp_path / f"data{len(made)}", plugins, **sections), plugins)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()
