"""The manual route passes fundarb's transfer-route contract, gated (two approvals) and below its limit (none)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fundarb_transfer_manual import plugin
from fundarb_transfer_manual.route import ManualTransferRoute

from fundarb_core.actions import ActionContext
from fundarb_core.app.bot import build_venues
from fundarb_core.clock import SimClock
from fundarb_core.config import parse_config
from fundarb_core.plugins import Plugins
from fundarb_core.testing.transfers import TransferRig, TransferRouteContract
from fundarb_core.venues import VenueContext


@pytest.fixture(params=[("500", 2), ("50", 0)], ids=["above-limit", "at-limit"])
def manual_rig(request: pytest.FixtureRequest) -> TransferRig:
    amount, approvals = request.param
    plugins = Plugins().load(entry_points=False)
    plugins.register(plugin, name="transfer_manual", distribution="fundarb-transfer-manual")
    venue = {"kind": "sim", "seed": 1, "symbols": ["BTC"], "persist": False}
    config = parse_config(
        {
            "venues": {"alpha": venue, "beta": venue},
            "transfers": {"route": {"kind": "manual", "approval_limit": "50"}},
        },
        plugins,
    )
    clock = SimClock()
    venues = build_venues(config, plugins, VenueContext(clock))
    context = ActionContext(clock=clock, store=None, venues=venues, config=config, plugins=plugins)  # type: ignore[arg-type]
    route = ManualTransferRoute(config.transfers["route"].config, context)
    return TransferRig(
        clock=clock,
        route=route,
        balance=lambda name: venues[name].ledger.cash,
        amount=Decimal(amount),
        approvals_needed=approvals,
    )


class TestManualRouteContract(TransferRouteContract):
    @pytest.fixture
    def rig(self, manual_rig: TransferRig) -> TransferRig:
        return manual_rig
