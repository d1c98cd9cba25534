"""Stop the bot with SIGKILL in the middle of a close and start again: the close finishes, nothing is sent twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("crash_close.py")


def _spawn(phase: str, data_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FUNDARB_LOAD_PLUGINS": ""}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), phase, str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [1, 2, 3, 4])
def test_sigkill_mid_close_then_restart_finishes_the_close_without_resending(tmp_path: Path, kill_after: int) -> None:
    data_dir = tmp_path / "data"
    first = _spawn("open-and-close", data_dir)
    assert first.stdout is not None
    killed_after: str | None = None
    opened = False
    close_intents = 0
    for line in first.stdout:
        msg = json.loads(line)
        opened = opened or "opened" in msg
        assert "unexpected" not in msg
        close_intents += bool(opened and msg.get("reduce_only"))
        if close_intents == kill_after:
            # The kill_after-th journal write of the close (an intent, or an order's reported state) is durable,
            # and what came before it was sent: kill now.
            killed_after = msg.get("intent") or msg["state"]
            first.send_signal(signal.SIGKILL)
            break
    _, first_err = first.communicate(timeout=60)  # drains and closes the pipes
    assert killed_after is not None, first_err
    assert first.returncode == -signal.SIGKILL

    second = _spawn("resume", data_dir)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    ((_position_id, status, attempt),) = result["positions"]
    assert status == "closed", result
    assert attempt == 1  # the interrupted close was resumed, not started over with new order ids
    assert all(Decimal(q) == 0 for q in result["ledgers"].values())
    assert any("interrupted close will resume" in line for line in result["report"])
    # The order whose intent was journalled just before the kill exists at most once at its venue,
    # and the store holds exactly one intent for it.
    at_venues = [cid for orders in result["orders"].values() for cid in orders if cid == killed_after]
    assert len(at_venues) <= 1
    assert result["intents"].count(killed_after) == 1  # one intent row per client order id
    # Reduce-only orders filled exactly the position, never more (nothing was sent twice).
    for venue, orders in result["orders"].items():
        closed = sum(Decimal(f) for _, f, reduce_only in orders.values() if reduce_only)
        opened_qty = sum(Decimal(f) for _, f, reduce_only in orders.values() if not reduce_only)
        assert closed == opened_qty, (venue, orders)
