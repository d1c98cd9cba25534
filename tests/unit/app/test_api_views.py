"""The equity series: exact sums whatever the thinning, each closed position counted once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fundarb_core.app.api._views import ClosedPnL, bot_state, equity_series
from fundarb_core.clock import EPOCH
from fundarb_core.model.records import ControlCommand, ControlRecord, LeaseRecord


def test_thinned_series_keeps_exact_sums_and_the_last_close() -> None:
    closed = ClosedPnL()
    rows = [(f"p{n}", EPOCH + timedelta(hours=n), Decimal("0.01") * (n % 7 - 3),
             {"funding": "0.1", "price_pnl": "-0.05", "fees": "0.02"}) for n in range(1001)]  # fmt: skip
    closed.add(rows[:600])
    closed.add(rows[500:])  # an overlapping re-read: nothing counted twice
    series = equity_series(closed, [], EPOCH + timedelta(days=60), max_points=100)
    assert len(series["points"]) <= 101
    assert series["summary"]["closed"] == 1001
    total = sum((r[2] for r in rows), Decimal(0))
    assert Decimal(series["summary"]["realised_net"]) == total
    assert series["points"][-2]["at"] == rows[-1][1].isoformat()
    assert Decimal(series["points"][-2]["net"]) == total
    assert Decimal(series["summary"]["funding"]) == Decimal("100.1")


def test_bot_state_follows_the_last_applied_command_and_the_lease() -> None:
    now = EPOCH + timedelta(hours=1)
    lease = LeaseRecord(
        owner="fundarb-run:1", acquired_at=EPOCH, renewed_at=now, expires_at=now + timedelta(seconds=30)
    )
    pause = ControlRecord(id=1, command=ControlCommand.PAUSE, issued_at=EPOCH, issued_by="cli", consumed=True,
                          consumed_at=EPOCH)  # fmt: skip
    resume = ControlRecord(id=2, command=ControlCommand.RESUME, issued_at=now, issued_by="api")
    state = bot_state([pause, resume], lease, [], now=now, simulated=False)
    assert state["state"] == "paused"
    assert [c["command"] for c in state["pending_commands"]] == ["resume"]
    assert bot_state([pause], lease, [], now=now + timedelta(minutes=5), simulated=False)["state"] == "stopped"
    assert bot_state([], None, [], now=now, simulated=True)["state"] == "stopped"
    assert bot_state([], lease, [], now=now, simulated=False)["state"] == "running"
