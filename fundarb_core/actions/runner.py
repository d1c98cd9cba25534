"""The ActionRunner: journals plans, then runs their actions by type, durably, resuming after a crash.

Every action is in the store before anything of it runs (`submit`), and every move of it is stored before the next
external step (`pending → running → succeeded | failed`, with `waiting` and `awaiting_approval` in between). The
journal's conditional updates make "succeeded" happen at most once per action. `run_due` runs what is due, most
urgent first: independent actions at once (up to `max_concurrent`), a plan's steps in order. A failed or
cancelled action cancels the actions that wait for it; the others run on. `resume` (on start) hands actions that
a dead process left `running` back to their handlers with `resumed=True`, which reconcile before acting.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Hashable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Final

import attrs
from loguru import logger

from fundarb_core.actions.handler import (
    ActionContext,
    ActionFailed,
    ActionHandler,
    AwaitApproval,
    BatchHandler,
    Outcome,
    RetryLater,
    RunningAction,
    Wait,
)
from fundarb_core.actions.plan import ActionPlan, RebalanceAction, as_plan
from fundarb_core.config._check import INVALID, Walker
from fundarb_core.config._model import ActionsConfig
from fundarb_core.convert import get_converter
from fundarb_core.errors import PluginError, StoreError, VenueError
from fundarb_core.events import ActionDone, ActionPlanned, Alert, EventPayload
from fundarb_core.model.records import ActionRecord, ActionStatus
from fundarb_core.plugins import Registration
from fundarb_core.store._base import new_id

__all__ = ["ActionRunner", "RunReport", "backoff", "validate_details"]

S = ActionStatus
MAX_ROUNDS: Final = 32  # rounds per `run_due`: an action finishing makes the next ones ready in the same call


def backoff(settings: ActionsConfig, attempts: int) -> timedelta:
    """The wait before the next attempt: `retry_backoff × 2^(attempts−1)`, at most `max_backoff`."""
    delay: timedelta = settings.retry_backoff * (2 ** max(0, attempts - 1))
    return min(delay, settings.max_backoff)


@attrs.define
class RunReport:
    """What one `run_due` call did (action ids by outcome)."""

    succeeded: list[str] = attrs.field(factory=list)
    failed: list[str] = attrs.field(factory=list)
    waiting: list[str] = attrs.field(factory=list)
    retrying: list[str] = attrs.field(factory=list)
    awaiting_approval: list[str] = attrs.field(factory=list)
    cancelled: list[str] = attrs.field(factory=list)

    @property
    def ran(self) -> int:
        return len(self.succeeded) + len(self.failed) + len(self.waiting) + len(self.retrying)


def validate_details(cls: type[Any] | None, data: Mapping[str, Any]) -> Any:
    """Build `cls` from stored details, or raise `ActionFailed` naming every problem (`details.<key>: ...`)."""
    if cls is None:
        return dict(data)
    walker = Walker(get_converter(), None)
    result = walker.attrs_class(dict(data), cls, "details")
    if result is INVALID or walker.problems:
        raise ActionFailed("invalid details: " + "; ".join(walker.problems))
    return result


@attrs.define
class _Unit:
    """What runs together: one action, or a batch of actions with the same key."""

    handler: ActionHandler
    actions: list[RunningAction]
    batch: str | None = None

    @property
    def urgency(self) -> int:
        return max(a.record.urgency for a in self.actions)


class ActionRunner:
    """Runs journalled action plans; see the module docstring."""

    def __init__(
        self,
        context: ActionContext,
        settings: ActionsConfig | None = None,
        *,
        owner: str = "fundarb",
    ) -> None:
        self.context = context
        self.settings = settings or context.config.actions
        self.owner = owner
        self.journal = context.store.actions
        self._handlers: dict[str, tuple[Registration, ActionHandler]] = {}
        self._active: set[str] = set()  # actions whose handler runs now, in this runner
        self._orphans: set[str] = set()  # started here, status not written after: maybe left `running` (see below)

    # -- submitting --------------------------------------------------------------------------------------------

    async def submit(
        self, plan: ActionPlan | Sequence[RebalanceAction], *, plan_id: str | None = None
    ) -> list[ActionRecord]:
        """Journal a plan (all its actions, pending) before any of it runs; return the journalled actions.

        Unknown action types and invalid details are journalled too: they fail when their turn comes, with the
        reason, so nothing of the plan is lost. A plan naming a position the store does not have is refused whole
        (`ActionFailed`), before anything is written.
        """
        plan = as_plan(plan)
        if not plan:
            return []
        for position_id in {a.position_id for a in plan.actions if a.position_id is not None}:
            if await self.context.store.positions.get(position_id) is None:
                raise ActionFailed(
                    f"the plan names position {position_id}, which is not in the store; nothing journalled"
                )
        plan_id = plan_id or new_id()
        records = await self.journal.append_plan(plan.planned(plan_id), plan_id=plan_id)
        for r in records:
            if ("action_types", r.action_type) not in self.context.plugins.registry:
                logger.bind(action=r.id).warning("plan {} holds unknown action type {!r}", plan_id, r.action_type)
        await self._event(
            ActionPlanned(
                position_id=records[0].position_id,
                plan_id=plan_id,
                actions=tuple({"id": r.id, "type": r.action_type, "depends_on": list(r.depends_on)} for r in records),
            )
        )
        return records

    # -- resuming ----------------------------------------------------------------------------------------------

    async def resume(self) -> list[str]:
        """On start: hand actions a dead process left `running` back to their handlers, marked resumed.

        They become `waiting` (due now) with `interrupted: true` in their state: the next `run_due` runs them in the
        same attempt, and their handlers reconcile with the venues (by client order id, transfer key, position id)
        before acting. Returns one line per unfinished action, for the start-up report.
        """
        lines = []
        for record in await self.journal.list_unfinished():
            if record.status is S.RUNNING and record.id not in self._active:
                await self.journal.save_state(record.id, {"interrupted": True})
                await self.journal.mark_waiting(record.id, self.context.clock.now(), "interrupted; resuming")
                lines.append(f"action {record.id} {record.action_type}: interrupted while running; will resume")
            else:
                lines.append(f"action {record.id} {record.action_type}: {record.status.value}")
        for line in lines:
            logger.info("actions: {}", line)
        return lines

    # -- running -----------------------------------------------------------------------------------------------

    async def run_due(self) -> RunReport:
        """Run every action due now (and those that become due as others finish), most urgent first.

        Independent units run at once, but never two touching the same position in one round: the less urgent
        one waits for the next round.
        """
        report = RunReport()
        seen: set[str] = set()
        if self._orphans:
            # A status write failed after a handler acted (the store briefly unreachable): that action is still
            # `running` although nothing runs it, and nothing after it would ever run. Resumed as after a crash:
            # its handler reconciles with the venues before acting again.
            await self._resume_own()
        for _ in range(MAX_ROUNDS):
            report.cancelled += await self._cancel_blocked()
            ready = [r for r in await self.journal.ready(self.context.clock.now()) if r.id not in seen]
            if not ready:
                break
            units = await self._units(ready, report)
            seen.update(r.id for r in ready)
            units.sort(key=lambda u: -u.urgency)
            chosen: list[_Unit] = []
            taken: set[str] = set()
            for unit in units:
                positions = {a.position_id for a in unit.actions if a.position_id is not None}
                if positions & taken:
                    seen.difference_update(a.id for a in unit.actions)  # the next round takes it
                    continue
                taken |= positions
                chosen.append(unit)
            if not chosen:
                continue
            if len(chosen) == 1:
                await self._guarded(chosen[0], report)
            else:
                limit = asyncio.Semaphore(self.settings.max_concurrent)
                async with asyncio.TaskGroup() as group:
                    for unit in chosen:  # created most urgent first: the semaphore admits them in that order
                        group.create_task(self._limited(limit, unit, report))
        return report

    async def _limited(self, limit: asyncio.Semaphore, unit: _Unit, report: RunReport) -> None:
        async with limit:
            await self._guarded(unit, report)

    async def _guarded(self, unit: _Unit, report: RunReport) -> None:
        """Run a unit; an error of the runner's own (the store failing) never cancels the units beside it.

        Its actions stay as the journal last recorded them: a `running` one is resumed at the next start.
        """
        ids = [a.id for a in unit.actions]
        self._active.update(ids)
        try:
            await self._run_unit(unit, report)
        except Exception as exc:
            self._orphans.update(ids)
            logger.opt(exception=exc).error("running actions {} failed outside their handler: {}", ids, exc)
        finally:
            self._active.difference_update(ids)

    async def _resume_own(self) -> None:
        """`resume` for the actions this runner started and left `running` while it goes on (none of its handlers
        runs them): those alone, never one another process may be running (a bot that took the store over)."""
        orphans, self._orphans = self._orphans, set()
        try:
            for record in await self.journal.list_unfinished():
                if record.status is S.RUNNING and record.id in orphans and record.id not in self._active:
                    await self.journal.save_state(record.id, {"interrupted": True})
                    await self.journal.mark_waiting(
                        record.id, self.context.clock.now(), "status not recorded; resuming"
                    )
                    logger.warning("actions: {} {} left running by a failed store write; resuming", record.id,
                                   record.action_type)  # fmt: skip
        except Exception:
            self._orphans |= orphans  # the store still fails: tried again at the next run
            raise

    async def _cancel_blocked(self) -> list[str]:
        """Cancel actions waiting for a failed or cancelled action (repeatedly: the cancellation spreads)."""
        cancelled: list[str] = []
        while blocked := await self.journal.blocked_by_failure():
            progress = False
            for action, dependency in blocked:
                why = f"cancelled: {dependency.action_type} {dependency.id} it waits for {dependency.status.value}"
                try:
                    await self.journal.cancel(action.id, why)
                except StoreError:
                    continue
                progress = True
                cancelled.append(action.id)
                await self._event(
                    ActionDone(
                        position_id=action.position_id, action_id=action.id, action_type=action.action_type,
                        status="cancelled", attempts=action.attempts, error=why,
                    )
                )  # fmt: skip
            if not progress:
                break
        return cancelled

    def _handler(self, action_type: str) -> tuple[Registration, ActionHandler]:
        cached = self._handlers.get(action_type)
        if cached is None:
            registration = self.context.plugins.registry.get("action_types", action_type)
            handler = registration.factory(self.context)
            cached = self._handlers[action_type] = (registration, handler)
        return cached

    async def _units(self, ready: list[ActionRecord], report: RunReport) -> list[_Unit]:
        units: list[_Unit] = []
        batches: dict[tuple[str, Hashable], list[RunningAction]] = {}
        handlers: dict[tuple[str, Hashable], ActionHandler] = {}
        now = self.context.clock.now()
        for record in ready:
            try:
                registration, handler = self._handler(record.action_type)
            except PluginError as exc:
                await self._fail_unstarted(record, f"unknown action type {record.action_type!r}: {exc}", report)
                continue
            except Exception as exc:
                await self._fail_unstarted(record, f"the {record.action_type!r} handler cannot be built: {exc}", report)
                continue
            try:
                details = validate_details(registration.config_cls, record.details)
            except ActionFailed as exc:
                await self._fail_unstarted(record, str(exc), report)
                continue
            running = RunningAction(
                record, details, self.context, resumed=bool((record.state or {}).get("interrupted"))
            )
            key = None
            if isinstance(handler, BatchHandler):
                batch = (record.state or {}).get("batch")
                key = ("started", batch) if batch else handler.batch_key(running)
            if key is None:
                units.append(_Unit(handler, [running]))
                continue
            group_key = (record.action_type, key)
            batches.setdefault(group_key, []).append(running)
            handlers[group_key] = handler
        for group_key, members in batches.items():
            started = group_key[1][0] == "started" if isinstance(group_key[1], tuple) else False
            first = min(m.record.created_at for m in members)
            if not started and first + self.settings.batch_window > now:
                continue  # still collecting: transfers inside the window become one
            ids = sorted(m.id for m in members)
            batch = (members[0].state.get("batch") if started else None) or _batch_id(ids)
            units.append(_Unit(handlers[group_key], members, batch=batch))
        return units

    async def _fail_unstarted(self, record: ActionRecord, why: str, report: RunReport) -> None:
        try:
            [record] = await self.journal.start([record.id], self.owner)
        except StoreError as exc:  # cancelled meanwhile: nothing to fail
            logger.info("action {} not failed: {}", record.id, exc)
            return
        if isinstance(record.state, dict) and record.state.get("cancellable") is False:
            # Past its point of no return (funds may be in flight): it must finish, not fail. Hold it and alert.
            until = self.context.clock.now() + self.settings.max_backoff
            await self.journal.mark_waiting(record.id, until, f"held: {why}")
            report.waiting.append(record.id)
            await self._event(
                Alert(
                    position_id=record.position_id, alert="action_held", action_id=record.id,
                    message=f"action {record.id} is held: {why}",
                    details={"action_type": record.action_type, "why": why},
                )
            )  # fmt: skip
            return
        await self._finish_failed([record], why, report)

    async def _run_unit(self, unit: _Unit, report: RunReport) -> None:
        ids = [a.id for a in unit.actions]
        # `resumed` was read from the state already; this run is no longer the interrupted one.
        state: dict[str, Any] = {"interrupted": False}
        if unit.batch:
            known = {str(m) for a in unit.actions for m in a.state.get("batch_members", [])}
            state.update(batch=unit.batch, batch_members=sorted(known | set(ids)))  # a part of a batch keeps all
        try:
            started = await self.journal.start(ids, self.owner, state=state)
        except StoreError as exc:  # cancelled by an operator between `ready` and now
            logger.info("actions {} not started: {}", ids, exc)
            return
        for action, record in zip(unit.actions, started, strict=True):
            action.record = record
        await self.context.checkpoint(f"started:{','.join(ids)}")
        begun = self.context.clock.monotonic()
        log = logger.bind(action=ids[0] if len(ids) == 1 else f"batch {unit.batch}")
        try:
            if unit.batch is not None:
                assert isinstance(unit.handler, BatchHandler)
                outcome: Outcome = await unit.handler.run_batch(unit.actions)
            else:
                outcome = await unit.handler.run(unit.actions[0])
        except RetryLater as exc:
            await self._retry(unit, str(exc), exc.after, report)
            return
        except VenueError as exc:
            if exc.transient:
                await self._retry(unit, f"venue: {exc}", None, report)
            else:
                await self._finish_failed([a.record for a in unit.actions], f"venue: {exc}", report)
            return
        except ActionFailed as exc:
            await self._finish_failed([a.record for a in unit.actions], str(exc), report)
            return
        except Exception as exc:  # a handler's bug fails its action, never the runner
            log.opt(exception=exc).error("action handler {} raised", unit.actions[0].record.action_type)
            why = f"handler raised {type(exc).__name__}: {exc}"
            await self._finish_failed([a.record for a in unit.actions], why, report)
            return
        elapsed = self.context.clock.monotonic() - begun
        await self.context.checkpoint(f"handled:{','.join(ids)}")
        if isinstance(outcome, Wait):
            for a in unit.actions:
                await self.journal.mark_waiting(a.id, outcome.until, outcome.note or None)
                report.waiting.append(a.id)
            return
        if isinstance(outcome, AwaitApproval):
            for a in unit.actions:
                await self.journal.mark_awaiting_approval(a.id, outcome.note)
                report.awaiting_approval.append(a.id)
                await self._event(
                    Alert(
                        position_id=a.position_id, alert="approval_needed", action_id=a.id,
                        message=f"action {a.id} needs approval: {outcome.note}",
                        details={"action_type": a.record.action_type, "note": outcome.note},
                    )
                )  # fmt: skip
            return
        result = {**dict(outcome or {}), "run_seconds": round(elapsed, 6)}
        for a in unit.actions:
            payload = ActionDone(
                position_id=a.position_id, action_id=a.id, action_type=a.record.action_type, status="succeeded",
                attempts=a.record.attempts, result=result,
            )  # fmt: skip
            try:  # the outcome and its event in one transaction
                done = await self.journal.mark_succeeded(a.id, result=result, events=[_stored(payload)])
            except StoreError as exc:  # cancelled under us (the journal keeps the first final status), or not written
                log.warning("action {} finished but could not be marked succeeded: {}", a.id, exc)
                self._orphans.add(a.id)  # if it is still `running`, the next run resumes it
                continue
            report.succeeded.append(a.id)
            log.info("action {} {} succeeded (attempt {})", a.id, a.record.action_type, done.attempts)
            self._notify(payload)
            await self.context.checkpoint(f"succeeded:{a.id}")

    async def _retry(self, unit: _Unit, why: str, after: timedelta | None, report: RunReport) -> None:
        attempts = max(a.record.attempts for a in unit.actions)
        if attempts >= self.settings.max_attempts:
            await self._finish_failed(
                [a.record for a in unit.actions], f"gave up after {attempts} attempts: {why}", report
            )
            return
        delay = after if after is not None else backoff(self.settings, attempts)
        due = self.context.clock.now() + delay
        for a in unit.actions:
            await self.journal.mark_failed(a.id, why, retry=True, not_before=due)
            report.retrying.append(a.id)
        logger.warning("actions {} will retry at {} ({})", [a.id for a in unit.actions], due.isoformat(), why)

    async def _finish_failed(self, records: Sequence[ActionRecord], why: str, report: RunReport) -> None:
        for record in records:
            done = ActionDone(
                position_id=record.position_id, action_id=record.id, action_type=record.action_type, status="failed",
                attempts=record.attempts, error=why,
            )  # fmt: skip
            alert = Alert(
                position_id=record.position_id, alert="action_failed", action_id=record.id,
                message=f"action {record.id} {record.action_type} failed: {why}",
                details={"action_type": record.action_type, "status": "failed", "error": why},
            )  # fmt: skip
            try:  # the failure, its event and its alert in one transaction
                await self.journal.mark_failed(record.id, why, events=[_stored(done), _stored(alert)])
            except StoreError as exc:
                logger.warning("action {} could not be marked failed: {}", record.id, exc)
                continue
            report.failed.append(record.id)
            logger.bind(action=record.id).error("action {} {} failed: {}", record.id, record.action_type, why)
            self._notify(done)
            self._notify(alert)

    def _notify(self, payload: EventPayload) -> None:
        """Tell observers (`fundarb_on_event`) about an event already in the store."""
        self.context.events.notify_payload(payload)

    async def _event(self, payload: EventPayload) -> None:
        """Record an event: in the store, then to observers."""
        await self.context.events(payload)


def _stored(payload: EventPayload) -> tuple[str, dict[str, Any]]:
    """An event as the journal writes it in an action's own transaction."""
    return payload.KIND, payload.as_data()


def _batch_id(ids: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:24]
    return f"batch-{digest}"
