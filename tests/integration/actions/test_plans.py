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
    assert done[0].finished_at <= done[1].started_at
    assert done[1].finished_at <= done[2].started_at
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


def test_a_failed_transfer_fails_with_its_reason_and_cancels_the_reopen(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness(
        transfers={"sim": {"kind": "sim", "fail_probability": "1"}}, actions={"batch_window": "0s"}
    )
    position = _open_one(h)
    a, b = position.long_venue, position.short_venue
    cash = {v: h.bot.venues[v].ledger.cash for v in (a, b)}
    records = h.call(lambda: h.bot.runner.submit([
        RebalanceAction("close_position", position.id, "rebalance"),
        RebalanceAction("transfer_funds", position.id, "rebalance", {"from_venue": a, "to_venue": b, "amount": "100"}),
        RebalanceAction("open_position", position.id, "rebalance"),
    ]))  # fmt: skip
    h.call(lambda: _drain(h))
    close, transfer, reopen = h.call(lambda: h.runtime.store.actions.list_plan(records[0].plan_id))
    assert close.status is ActionStatus.SUCCEEDED
    assert transfer.status is ActionStatus.FAILED
    assert "simulated failure: the source venue refused the withdrawal" in transfer.error
    assert reopen.status is ActionStatus.CANCELLED
    assert transfer.id in reopen.error
    (record,) = h.call(lambda: h.runtime.store.transfers.for_action(transfer.id))
    assert record.state is TransferState.FAILED
    events = h.call(lambda: h.runtime.store.events.list(kind="alert"))
    assert any(e.data.get("action_id") == transfer.id and e.data["alert"] == "action_failed" for e in events)
    # Nothing lost: the position is closed, no funds left either venue, and nothing was reopened.
    assert h.call(lambda: h.runtime.store.positions.get(position.id)).status is PositionStatus.CLOSED
    assert h.bot.venues[a].transfers == {}
    assert h.bot.venues[b].transfers == {}
    assert h.call(lambda: h.runtime.store.positions.list_open()) == []
    assert all(h.bot.venues[v].ledger.cash >= cash[v] - 5 for v in (a, b))  # only the close's fees and PnL


def test_transfers_between_the_same_venues_inside_the_window_become_one(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness(actions={"batch_window": "5m"})
    a, b = sorted(h.bot.venues)
    detail = {"from_venue": a, "to_venue": b}
    first = h.call(
        lambda: h.bot.runner.submit([RebalanceAction("transfer_funds", None, "x", {**detail, "amount": "40"})])
    )
    h.call(lambda: h.clock.sleep(120))
    second = h.call(
        lambda: h.bot.runner.submit([RebalanceAction("transfer_funds", None, "x", {**detail, "amount": "60"})])
    )
    h.call(lambda: _drain(h))
    one = h.call(lambda: h.runtime.store.actions.get(first[0].id))
    two = h.call(lambda: h.runtime.store.actions.get(second[0].id))
    assert one.status is two.status is ActionStatus.SUCCEEDED
    assert one.result["transfer_id"] == two.result["transfer_id"]
    assert one.result["batched"] == 2
    transfer = h.call(lambda: h.runtime.store.transfers.get(one.result["transfer_id"]))
    assert transfer.amount == Decimal(100)
    assert h.bot.venues[a].transfers == {transfer.id: {"withdrawn": "100"}}


def test_reduce_size_sheds_a_fraction_of_both_legs_once(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness()
    position = _open_one(h)
    qty = {v: abs(h.bot.venues[v].ledger.position("BTC").qty) for v in (position.long_venue, position.short_venue)}
    (record,) = h.call(lambda: h.bot.runner.submit(
        [RebalanceAction("reduce_size", position.id, "profit_erosion", {"fraction": "0.5", "level": "erosion<0.7"})]
    ))  # fmt: skip
    h.call(lambda: _drain(h))
    done = h.call(lambda: h.runtime.store.actions.get(record.id))
    assert done.status is ActionStatus.SUCCEEDED, done.error
    after = {v: abs(h.bot.venues[v].ledger.position("BTC").qty) for v in qty}
    for venue in qty:
        assert after[venue] == qty[venue] - Decimal(done.result["reduced"][venue])
        assert after[venue] > 0
    assert after[position.long_venue] == after[position.short_venue]  # still delta-neutral
    stored = h.call(lambda: h.runtime.store.positions.get(position.id))
    assert stored.status is PositionStatus.OPEN
    assert {leg.venue: leg.filled_quantity for leg in stored.legs} == after
    assert stored.details["reductions"][0]["level"] == "erosion<0.7"


def test_without_the_runner_an_exit_closes_at_once(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness(
        actions={"enabled": False},
        risk_manager={
            "kind": "combined",
            "flip_threshold": "0.01",
            "min_hold": "0s",
            "settlement_wait": "0s",
            "auto_reopen": {"pair": "best"},
        },
    )
    assert h.bot.runner is None
    position = _open_one(h)
    tick = h.call(lambda: h.bot.tick(scan=False))  # a flip threshold no spread reaches: exit now
    assert position.id in tick.closed
    assert h.call(lambda: h.runtime.store.actions.list()) == []


def test_with_the_runner_an_exit_runs_the_risk_managers_plan(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness(
        actions={"batch_window": "0s"},
        risk_manager={"kind": "combined", "flip_threshold": "0.01", "min_hold": "0s", "settlement_wait": "0s",
                      "transfer_on_exit": {"min_amount": "0.01"}, "auto_reopen": {"pair": "same"}},
    )  # fmt: skip
    position = _open_one(h)
    tick = h.call(lambda: h.bot.tick(scan=False))
    assert position.id in tick.closed  # the plan's close ran in the same tick
    actions = h.call(lambda: h.runtime.store.actions.list(position_id=position.id))
    assert [a.action_type for a in sorted(actions, key=lambda a: a.seq)] == [
        "close_position", "transfer_funds", "open_position"
    ]  # fmt: skip
    assert all(a.reason == "divergence_flipped" for a in actions)


def test_an_exit_plan_that_does_not_close_runs_after_the_bot_closed(action_harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness(
        actions={"batch_window": "0s"},
        risk_manager={"kind": "combined", "flip_threshold": "0.01", "min_hold": "0s", "settlement_wait": "0s"},
    )
    position = _open_one(h)
    a, b = position.long_venue, position.short_venue

    def transfer_only(view, reason, context):  # type: ignore[no-untyped-def]
        details = {"from_venue": a, "to_venue": b, "amount": "10"}
        return [RebalanceAction("transfer_funds", view.position.id, reason.value, details)]

    monkeypatch.setattr(h.bot.risk, "generate_actions", transfer_only)
    tick = h.call(lambda: h.bot.tick(scan=False))
    assert position.id in tick.closed  # closed by the bot itself, not left open behind a plan
    (action,) = h.call(lambda: h.runtime.store.actions.list(position_id=position.id))
    assert action.action_type == "transfer_funds"
    assert h.call(lambda: h.runtime.store.positions.get(position.id)).status is PositionStatus.CLOSED
