"""A rebalance between venues that settle in different assets compares them at the `[bot] collateral_usd` pegs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from fundarb_core.actions import RebalanceAction
from fundarb_core.model.records import ActionStatus
from tests.integration.actions.test_plans import _drain
from tests.integration.bot.conftest import Harness

A, B = "aster_sim", "lighter_sim"


def _settle_in(h: Harness, assets: dict[str, str]) -> None:
    for name, asset in assets.items():
        venue: Any = h.bot.venues[name]

        async def balance(venue: Any = venue, fetch: Any = venue.fetch_balance, asset: str = asset) -> Any:
            return attrs.evolve(await fetch(), asset=asset)

        venue.fetch_balance = balance


def test_a_rebalance_values_each_venue_at_its_assets_peg(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness(actions={"batch_window": "0s"}, bot={"collateral_usd": {"USDT": "0.5"}})
    _settle_in(h, {A: "USDT", B: "USDC"})  # 10 000 each: worth 5 000 and 10 000 USD
    (action,) = h.call(lambda: h.bot.runner.submit([RebalanceAction("transfer_funds", None, "x",
                                                                    {"rebalance": {A: "0.5", B: "0.5"}})]))  # fmt: skip
    h.call(lambda: _drain(h))
    done = h.call(lambda: h.runtime.store.actions.get(action.id))
    assert (done.result["from_venue"], Decimal(done.result["amount"])) == (B, Decimal(2500))


def test_an_asset_without_a_peg_is_never_added_one_for_one(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness(actions={"batch_window": "0s"})
    _settle_in(h, {A: "USDT", B: "DAI"})
    (action,) = h.call(lambda: h.bot.runner.submit([RebalanceAction("transfer_funds", None, "x",
                                                                    {"rebalance": {A: "0.5", B: "0.5"}})]))  # fmt: skip
    h.call(lambda: _drain(h))
    done = h.call(lambda: h.runtime.store.actions.get(action.id))
    assert done.status is ActionStatus.FAILED
    assert "DAI, which has no [bot] collateral_usd peg" in (done.error or "")
