"""A third-party action type that declares it closes a position is the closing step of an exit plan set in TOML.

The plugin is installed as a distribution (dist-info with a `fundarb` entry point) and found by entry-point
discovery; the plan comes from `[[risk_manager.exit_plan]]`. The bot must leave the close to the plan (it does not
close the position itself first), and the plan's close must go through the close port like the built-in one.
"""

from __future__ import annotations

import asyncio
import tomllib
from datetime import timedelta
from pathlib import Path

from fundarb_core.app.runtime import Runtime
from fundarb_core.config import parse_config
from fundarb_core.model import PositionStatus
from fundarb_core.model.records import ActionStatus
from fundarb_core.plugins import LOAD_ENV, Plugins

DESK = """
from __future__ import annotations

import attrs

from fundarb_core import hookimpl
from fundarb_core.actions import ActionFailed
from fundarb_core.execution import Urgency
from fundarb_core.model import ExitReason


@attrs.frozen
class DeskDetails:
    desk: str = "default"


class DeskClose:
    def __init__(self, context):
        self.context = context

    async def run(self, action):
        if self.context.closer is None:
            raise ActionFailed("no close port")
        before = await self.context.store.positions.get(action.position_id)
        closed = await self.context.closer.close_by_id(action.position_id, ExitReason(action.reason), Urgency.NORMAL)
        return {"desk": action.details.desk, "status_before": before.status.value, "status": closed.status.value}


@hookimpl
def fundarb_register_action_types(register):
    register("desk_close", DeskDetails, DeskClose, closes_position=True)
"""

CONFIG = """
[bot]
log_level = "WARNING"
[venues.alpha]
kind = "sim"
profile = "aster-like"
seed = 7
symbols = ["BTC", "ETH", "SOL"]
[venues.beta]
kind = "sim"
profile = "lighter-like"
seed = 7
symbols = ["BTC", "ETH", "SOL"]
[strategy]
min_net_apr = "0.05"
signal_window = "0s"
entry_hold = "168h"
maker_share = "1"
max_positions = 1
scan_interval = "5m"
monitor_interval = "5m"
[risk_manager]
kind = "combined"
max_age = "1h"
min_hold = "0s"

[[risk_manager.exit_plan]]
action_type = "desk_close"
key = "close"
details = { desk = "ops" }
"""


def test_a_declared_closing_action_type_closes_through_a_toml_plan(in_process_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    in_process_site.add("fundarb-action-desk", modules={"desk_close": DESK}, entry_points={"desk": "desk_close"})
    plugins = Plugins().load(environ={LOAD_ENV: "fundarb-action-desk,fundarb-risk-standard,fundarb-close-maker-first"})
    assert plugins.registry.closes_position("desk_close")
    raw = tomllib.loads(CONFIG)
    raw["bot"]["data_dir"] = str(tmp_path / "data")
    config = parse_config(raw, plugins)

    async def go() -> tuple[list, list]:  # type: ignore[type-arg]
        runtime = await Runtime.open(config, plugins)
        assert runtime.bot is not None
        await runtime.clock.run(runtime.bot.run(duration=timedelta(hours=3)))  # type: ignore[attr-defined]
        positions = await runtime.store.positions.list()
        actions = await runtime.store.actions.list()
        await runtime.close()
        return positions, actions

    positions, actions = asyncio.run(go())
    assert {a.action_type for a in actions} == {"desk_close"}, "the configured plan, not the built-in close"
    done = [a for a in actions if a.status is ActionStatus.SUCCEEDED]
    assert done, "a position reached max_age and its plan ran"
    for action in done:
        assert action.result is not None
        assert action.result["desk"] == "ops"
        assert action.result["status_before"] == "open", "the bot left the close to the plan"
        assert action.result["status"] == "closed"
    closed = {p.id for p in positions if p.status is PositionStatus.CLOSED}
    assert {a.position_id for a in done} <= closed
