"""A manual transfer waits for an operator: `fundarb actions list/approve/cancel` against the bot's own store."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import tomli_w
from click.testing import CliRunner

from fundarb_core.actions import RebalanceAction
from fundarb_core.cli._actions import actions as actions_cli
from fundarb_core.config import load_config
from fundarb_core.model.records import ActionStatus, TransferState
from tests.integration.actions.conftest import action_plugins
from tests.integration.bot.conftest import Harness


def _harness(tmp_path: Path, **extra: Any) -> tuple[Harness, Path]:
    symbols = ["BTC"]
    data = {
        "bot": {"data_dir": str(tmp_path / "data"), "log_level": "WARNING"},
        "venues": {
            "aster_sim": {"kind": "sim", "profile": "aster-like", "seed": 7, "symbols": symbols},
            "lighter_sim": {"kind": "sim", "profile": "lighter-like", "seed": 7, "symbols": symbols},
        },
        "transfers": {"desk": {"kind": "manual", "approval_limit": "50"}},
        "actions": {"batch_window": "0s"},
        **extra,
    }
    path = tmp_path / "fundarb.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    plugins = action_plugins()
    return Harness(load_config(path, plugins), plugins), path


def _cli(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(actions_cli, [args[0], "--config", str(config), *args[1:]])
    return result


def test_each_step_waits_for_an_operator_approval(tmp_path: Path) -> None:
    h, config = _harness(tmp_path)
    try:
        (action,) = h.call(lambda: h.bot.runner.submit([RebalanceAction(
            "transfer_funds", None, "rebalance", {"from_venue": "aster_sim", "to_venue": "lighter_sim", "amount": "200"}
        )]))  # fmt: skip
        source, target = h.bot.venues["aster_sim"], h.bot.venues["lighter_sim"]
        cash = source.ledger.cash, target.ledger.cash
        h.call(lambda: h.bot.run_actions())
        listed = _cli(config, "list", "--json")
        assert listed.exit_code == 0, listed.output
        (row,) = json.loads(listed.output)
        assert row["status"] == "awaiting_approval"
        assert "send 200 USD from aster_sim to lighter_sim" in row["error"]
        h.call(lambda: h.bot.run_actions())  # nothing moves without the operator
        assert source.ledger.cash == cash[0]
        alerts = h.call(lambda: h.runtime.store.events.list(kind="alert"))
        assert [e.data["alert"] for e in alerts] == ["approval_needed"]

        approved = _cli(config, "approve", f"{action.plan_id[:8]}.0")
        assert approved.exit_code == 0, approved.output
        h.call(lambda: h.bot.run_actions())  # the operator sent it: withdrawn; now waits for "credited"
        waiting = h.call(lambda: h.runtime.store.actions.get(action.id))
        assert waiting.status is ActionStatus.AWAITING_APPROVAL
        assert "credited" in waiting.error
        assert source.ledger.cash == cash[0] - Decimal(200)
        assert target.ledger.cash == cash[1]
        refused = _cli(config, "cancel", action.id)  # funds already left: too late to cancel
        assert refused.exit_code == 2
        assert "can no longer be cancelled" in refused.output

        assert _cli(config, "approve", action.id).exit_code == 0
        h.call(lambda: h.bot.run_actions())
        done = h.call(lambda: h.runtime.store.actions.get(action.id))
        assert done.status is ActionStatus.SUCCEEDED
        assert done.attempts == 3  # one run per step: request, send, credit
        transfer = h.call(lambda: h.runtime.store.transfers.get(done.result["transfer_id"]))
        assert transfer.state is TransferState.CONFIRMED
        assert target.ledger.cash == cash[1] + Decimal(200)
        shown = _cli(config, "show", action.id)
        assert "transfer" in shown.output
        assert "confirmed" in shown.output
    finally:
        h.close()


def test_an_operator_can_cancel_before_anything_moved(tmp_path: Path) -> None:
    h, config = _harness(tmp_path)
    try:
        records = h.call(lambda: h.bot.runner.submit([
            RebalanceAction("transfer_funds", None, "x", {"from_venue": "aster_sim", "to_venue": "lighter_sim",
                                                          "amount": "200"}),
            RebalanceAction("open_position", None, "x"),
        ]))  # fmt: skip
        h.call(lambda: h.bot.run_actions())
        cancelled = _cli(config, "cancel", records[0].id, "--reason", "not today")
        assert cancelled.exit_code == 0, cancelled.output
        h.call(lambda: h.bot.run_actions())
        transfer_action, reopen = (h.call(lambda r=r: h.runtime.store.actions.get(r.id)) for r in records)
        assert (transfer_action.status, transfer_action.error) == (ActionStatus.CANCELLED, "not today")
        assert reopen.status is ActionStatus.CANCELLED
        (transfer,) = h.call(lambda: h.runtime.store.transfers.for_action(records[0].id))
        assert transfer.state is TransferState.CANCELLED
        assert h.bot.venues["aster_sim"].transfers == {}
        assert _cli(config, "show", "nope").exit_code == 2
    finally:
        h.close()


def test_small_amounts_move_without_waiting(tmp_path: Path) -> None:
    h, _ = _harness(tmp_path)
    try:
        (action,) = h.call(lambda: h.bot.runner.submit([RebalanceAction(
            "transfer_funds", None, "x", {"from_venue": "aster_sim", "to_venue": "lighter_sim", "amount": "50"}
        )]))  # fmt: skip
        h.call(lambda: h.bot.run_actions())
        assert h.call(lambda: h.runtime.store.actions.get(action.id)).status is ActionStatus.SUCCEEDED
    finally:
        h.close()
