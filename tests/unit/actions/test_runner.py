"""The ActionRunner against a real SQLite journal in simulated time, with test action types."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest

from fundarb_core import hookimpl
from fundarb_core.actions import (
    ActionContext,
    ActionFailed,
    ActionPlan,
    ActionRunner,
    AwaitApproval,
    Priority,
    RebalanceAction,
    RetryLater,
    RunningAction,
)
from fundarb_core.clock import EPOCH, SimClock
from fundarb_core.config import ActionsConfig, parse_config
from fundarb_core.errors import StoreError
from fundarb_core.model.records import ActionStatus
from fundarb_core.plugins import Plugins, Register
from fundarb_core.store import Store

T = TypeVar("T")
S = ActionStatus


@attrs.frozen
class TagDetails:
    tag: str
    seconds: int = 0
    failures: int = 0
    key: str = "k"


class Log:
    def __init__(self) -> None:
        self.entries: list[tuple[str, float]] = []
        self.batches: list[list[str]] = []
        self.resumed: list[str] = []
        self.approvals: list[int] = []


LOG = Log()


class Record:
    def __init__(self, context: ActionContext) -> None:
        self.context = context

    async def run(self, action: RunningAction) -> Any:
        details: TagDetails = action.details
        if action.resumed:
            LOG.resumed.append(details.tag)
        if details.seconds:
            await self.context.clock.sleep(details.seconds)
        LOG.entries.append((details.tag, self.context.clock.monotonic()))
        return {"tag": details.tag}


class Boom:
    def __init__(self, context: ActionContext) -> None:
        pass

    async def run(self, action: RunningAction) -> Any:
        raise RuntimeError("kaboom")


class Flaky:
    def __init__(self, context: ActionContext) -> None:
        pass

    async def run(self, action: RunningAction) -> Any:
        if action.attempt <= action.details.failures:
            raise RetryLater(f"not yet (attempt {action.attempt})")
        return {"attempt": action.attempt}


class Gate:
    def __init__(self, context: ActionContext) -> None:
        pass

    async def run(self, action: RunningAction) -> Any:
        LOG.approvals.append(action.approvals)
        if action.approvals < 1:
            return AwaitApproval(f"approve {action.details.tag}")
        return {"approved_by": action.state.get("approved_by")}


class Batchy:
    def __init__(self, context: ActionContext) -> None:
        pass

    def batch_key(self, action: RunningAction) -> Hashable | None:
        return action.details.key

    async def run(self, action: RunningAction) -> Any:
        return await self.run_batch([action])

    async def run_batch(self, actions: Sequence[RunningAction]) -> Any:
        LOG.batches.append(sorted(a.details.tag for a in actions))
        return {"batched": len(actions)}


class TestTypes:
    @hookimpl
    def fundarb_register_action_types(self, register: Register) -> None:
        register("record", TagDetails, Record)
        register("boom", None, Boom)
        register("flaky", TagDetails, Flaky)
        register("gate", TagDetails, Gate)
        register("batchy", TagDetails, Batchy)


class Env:
    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        global LOG
        LOG = Log()
        self.plugins = Plugins().load(entry_points=False)
        self.plugins.register(TestTypes(), name="test_types", distribution="test-types")
        self.clock = SimClock(EPOCH)
        self.path = tmp_path / "fundarb.db"
        self.config = parse_config({}, self.plugins)
        self.settings = ActionsConfig(**{"batch_window": timedelta(0), **settings})
        self.store: Store | None = None
        self.runner: ActionRunner | None = None

    async def open(self) -> ActionRunner:
        self.store = await Store.open(self.path, clock=self.clock)
        context = ActionContext(clock=self.clock, store=self.store, venues={}, config=self.config,
                                plugins=self.plugins)  # fmt: skip
        self.runner = ActionRunner(context, self.settings)
        return self.runner

    def run(self, fn: Callable[[ActionRunner], Coroutine[Any, Any, T]]) -> T:
        async def main() -> T:
            runner = await self.open()
            try:
                return await fn(runner)
            finally:
                assert self.store is not None
                await self.store.close()

        return asyncio.run(self.clock.run(main()))


def fail_once(owner: object, name: str) -> list[str]:
    """Make `owner.name` (an async method taking an id first) raise a store error the first time it is called;
    returns the list the failed call's id is appended to."""
    real = getattr(owner, name)
    failed: list[str] = []

    async def once(first: str, *args: Any, **kwargs: Any) -> Any:
        if not failed:
            failed.append(first)
            raise StoreError("store write failed: database is locked")
        return await real(first, *args, **kwargs)

    setattr(owner, name, once)
    return failed


def act(action_type: str, tag: str = "", **details: Any) -> RebalanceAction:
    return RebalanceAction(action_type, None, "test", {"tag": tag or action_type, **details}, key=tag or None)


async def drain(runner: ActionRunner, *, step: float = 1.0, limit: int = 1000) -> None:
    for _ in range(limit):
        await runner.run_due()
        if not await runner.journal.list_unfinished():
            return
        due = await runner.journal.next_due()
        wait = (due - runner.context.clock.now()).total_seconds() if due else step
        await runner.context.clock.sleep(max(step, wait))
    raise AssertionError("the journal did not drain")


def test_steps_run_in_order_and_a_group_runs_at_once(tmp_path: Path) -> None:
    env = Env(tmp_path)

    async def go(runner: ActionRunner) -> list[Any]:
        records = await runner.submit(
            ActionPlan.of(
                act("record", "a"), [act("record", "b", seconds=10), act("record", "c", seconds=10)], act("record", "d")
            )
        )
        assert records[3].depends_on == (records[1].id, records[2].id)
        await drain(runner)
        return await runner.journal.list_plan(records[0].plan_id)

    done = env.run(go)
    assert [a.status for a in done] == [S.SUCCEEDED] * 4
    at = dict(LOG.entries)
    assert LOG.entries[0][0] == "a"
    assert at["b"] == at["c"] == pytest.approx(at["a"] + 10)  # b and c ran concurrently: 10 s, not 20
    assert at["d"] >= at["b"]


def test_urgent_work_runs_first_across_plans(tmp_path: Path) -> None:
    env = Env(tmp_path, max_concurrent=1)

    async def go(runner: ActionRunner) -> None:
        await runner.submit([act("record", "calm")])
        await runner.submit([RebalanceAction("record", None, "x", {"tag": "urgent"}, Priority.URGENT)])
        await runner.submit([RebalanceAction("record", None, "x", {"tag": "low"}, Priority.LOW)])
        await drain(runner)

    env.run(go)
    assert [tag for tag, _ in LOG.entries] == ["urgent", "calm", "low"]


def test_unknown_type_and_raising_handler_fail_with_reasons_alerts_and_dependents_cancelled(tmp_path: Path) -> None:
    env = Env(tmp_path)

    async def go(runner: ActionRunner) -> tuple[list[Any], list[Any]]:
        plan = ActionPlan.of(
            RebalanceAction("no_such_type", None, "x", {}, key="unknown"),
            RebalanceAction("record", None, "x", {"tag": "after-unknown"}, key="dependent"),
            RebalanceAction("record", None, "x", {"tag": "after-dependent"}, key="transitive"),
            RebalanceAction("boom", None, "x", {}, key="boom", after=()),
            RebalanceAction("record", None, "x", {"tag": "independent"}, key="free", after=()),
        )
        records = await runner.submit(plan)
        await drain(runner)
        assert runner.context.store is not None
        return await runner.journal.list_plan(records[0].plan_id), await runner.context.store.events.list()

    actions, events = env.run(go)
    by_key = {a.seq: a for a in actions}
    assert by_key[0].status is S.FAILED
    assert "unknown action type 'no_such_type'" in by_key[0].error
    assert by_key[1].status is S.CANCELLED
    assert by_key[0].id in by_key[1].error
    assert by_key[2].status is S.CANCELLED  # the cancellation spreads down the chain
    assert by_key[3].status is S.FAILED
    assert by_key[3].error == "handler raised RuntimeError: kaboom"
    assert by_key[4].status is S.SUCCEEDED  # not waiting for the failures: it ran
    assert [tag for tag, _ in LOG.entries] == ["independent"]
    alerts = [e.data for e in events if e.kind == "alert"]
    assert {a["action_id"] for a in alerts} == {by_key[0].id, by_key[3].id}
    assert all(a["alert"] == "action_failed" and a["error"] for a in alerts)


def test_transient_errors_retry_with_backoff_then_give_up(tmp_path: Path) -> None:
    env = Env(tmp_path, max_attempts=3, retry_backoff=timedelta(seconds=30))

    async def go(runner: ActionRunner) -> list[Any]:
        ok = await runner.submit([act("flaky", "ok", failures=2)])
        bad = await runner.submit([act("flaky", "bad", failures=10)])
        start = runner.context.clock.now()
        await runner.run_due()
        first = await runner.journal.get(ok[0].id)
        assert first is not None
        assert first.status is S.PENDING
        assert first.not_before == start + timedelta(seconds=30)
        assert first.error == "not yet (attempt 1)"
        await drain(runner)
        return [await runner.journal.get(ok[0].id), await runner.journal.get(bad[0].id)]

    ok, bad = env.run(go)
    assert ok.status is S.SUCCEEDED
    assert ok.attempts == 3
    assert ok.result["attempt"] == 3
    assert ok.finished_at - ok.started_at == timedelta(seconds=30 + 60)  # 30 s, then doubled
    assert bad.status is S.FAILED
    assert bad.attempts == 3
    assert bad.error.startswith("gave up after 3 attempts")


def test_invalid_details_fail_naming_the_key(tmp_path: Path) -> None:
    env = Env(tmp_path)

    async def go(runner: ActionRunner) -> Any:
        (record,) = await runner.submit([RebalanceAction("record", None, "x", {"tag": "t", "seconds": "soon"})])
        await drain(runner)
        return await runner.journal.get(record.id)

    failed = env.run(go)
    assert failed.status is S.FAILED
    assert failed.error.startswith("invalid details: details.seconds:")


def test_transfers_inside_the_window_run_as_one_batch(tmp_path: Path) -> None:
    env = Env(tmp_path, batch_window=timedelta(minutes=5))

    async def go(runner: ActionRunner) -> list[Any]:
        a = await runner.submit([act("batchy", "a")])
        await runner.context.clock.sleep(60)
        b = await runner.submit([act("batchy", "b")])
        c = await runner.submit([act("batchy", "c", key="other")])
        await runner.run_due()
        assert LOG.batches == []  # still collecting
        await runner.context.clock.sleep(240)  # a's window is over: a and b go together
        await runner.run_due()
        assert LOG.batches == [["a", "b"]]
        pending = await runner.journal.get(c[0].id)
        assert pending is not None
        assert pending.status is S.PENDING  # c (another key) joined at 60 s: its window ends at 360 s
        await runner.context.clock.sleep(60)
        await runner.run_due()
        return [await runner.journal.get(x[0].id) for x in (a, b, c)]

    a, b, c = env.run(go)
    assert sorted(LOG.batches) == [["a", "b"], ["c"]]
    assert a.status is b.status is c.status is S.SUCCEEDED
    assert a.result["batched"] == b.result["batched"] == 2
    assert a.state["batch"] == b.state["batch"] != c.state["batch"]


def test_an_interrupted_action_resumes_in_the_same_attempt(tmp_path: Path) -> None:
    env = Env(tmp_path)

    async def go(runner: ActionRunner) -> Any:
        (record,) = await runner.submit([act("record", "x")])
        await runner.journal.start([record.id], "dead-bot")  # a bot died while running it
        lines = await runner.resume()
        assert lines == [f"action {record.id} record: interrupted while running; will resume"]
        await drain(runner)
        return await runner.journal.get(record.id)

    done = env.run(go)
    assert done.status is S.SUCCEEDED
    assert done.attempts == 1
    assert LOG.resumed == ["x"]
    assert done.state["interrupted"] is False  # later runs are not "resumed"


def test_approval_stops_the_action_until_approved(tmp_path: Path) -> None:
    env = Env(tmp_path)

    async def go(runner: ActionRunner) -> Any:
        (gate, after) = await runner.submit([act("gate", "g"), act("record", "after")])
        await runner.run_due()
        waiting = await runner.journal.get(gate.id)
        assert waiting is not None
        assert waiting.status is S.AWAITING_APPROVAL
        assert waiting.error == "approve g"
        await runner.run_due()
        assert LOG.approvals == [0]  # not run again before an approval
        await runner.journal.approve(gate.id, by="ops")
        await drain(runner)
        return await runner.journal.get(gate.id), await runner.journal.get(after.id)

    gate, after = env.run(go)
    assert LOG.approvals == [0, 1]
    assert gate.status is after.status is S.SUCCEEDED
    assert gate.result["approved_by"] == "ops"


def test_cancelling_an_action_cancels_what_waits_for_it(tmp_path: Path) -> None:
    env = Env(tmp_path)

    async def go(runner: ActionRunner) -> list[Any]:
        records = await runner.submit([act("gate", "g"), act("record", "next")])
        await runner.run_due()
        await runner.journal.cancel(records[0].id, "operator said no")
        await runner.run_due()
        return [await runner.journal.get(r.id) for r in records]

    gate, nxt = env.run(go)
    assert (gate.status, gate.error) == (S.CANCELLED, "operator said no")
    assert nxt.status is S.CANCELLED
    assert LOG.entries == []


def test_an_empty_plan_journals_nothing(tmp_path: Path) -> None:
    env = Env(tmp_path)
    assert env.run(lambda runner: runner.submit([])) == []


def test_money_in_details_is_stored_exactly(tmp_path: Path) -> None:
    env = Env(tmp_path)

    async def go(runner: ActionRunner) -> Any:
        (record,) = await runner.submit([RebalanceAction("no_such_type", None, "x", {"amount": Decimal("0.1")})])
        return await runner.journal.get(record.id)

    assert env.run(go).details == {"amount": "0.1"}


def test_a_plan_naming_an_unknown_position_is_refused_whole(tmp_path: Path) -> None:
    env = Env(tmp_path)

    async def go(runner: ActionRunner) -> list[Any]:
        with pytest.raises(ActionFailed, match="position nope, which is not in the store"):
            await runner.submit([act("record", "a"), RebalanceAction("record", "nope", "x", {"tag": "b"})])
        return await runner.journal.list()

    assert env.run(go) == []


@pytest.mark.parametrize("write", ["mark_succeeded", "mark_failed"])
def test_an_action_left_running_by_a_failed_status_write_is_resumed_while_the_runner_goes_on(
    tmp_path: Path, write: str
) -> None:
    """Found by review: a status write that failed after the handler acted (the store briefly unreachable) left the
    action `running` with nothing to run it, and the rest of its plan never ran until a restart. Now the next run
    resumes it, as after a crash (its handler told it was interrupted), and the plan goes on."""
    env = Env(tmp_path)

    async def go(runner: ActionRunner) -> list[Any]:
        # mark_failed: the first attempt asks to be retried later, and that is what is not written.
        first = act("record", "a", seconds=5) if write == "mark_succeeded" else act("flaky", "a", failures=1)
        records = await runner.submit(ActionPlan.of(first, act("record", "b")))
        failed = fail_once(runner.journal, write)
        await drain(runner)
        assert failed == [records[0].id]
        return await runner.journal.list_plan(records[0].plan_id)

    done = env.run(go)
    assert [a.status for a in done] == [S.SUCCEEDED, S.SUCCEEDED]
    if write == "mark_succeeded":
        assert LOG.resumed == ["a"]  # run again told it was interrupted: it reconciles before acting


def test_only_the_actions_this_runner_left_running_are_resumed_not_another_processs(tmp_path: Path) -> None:
    """Found by the second review: resuming every `running` action of the same owner name would take over one that
    another bot (which took the store over) is running now. Only those this runner started and could not record."""
    env = Env(tmp_path)

    async def go(runner: ActionRunner) -> tuple[Any, Any]:
        (theirs,) = await runner.submit(ActionPlan.of(act("record", "theirs")))
        await runner.journal.start([theirs.id], runner.owner)  # running in another process, under the same name
        (mine,) = await runner.submit(ActionPlan.of(act("record", "mine")))
        failed = fail_once(runner.journal, "mark_succeeded")
        for _ in range(5):
            await runner.run_due()
            await runner.context.clock.sleep(60)
        assert failed == [mine.id]
        return await runner.journal.get(theirs.id), await runner.journal.get(mine.id)

    theirs, mine = env.run(go)
    assert mine.status is S.SUCCEEDED  # resumed: its plan goes on
    assert theirs.status is S.RUNNING  # left to the process running it
    assert LOG.resumed == ["mine"]
