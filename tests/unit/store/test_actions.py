"""The action journal: plans stored before running, ready by urgency and dependencies, one success at most."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from fundarb_core.errors import StoreError
from fundarb_core.model.records import ActionStatus, PlannedAction


def _plan(*specs: tuple[str, str, tuple[str, ...], int]) -> list[PlannedAction]:
    return [
        PlannedAction(kind, {"n": i}, depends_on=deps, urgency=u, id=aid)
        for i, (aid, kind, deps, u) in enumerate(specs)
    ]


async def test_append_plan_journals_every_action_as_pending(store, open_store) -> None:
    records = await store.actions.append_plan(
        [
            PlannedAction("close_position", {"reason": "time_limit", "qty": Decimal("0.5")}, position_id=None),
            PlannedAction("transfer_funds", {"amount": "100"}),
        ],
        plan_id="plan-1",
    )
    assert [r.status for r in records] == [ActionStatus.PENDING, ActionStatus.PENDING]
    assert [r.seq for r in records] == [0, 1]
    reread = await (await open_store()).actions.list_plan("plan-1")
    assert reread == records
    assert reread[0].details == {"reason": "time_limit", "qty": "0.5"}


async def _take(store, owner: str = "bot"):  # type: ignore[no-untyped-def]
    """Start the first ready action, as the runner does; None when nothing is ready."""
    ready = await store.actions.ready(store.clock.now())
    if not ready:
        return None
    (started,) = await store.actions.start([ready[0].id], owner)
    return started


async def test_ready_follows_urgency_then_plan_order_and_waits_for_dependencies(store) -> None:
    await store.actions.append_plan(
        _plan(("close", "close_position", (), 0), ("move", "transfer_funds", ("close",), 0))
    )
    await store.actions.append_plan(_plan(("urgent", "close_position", (), 5)))
    order = []
    while (started := await _take(store)) is not None:
        order.append(started.id)
        assert started.status is ActionStatus.RUNNING
        assert started.attempts == 1
        assert started.claimed_by == "bot"
        await store.actions.mark_succeeded(started.id)
    assert order == ["urgent", "close", "move"]


async def test_a_dependency_that_failed_blocks_its_dependents(store) -> None:
    await store.actions.append_plan(_plan(("a", "close_position", (), 0), ("b", "transfer_funds", ("a",), 0)))
    a = await _take(store)
    await store.actions.mark_failed(a.id, "venue down")
    assert await _take(store) is None
    assert [x.id for x in await store.actions.list_unfinished()] == ["b"]
    assert [(x.id, d.id) for x, d in await store.actions.blocked_by_failure()] == [("b", "a")]


async def test_an_action_succeeds_at_most_once(store) -> None:
    await store.actions.append_plan(_plan(("a", "close_position", (), 0)))
    await store.actions.start(["a"], "bot")
    done = await store.actions.mark_succeeded("a", result={"filled": Decimal("1.5")})
    assert done.status is ActionStatus.SUCCEEDED
    assert done.result == {"filled": "1.5"}
    assert done.finished_at
    with pytest.raises(StoreError, match="is succeeded; it cannot become succeeded"):
        await store.actions.mark_succeeded("a")
    with pytest.raises(StoreError, match="is succeeded; it cannot start"):
        await store.actions.start(["a"], "bot")


async def test_retry_returns_to_pending_and_counts_attempts(store) -> None:
    await store.actions.append_plan(_plan(("a", "close_position", (), 0)))
    first = await _take(store)
    retried = await store.actions.mark_failed(first.id, "timeout", retry=True)
    assert (retried.status, retried.error, retried.attempts) == (ActionStatus.PENDING, "timeout", 1)
    second = await _take(store)
    assert second.attempts == 2
    failed = await store.actions.mark_failed(second.id, "rejected: insufficient margin")
    assert failed.status is ActionStatus.FAILED
    assert failed.status.final
    assert await store.actions.list_unfinished() == []


async def test_approval_and_cancellation(store) -> None:
    await store.actions.append_plan(_plan(("t", "transfer_funds", (), 0), ("u", "transfer_funds", (), 0)))
    waiting = await store.actions.mark_awaiting_approval("t")
    assert waiting.status is ActionStatus.AWAITING_APPROVAL
    assert (await _take(store)).id == "u"  # an action awaiting approval is not ready
    assert (await store.actions.approve("t")).status is ActionStatus.PENDING
    cancelled = await store.actions.cancel("t", "operator said no")
    assert (cancelled.status, cancelled.error) == (ActionStatus.CANCELLED, "operator said no")
    with pytest.raises(StoreError, match="only an action awaiting approval can be approved"):
        await store.actions.approve("t")
    with pytest.raises(StoreError, match="no action 'zzz'"):
        await store.actions.cancel("zzz")


async def test_list_unfinished_is_what_a_restart_resumes(store, open_store) -> None:
    await store.actions.append_plan(
        _plan(("a", "close_position", (), 0), ("b", "transfer_funds", (), 0), ("c", "x", (), 9))
    )
    await store.actions.start(["a"], "bot")  # the bot died here
    await store.actions.start(["b"], "bot")
    await store.actions.mark_succeeded("b")
    after_restart = await (await open_store()).actions.list_unfinished()
    assert [(x.id, x.status) for x in after_restart] == [("c", ActionStatus.PENDING), ("a", ActionStatus.RUNNING)]


async def test_unknown_dependencies_and_duplicate_ids_are_refused_whole(store) -> None:
    with pytest.raises(StoreError, match="depends on ghost, which is neither journalled nor earlier"):
        await store.actions.append_plan(_plan(("a", "x", (), 0), ("b", "x", ("ghost",), 0)))
    with pytest.raises(StoreError, match="depends on b"):  # later in the same plan: could never run first
        await store.actions.append_plan(_plan(("a", "x", ("b",), 0), ("b", "x", (), 0)))
    with pytest.raises(StoreError, match="names an action id twice"):
        await store.actions.append_plan(_plan(("a", "x", (), 0), ("a", "x", (), 0)))
    assert await store.actions.list_unfinished() == []
    # Depending on an action journalled by an earlier plan is fine.
    await store.actions.append_plan(_plan(("a", "x", (), 0)))
    [b] = await store.actions.append_plan(_plan(("b", "x", ("a",), 0)))
    assert b.depends_on == ("a",)


async def test_concurrent_starters_never_get_the_same_action(store, open_store) -> None:
    others = [await open_store() for _ in range(3)]
    await store.actions.append_plan([PlannedAction("noop", id=f"a{i}") for i in range(24)])

    async def drain(s, name: str) -> list[str]:
        got = []
        while ready := await s.actions.ready(s.clock.now()):
            for action in ready:
                try:
                    await s.actions.start([action.id], name)
                except StoreError:  # another starter took it first
                    continue
                got.append(action.id)
        return got

    results = await asyncio.gather(*(drain(s, f"w{i}") for i, s in enumerate([store, *others])))
    claimed = [aid for batch in results for aid in batch]
    assert sorted(claimed) == sorted(f"a{i}" for i in range(24))  # each exactly once
    assert all(a.attempts == 1 for a in await store.actions.list_unfinished())


async def test_ready_start_wait_and_resume_for_the_runner(store, clock) -> None:
    from datetime import timedelta

    await store.actions.append_plan(
        [
            PlannedAction("close_position", id="c", urgency=5, reason="divergence_flipped"),
            PlannedAction("transfer_funds", id="t", depends_on=("c",)),
            PlannedAction("open_position", id="o"),
        ]
    )
    now = clock.now()
    assert [a.id for a in await store.actions.ready(now)] == ["c", "o"]  # most urgent first; t waits for c
    (started,) = await store.actions.start(["c"], "bot")
    assert (started.status, started.attempts, started.reason) == (ActionStatus.RUNNING, 1, "divergence_flipped")
    await store.actions.save_state("c", {"step": 1, "amount": Decimal("2.5")})
    await store.actions.mark_succeeded("c")
    (started_t,) = await store.actions.start(["t"], "bot", state={"batch": "b1"})
    assert started_t.state == {"batch": "b1"}
    waiting = await store.actions.mark_waiting("t", now + timedelta(minutes=10), "transfer in flight")
    assert waiting.status is ActionStatus.WAITING
    assert [a.id for a in await store.actions.ready(now)] == ["o"]  # not due yet
    assert await store.actions.next_due() == now + timedelta(minutes=10)
    (resumed,) = await store.actions.start(["t"], "bot")
    assert resumed.attempts == 1  # resuming a wait is the same attempt
    assert resumed.state == {"batch": "b1"}
    with pytest.raises(StoreError, match="cannot start"):
        await store.actions.start(["t", "o"], "bot")  # all or none: o did not start either
    assert (await store.actions.get("o")).status is ActionStatus.PENDING


async def test_approvals_are_counted_and_cancel_respects_the_point_of_no_return(store) -> None:
    await store.actions.append_plan(_plan(("t", "transfer_funds", (), 0), ("u", "transfer_funds", ("t",), 0)))
    await store.actions.start(["t"], "bot")
    await store.actions.mark_awaiting_approval("t", "send 100 USD")
    approved = await store.actions.approve("t", by="ops")
    assert approved.state == {"approvals": 1, "approved_by": "ops"}
    await store.actions.start(["t"], "bot")
    await store.actions.save_state("t", {"cancellable": False, "cancel_refusal": "funds left aster"})
    await store.actions.mark_awaiting_approval("t", "approve once credited")
    assert (await store.actions.approve("t")).state["approvals"] == 2
    with pytest.raises(StoreError, match="funds left aster"):
        await store.actions.cancel("t")
    await store.actions.start(["t"], "bot")
    await store.actions.mark_failed("t", "route failed")
    blocked = await store.actions.blocked_by_failure()
    assert [(a.id, d.id) for a, d in blocked] == [("u", "t")]
    assert [a.id for a in await store.actions.find("t")] == ["t"]
    assert [a.id for a in await store.actions.list(statuses=[ActionStatus.FAILED])] == ["t"]


async def test_cancel_takes_the_transfer_and_the_batch_with_it_or_refuses(store) -> None:
    from fundarb_core.model.records import TransferState

    await store.actions.append_plan(_plan(("a", "transfer_funds", (), 0), ("b", "transfer_funds", (), 0)))
    await store.actions.start(["a", "b"], "bot", state={"batch": "k1", "batch_members": ["a", "b"]})
    transfer, _ = await store.transfers.request(
        idempotency_key="k1", route="sim", from_venue="x", to_venue="y", asset="USD", amount=Decimal(3), action_id="a"
    )
    for action_id in ("a", "b"):
        await store.actions.mark_waiting(action_id, store.clock.now(), "in the route")
    cancelled = await store.actions.cancel("b", "no")
    assert (cancelled.status, cancelled.error) == (ActionStatus.CANCELLED, "no")
    assert (await store.actions.get("a")).status is ActionStatus.CANCELLED  # the batch goes whole
    assert (await store.transfers.get(transfer.id)).state is TransferState.CANCELLED

    await store.actions.append_plan(_plan(("c", "transfer_funds", (), 0)))
    await store.actions.start(["c"], "bot")
    moving, _ = await store.transfers.request(
        idempotency_key="action-c", route="sim", from_venue="x", to_venue="y", asset="USD", amount=Decimal(1)
    )
    await store.transfers.set_state(moving.id, TransferState.SUBMITTED)
    await store.actions.mark_waiting("c", store.clock.now(), "in the route")
    with pytest.raises(StoreError, match=f"its transfer {moving.id} is submitted"):
        await store.actions.cancel("c")
    assert (await store.actions.get("c")).status is ActionStatus.WAITING
    assert (await store.transfers.get(moving.id)).state is TransferState.SUBMITTED


async def test_an_outcome_and_its_event_are_logged_together_or_not_at_all(store) -> None:
    await store.actions.append_plan(_plan(("a", "close_position", (), 0)))
    await store.actions.start(["a"], "bot")
    event = ("action_done", {"action_id": "a", "status": "succeeded"})
    await store.actions.mark_succeeded("a", result={"ok": True}, events=[event])
    with pytest.raises(StoreError, match="cannot become succeeded"):
        await store.actions.mark_succeeded("a", events=[event])  # a second success: refused, and not logged
    logged = await store.events.list(kind="action_done")
    assert [(e.data, e.position_id) for e in logged] == [({"action_id": "a", "status": "succeeded"}, None)]
