"""`fundarb init` then `fundarb run --duration 3d --speed 5000`, then `fundarb positions --json` (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

FUNDARB = Path(sys.executable).with_name("fundarb")


def _fundarb(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNDARB_")}
    return subprocess.run([str(FUNDARB), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.slow
def test_init_run_three_days_then_positions_show_pnl_parts(tmp_path: Path) -> None:
    init = _fundarb("init", "paper.toml", "--data-dir", "data", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    # The starter holds positions for days; for its pipelines to run several times in three simulated days, this
    # run churns as the earlier starter did: the latest quotes, exits after 8 h below a high floor.
    starter = tmp_path / "paper.toml"
    text = starter.read_text()
    for old, new in (('signal_window = "24h"', 'signal_window = "0s"'), ('min_hold = "24h"', 'min_hold = "8h"'),
                     ('exit_apr = "0.05"', 'exit_apr = "0.3"')):  # fmt: skip
        assert old in text
        text = text.replace(old, new)
    starter.write_text(text)
    run = _fundarb("--log-level", "WARNING", "run", "--config", "paper.toml", "--duration", "3d", "--speed", "5000",
                   cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "chart:" in run.stdout
    assert (tmp_path / "data" / "report.png").stat().st_size > 10_000
    listed = _fundarb("positions", "--config", "paper.toml", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    closed = [r for r in rows if r["status"] == "closed"]
    assert len(rows) >= 2
    assert closed, "positions were opened and closed"
    for row in closed:
        parts = Decimal(row["price_pnl"]) + Decimal(row["funding"]) - Decimal(row["fees"])
        assert parts == Decimal(row["net"])
        assert row["exit_reason"]
    # The operator commands work on that store (simulated venues answer in simulated time).
    scanned = _fundarb("scan", "--config", "paper.toml", "--json", cwd=tmp_path)
    assert scanned.returncode == 0, scanned.stderr
    assert all(Decimal(r["net_apr"]) >= Decimal("0.10") for r in json.loads(scanned.stdout))  # the starter's bar
    still_open = [r for r in rows if r["status"] == "open"]
    if still_open:
        closed_now = _fundarb("close", "--config", "paper.toml", still_open[0]["id"], cwd=tmp_path)
        assert closed_now.returncode == 0, closed_now.stderr
        assert closed_now.stdout.strip().endswith("closed")
    assert _fundarb("close", "--config", "paper.toml", "no-such-id", cwd=tmp_path).returncode == 2
    paused = _fundarb("pause", "--config", "paper.toml", cwd=tmp_path)
    assert paused.returncode == 0, paused.stderr
    report = _fundarb("report", "--config", "paper.toml", "--json", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    summary = json.loads(report.stdout)
    assert Path(summary["chart"]).exists()
    # The starter config's pipelines: after an exit, close → transfer back to an even split → reopen.
    listed = _fundarb("actions", "list", "--config", "paper.toml", "--all", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    actions = json.loads(listed.stdout)
    plans: dict[str, list[dict[str, object]]] = {}
    for action in actions:
        plans.setdefault(str(action["plan_id"]), []).append(action)
    complete = [
        sorted(p, key=lambda a: int(str(a["seq"])))
        for p in plans.values()
        if [a["action_type"] for a in sorted(p, key=lambda a: int(str(a["seq"])))]
        == ["close_position", "transfer_funds", "open_position"]
        and all(a["status"] == "succeeded" for a in p)
    ]
    assert complete, "a plan closed, transferred and reopened"
    moved = [p for p in complete if "transfer_id" in (p[1]["result"] or {})]  # type: ignore[operator]
    assert moved, "a transfer moved funds"
    assert any((p[2]["result"] or {}).get("opened") for p in complete), "a plan reopened"  # type: ignore[union-attr]
    assert summary["actions"]["transfers"]["confirmed"] >= len(moved)
    assert Decimal(summary["actions"]["moved"]) > 0
    assert summary["actions"]["reopened"] >= 1
    transfer_action = str(moved[0][1]["id"])
    short = f"{str(moved[0][1]['plan_id'])[:8]}.1"  # the table's form: plan id prefix . step
    shown = _fundarb("actions", "show", "--config", "paper.toml", short, "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["id"] == transfer_action
    assert detail["transfers"][0]["state"] == "confirmed"
    assert [step["action_type"] for step in detail["plan"]] == ["close_position", "transfer_funds", "open_position"]
    refused = _fundarb("actions", "approve", "--config", "paper.toml", transfer_action, cwd=tmp_path)
    assert refused.returncode == 2
    assert "only an action awaiting approval can be approved" in refused.stderr
