"""The sim route passes fundarb's transfer-route contract (at several amounts and delays)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fundarb_transfer_sim import plugin
from fundarb_transfer_sim.route import SimTransferRoute

from fundarb_core.actions import ActionContext
from fundarb_core.app.bot import build_venues
from fundarb_core.clock import SimClock
from fundarb_core.config import parse_config
from fundarb_core.plugins import Plugins
from fundarb_core.testing.transfers import TransferRig, TransferRouteContract
from fundarb_core.venues import VenueContext


@pytest.fixture(params=[("100", "10m"), ("0.01", "0s"), ("9999.99", "3h")], ids=["100-10m", "cent-instant", "all-3h"])
def sim_rig(request: pytest.FixtureRequest) -> TransferRig:
    amount, delay = request.param
    plugins = Plugins().load(entry_points=False)
    plugins.register(plugin, name="transfer_sim", distribution="fundarb-transfer-sim")
    venue = {"kind": "sim", "seed": 1, "symbols": ["BTC"], "persist": False, "starting_balance": "10000"}
    config = parse_config(
        {"venues": {"alpha": venue, "beta": venue}, "transfers": {"route": {"kind": "sim", "delay": delay}}}, plugins
    )
    clock = SimClock()
    venues = build_venues(config, plugins, VenueContext(clock))
    context = ActionContext(clock=clock, store=None, venues=venues, config=config, plugins=plugins)  # type: ignore[arg-type]
    route = SimTransferRoute(config.transfers["route"].config, context)
    return TransferRig(clock=clock, route=route, balance=lambda name: venues[name].ledger.cash, amount=Decimal(amount))


class TestSimRouteContract(TransferRouteContract):
    @pytest.fixture
    def rig(self, sim_rig: TransferRig) -> TransferRig:
        return sim_rig
