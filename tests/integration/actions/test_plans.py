"""Plans run by the bot's ActionRunner on simulated venues: close → transfer → reopen, failures, batching."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fundarb_core.actions import ActionPlan, RebalanceAction
from fundarb_core.model import PositionStatus
from fundarb_core.model.records import ActionStatus, TransferState
from tests.integration.bot.conftest import Harness


async def _drain(h: Harness, *, limit: timedelta = timedelta(hours=2), step: timedelta = timedelta(minutes=1)) -> None:
    """Run due actions, advancing simulated time, until nothing is unfinished (or `limit` passes)."""
    waited = timedelta(0)
    while await h.runtime.store.actions.list_unfinished():
        await h.bot.run_actions()
        if not await h.runtime.store.actions.list_unfinished() or waited >= limit:
            return
        await h.clock.sleep(step.total_seconds())
        waited += step


def _open_one(h: Harness):  # type: ignore[no-untyped-def]
    h.call(lambda: h.bot.tick(scan=True))
    (position,) = h.call(lambda: h.runtime.store.positions.list_open())
    return position


def test_close_transfer_reopen_runs_in_order_and_moves_funds(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness(actions={"batch_window": "0s"})
    position = _open_one(h)
    venues = sorted((position.long_venue, position.short_venue))
    plan = ActionPlan.of(
        RebalanceAction("close_position", position.id, "rebalance", key="close"),
        RebalanceAction("transfer_funds", position.id, "rebalance",
                        {"from_venue": venues[0], "to_venue": venues[1], "amount": "250"}),
        RebalanceAction("open_position", position.id, "rebalance", {}),
    )  # fmt: skip
    before = {v: h.bot.venues[v].ledger.cash for v in venues}
    records = h.call(lambda: h.bot.runner.submit(plan))
    assert [r.action_type for r in records] == ["close_position", "transfer_funds", "open_position"]
    assert records[1].depends_on == (records[0].id,)
    h.call(lambda: _drain(h))
    done = h.call(lambda: h.runtime.store.actions.list_plan(records[0].plan_id))
    assert [a.status for a in done] == [ActionStatus.SUCCEEDED] * 3
    assert done[0].finished_at <= done[1].started_at and done[1].finished_at <= done[2].started_at
    closed = h.call(lambda: h.runtime.store.positions.get(position.id))
    assert closed.status is PositionStatus.CLOSED
    assert h.call(lambda: h.runtime.store.transfers.list_unfinished()) == []
    transfer = h.call(lambda: h.runtime.store.transfers.get(done[1].result["transfer_id"]))
    assert transfer.state is TransferState.CONFIRMED
    assert transfer.amount == Decimal(250)
    assert done[1].finished_at - done[1].started_at >= timedelta(minutes=10)  # the route's time in flight
    source, target = (h.bot.venues[v] for v in venues)
    assert source.transfers[transfer.id] == {"withdrawn": "250"}
    assert target.transfers[transfer.id] == {"deposited": "250"}
    reopened = done[2].result["opened"]
    assert reopened is not None
    new = h.call(lambda: h.runtime.store.positions.get(reopened))
    assert new.status is PositionStatus.OPEN
    assert new.id != position.id
    assert before[venues[0]] > 0
