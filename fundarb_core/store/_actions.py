"""The action journal: a plan's actions are stored before any of them runs, and every step of each is recorded.

Status moves: pending → running → succeeded | failed (or back to pending with `retry=True`); running → waiting →
running (a handler waiting for time or the outside world, e.g. a transfer in flight); pending or running →
awaiting_approval → pending (approved); pending, waiting or awaiting_approval → cancelled (unless the handler
checkpointed `cancellable: false`, as a transfer does once funds left the source). Each move is a conditional
UPDATE on the current status, so an action is marked succeeded at most once, even with two writers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs
import sqlalchemy as sa

from fundarb_core.errors import StoreError
from fundarb_core.model.records import ActionRecord, ActionStatus, PlannedAction, TransferState
from fundarb_core.store._base import Repository, new_id
from fundarb_core.store._schema import action_dependencies, actions, transfers
from fundarb_core.store._schema import events as event_log
from fundarb_core.store._transfers import CANCELLABLE
from fundarb_core.store._types import as_stored

__all__ = ["ActionJournal"]

S = ActionStatus
_UNFINISHED: Final = (S.PENDING, S.RUNNING, S.AWAITING_APPROVAL, S.WAITING)
_CANCELLABLE: Final = (S.PENDING, S.AWAITING_APPROVAL, S.WAITING)


def _action(row: sa.RowMapping) -> ActionRecord:
    return ActionRecord(**{c.name: row[c.name] for c in actions.columns})


def _waits_for_unfinished() -> sa.Exists:
    """True for an action with a dependency that has not succeeded (yet)."""
    dep = action_dependencies.alias("dep")
    pre = actions.alias("pre")
    return (
        sa.select(dep.c.action_id)
        .select_from(dep.join(pre, pre.c.id == dep.c.depends_on))
        .where(dep.c.action_id == actions.c.id, pre.c.status != S.SUCCEEDED)
        .exists()
    )


def _order(stmt: sa.Select[Any]) -> sa.Select[Any]:
    return stmt.order_by(actions.c.urgency.desc(), actions.c.created_at, actions.c.plan_id, actions.c.seq)


# Statements run every tick, built once (building one costs more than running it on a small journal).
_READY = _order(
    sa.select(actions).where(
        actions.c.status.in_([S.PENDING, S.WAITING]),
        sa.or_(
            actions.c.not_before.is_(None), actions.c.not_before <= sa.bindparam("now", type_=actions.c.not_before.type)
        ),
        ~_waits_for_unfinished(),
    )
)
# How many actions are pending or waiting, whether one of them is due at any time (no `not_before`), the earliest
# `not_before`: on an exclusive store, kept while the table is unchanged, so `ready` asks only when one may be due.
_EARLIEST = sa.select(
    sa.func.count(),
    sa.func.count() > sa.func.count(actions.c.not_before),
    sa.func.min(actions.c.not_before),
).where(actions.c.status.in_([S.PENDING, S.WAITING]))
_LIST_STATEMENTS: dict[tuple[Any, ...], sa.Select[Any]] = {}
_DEP = action_dependencies.alias("dep")
_PRE = actions.alias("pre")
_BLOCKED_BY_FAILURE = (
    sa.select(_DEP.c.action_id, _DEP.c.depends_on)
    .select_from(_DEP.join(_PRE, _PRE.c.id == _DEP.c.depends_on).join(actions, actions.c.id == _DEP.c.action_id))
    .where(_PRE.c.status.in_([S.FAILED, S.CANCELLED]), actions.c.status.in_(list(_CANCELLABLE)))
)


class ActionJournal(Repository):
    """Journalled actions."""

    async def append_plan(self, planned: Sequence[PlannedAction], *, plan_id: str | None = None) -> list[ActionRecord]:
        """Journal a plan's actions, all or none, as pending; return them with their ids.

        `depends_on` may name actions earlier in the same plan or already journalled; anything else is refused,
        since such an action could never run.
        """
        plan = plan_id or new_id()
        now = self._now()
        records = [
            ActionRecord(
                id=p.id or new_id(),
                plan_id=plan,
                seq=seq,
                action_type=p.action_type,
                status=S.PENDING,
                details=as_stored(p.details),
                position_id=p.position_id,
                depends_on=p.depends_on,
                urgency=p.urgency,
                reason=p.reason,
                created_at=now,
                updated_at=now,
            )
            for seq, p in enumerate(planned)
        ]
        ids = [r.id for r in records]
        if len(set(ids)) != len(ids):
            raise StoreError(f"plan {plan} names an action id twice")
        async with self._db.write() as conn:
            earlier: set[str] = set()
            outside = {d for r in records for d in r.depends_on} - set(ids)
            if outside:
                found = await conn.execute(sa.select(actions.c.id).where(actions.c.id.in_(sorted(outside))))
                earlier |= {row[0] for row in found}
            for record in records:
                missing = [d for d in record.depends_on if d not in earlier]
                if missing:
                    raise StoreError(
                        f"action {record.id} ({record.action_type}) depends on {', '.join(missing)}, which is neither "
                        "journalled nor earlier in its plan"
                    )
                earlier.add(record.id)
            if records:
                await conn.execute(
                    sa.insert(actions), [{c.name: getattr(r, c.name) for c in actions.columns} for r in records]
                )
            deps = [{"action_id": r.id, "depends_on": d} for r in records for d in dict.fromkeys(r.depends_on)]
            if deps:
                await conn.execute(sa.insert(action_dependencies), deps)
        return records

    async def mark_succeeded(
        self,
        action_id: str,
        *,
        result: Mapping[str, Any] | None = None,
        events: Sequence[tuple[str, Mapping[str, Any]]] = (),
    ) -> ActionRecord:
        """running → succeeded, with the handler's result (JSON-ready); `events` logged in the same transaction."""
        return await self._move(
            action_id, (S.RUNNING,), S.SUCCEEDED, events=events, result=result, error=None, finished_at=self._now()
        )

    async def mark_failed(
        self,
        action_id: str,
        error: str,
        *,
        retry: bool = False,
        not_before: datetime | None = None,
        events: Sequence[tuple[str, Mapping[str, Any]]] = (),
    ) -> ActionRecord:
        """running → failed, or back to pending when `retry` (the attempt count stays, for backoff decisions);
        a retried action is not due again before `not_before`. `events` are logged in the same transaction."""
        if retry:
            return await self._move(
                action_id, (S.RUNNING,), S.PENDING, events=events, error=error, not_before=not_before
            )
        return await self._move(
            action_id,
            (S.RUNNING,),
            S.FAILED,
            events=events,
            release_transfers=error,
            error=error,
            finished_at=self._now(),
        )

    async def mark_awaiting_approval(self, action_id: str, note: str | None = None) -> ActionRecord:
        """pending or running → awaiting_approval (an operator must approve before it runs on)."""
        return await self._move(action_id, (S.PENDING, S.RUNNING), S.AWAITING_APPROVAL, error=note)

    async def approve(self, action_id: str, *, by: str | None = None) -> ActionRecord:
        """awaiting_approval → pending, counting the approval in the action's state (`approvals`), durably."""
        async with self._db.write() as conn:
            row = (await conn.execute(self._locked(sa.select(actions).where(actions.c.id == action_id)))).first()
            if row is None:
                raise StoreError(f"no action {action_id!r} in the journal")
            record = _action(row._mapping)
            if record.status is not S.AWAITING_APPROVAL:
                raise StoreError(
                    f"action {action_id} ({record.action_type}) is {record.status}; only an action awaiting "
                    "approval can be approved"
                )
            state = dict(record.state or {})
            state["approvals"] = int(state.get("approvals", 0)) + 1
            if by:
                state["approved_by"] = by
            await conn.execute(
                sa.update(actions)
                .where(actions.c.id == action_id, actions.c.status == S.AWAITING_APPROVAL)
                .values(status=S.PENDING, state=state, error=None, not_before=None, updated_at=self._now())
            )
        return attrs.evolve(record, status=S.PENDING, state=state, error=None, not_before=None)

    async def cancel(self, action_id: str, reason: str | None = None) -> ActionRecord:
        """Pending, waiting or awaiting approval → cancelled, checked and done in one transaction.

        Refused when the handler said the action can no longer be stopped (`cancellable: false` in its state) or
        when its transfer has gone past the point of no return (submitted or later: funds may have left the
        source). A transfer not yet submitted is cancelled with it; a batch (transfers travelling as one) is
        cancelled whole. A running action is not cancelled under its handler's feet: wait until it waits or ends.
        """
        now = self._now()
        async with self._db.write() as conn:
            row = (await conn.execute(self._locked(sa.select(actions).where(actions.c.id == action_id)))).first()
            if row is None:
                raise StoreError(f"no action {action_id!r} in the journal")
            record = _action(row._mapping)
            if record.status not in _CANCELLABLE:
                raise StoreError(
                    f"action {action_id} ({record.action_type}) is {record.status}; it cannot become cancelled "
                    f"(only from {', '.join(_CANCELLABLE)})"
                )
            state = record.state if isinstance(record.state, dict) else {}
            if state.get("cancellable") is False:
                raise StoreError(
                    f"action {action_id} ({record.action_type}) can no longer be cancelled: "
                    f"{state.get('cancel_refusal', 'it has gone past the point of no return')}"
                )
            keys = [f"action-{action_id}"] + ([str(state["batch"])] if state.get("batch") else [])
            found = (
                await conn.execute(
                    self._locked(
                        sa.select(transfers).where(
                            sa.or_(transfers.c.action_id == action_id, transfers.c.idempotency_key.in_(keys))
                        )
                    )
                )
            ).all()
            for t in found:
                if t.state not in CANCELLABLE and not TransferState(t.state).final:
                    raise StoreError(
                        f"action {action_id} ({record.action_type}) can no longer be cancelled: its transfer {t.id} "
                        f"is {t.state} (funds may have left {t.from_venue})"
                    )
            members = [str(m) for m in state.get("batch_members", [])] or [action_id]
            if action_id not in members:
                members.append(action_id)
            for t in found:
                if t.state in CANCELLABLE:
                    await conn.execute(
                        sa.update(transfers)
                        .where(transfers.c.id == t.id)
                        .values(state=TransferState.CANCELLED, error=reason, updated_at=now)
                    )
            await conn.execute(
                sa.update(actions)
                .where(actions.c.id.in_(members), actions.c.status.in_(list(_CANCELLABLE)))
                .values(status=S.CANCELLED, error=reason, finished_at=now, updated_at=now)
            )
            row = (await conn.execute(sa.select(actions).where(actions.c.id == action_id))).one()
        return _action(row._mapping)

    async def find(self, prefix: str) -> list[ActionRecord]:
        """Actions whose id starts with `prefix` (operators type short ids)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return await self._select(actions.c.id.like(f"{escaped}%", escape="\\"))

    # -- what the ActionRunner uses --------------------------------------------------------------------------

    async def ready(self, now: datetime) -> list[ActionRecord]:
        """Pending and waiting actions due at `now` whose dependencies all succeeded, most urgent first."""
        stamp, earliest = self._recall("earliest", "actions")
        if stamp is not None and earliest is None:  # an exclusive store: when is the first one due, if any
            async with self._db.read() as conn:
                count, undated, first = (await conn.execute(_EARLIEST)).one()
            earliest = (count > 0, None if undated else first)
            self._keep("earliest", stamp, earliest)
        if earliest is not None and (not earliest[0] or (earliest[1] is not None and earliest[1] > now)):
            return []  # none is pending or waiting, or none is due yet: nothing can be ready
        async with self._db.read() as conn:
            rows = (await conn.execute(_READY, {"now": now})).all()
        return [_action(row._mapping) for row in rows]

    async def next_due(self) -> datetime | None:
        """The earliest `not_before` of a pending or waiting action (when the runner has work again)."""
        stmt = sa.select(sa.func.min(actions.c.not_before)).where(actions.c.status.in_([S.PENDING, S.WAITING]))
        async with self._db.read() as conn:
            found = (await conn.execute(stmt)).scalar()
        return found if isinstance(found, datetime) or found is None else None

    async def blocked_by_failure(self) -> list[tuple[ActionRecord, ActionRecord]]:
        """Unfinished, not running actions with a failed or cancelled dependency, each with that dependency."""
        stamp, pairs = self._recall("blocked", "actions", "action_dependencies")
        if pairs is None:
            async with self._db.read() as conn:
                pairs = tuple((await conn.execute(_BLOCKED_BY_FAILURE)).all())
            self._keep("blocked", stamp, pairs)
        out = []
        for action_id, dep_id in pairs:
            action, failed = await self.get(action_id), await self.get(dep_id)
            if action is not None and failed is not None:
                out.append((action, failed))
        return out

    async def start(
        self, action_ids: Sequence[str], owner: str, *, state: Mapping[str, Any] | None = None
    ) -> list[ActionRecord]:
        """Pending or waiting → running, all of `action_ids` or none (a batch starts together).

        A pending action starts a new attempt; a waiting one resumes the attempt it is in. `state`, when given,
        is merged into each action's checkpoint in the same transaction (a batch records its shared key).
        """
        now = self._now()
        async with self._db.write() as conn:
            rows = (
                await conn.execute(self._locked(sa.select(actions).where(actions.c.id.in_(list(action_ids)))))
            ).all()
            found = {row.id: _action(row._mapping) for row in rows}
            for action_id in action_ids:
                record = found.get(action_id)
                if record is None:
                    raise StoreError(f"no action {action_id!r} in the journal")
                if record.status not in (S.PENDING, S.WAITING):
                    raise StoreError(
                        f"action {action_id} ({record.action_type}) is {record.status}; it cannot start "
                        "(only pending or waiting actions can)"
                    )
            for action_id in action_ids:
                record = found[action_id]
                values: dict[str, Any] = {"status": S.RUNNING, "claimed_by": owner, "updated_at": now}
                if record.status is S.PENDING:
                    values.update(attempts=record.attempts + 1, started_at=record.started_at or now)
                if state is not None:
                    values["state"] = {**(record.state or {}), **as_stored(state)}
                await conn.execute(
                    sa.update(actions)
                    .where(actions.c.id == action_id, actions.c.status == record.status)
                    .values(**values)
                )
            rows = (await conn.execute(sa.select(actions).where(actions.c.id.in_(list(action_ids))))).all()
        by_id = {row.id: _action(row._mapping) for row in rows}
        return [by_id[i] for i in action_ids]

    async def save_state(self, action_id: str, state: Mapping[str, Any]) -> ActionRecord:
        """Merge `state` into a running action's checkpoint (what its handler needs to resume after a crash)."""
        async with self._db.write() as conn:
            row = (await conn.execute(self._locked(sa.select(actions).where(actions.c.id == action_id)))).first()
            if row is None:
                raise StoreError(f"no action {action_id!r} in the journal")
            record = _action(row._mapping)
            if record.status is not S.RUNNING:
                raise StoreError(f"action {action_id} is {record.status}; only a running action saves its state")
            merged = {**(record.state or {}), **as_stored(state)}
            await conn.execute(
                sa.update(actions).where(actions.c.id == action_id).values(state=merged, updated_at=self._now())
            )
        return attrs.evolve(record, state=merged)

    async def mark_waiting(self, action_id: str, until: datetime, note: str | None = None) -> ActionRecord:
        """running → waiting until `until` (then due again, in the same attempt)."""
        return await self._move(action_id, (S.RUNNING,), S.WAITING, not_before=until, error=note)

    async def get(self, action_id: str) -> ActionRecord | None:
        found = await self._select(actions.c.id == action_id)
        return found[0] if found else None

    async def list_plan(self, plan_id: str) -> list[ActionRecord]:
        """A plan's actions in plan order."""
        async with self._db.read() as conn:
            stmt = sa.select(actions).where(actions.c.plan_id == plan_id).order_by(actions.c.seq)
            rows = (await conn.execute(stmt)).all()
        return [_action(row._mapping) for row in rows]

    async def list_unfinished(self) -> list[ActionRecord]:
        """Pending, running and awaiting-approval actions, most urgent first: what to resume after a restart.

        A `running` action here was interrupted: reconcile with the venues before running it again.
        """
        return await self._select(actions.c.status.in_(_UNFINISHED))

    async def _select(self, where: sa.ColumnElement[bool]) -> list[ActionRecord]:
        async with self._db.read() as conn:
            rows = (await conn.execute(_order(sa.select(actions).where(where)))).all()
        return [_action(row._mapping) for row in rows]

    async def _move(
        self,
        action_id: str,
        allowed: Sequence[ActionStatus],
        target: ActionStatus,
        *,
        events: Sequence[tuple[str, Mapping[str, Any]]] = (),
        release_transfers: str | None = None,
        **values: Any,
    ) -> ActionRecord:
        """Move the action if its status is in `allowed`; `events` are appended in the same transaction (so an
        outcome and its record in the event log are never one without the other). With `release_transfers` (a
        reason), the action's transfers not yet submitted are cancelled with it: nothing would ever drive them."""
        async with self._db.write() as conn:
            now = self._now()
            stmt = (
                sa.update(actions)
                .where(actions.c.id == action_id, actions.c.status.in_(list(allowed)))
                .values(status=target, updated_at=now, **values)
            )
            moved = (await conn.execute(stmt)).rowcount == 1
            row = (await conn.execute(sa.select(actions).where(actions.c.id == action_id))).first()
            if moved and row is not None and release_transfers is not None:
                state = row.state if isinstance(row.state, dict) else {}
                keys = [f"action-{action_id}"] + ([str(state["batch"])] if state.get("batch") else [])
                await conn.execute(
                    sa.update(transfers)
                    .where(
                        sa.or_(transfers.c.action_id == action_id, transfers.c.idempotency_key.in_(keys)),
                        transfers.c.state.in_(sorted(CANCELLABLE)),
                    )
                    .values(state=TransferState.CANCELLED, error=release_transfers, updated_at=now)
                )
            if moved and row is not None:
                for kind, data in events:
                    await conn.execute(
                        sa.insert(event_log).values(
                            kind=kind, at=now, position_id=row.position_id, data=as_stored(data)
                        )
                    )
        if row is None:
            raise StoreError(f"no action {action_id!r} in the journal")
        record = _action(row._mapping)
        if not moved:
            raise StoreError(
                f"action {action_id} ({record.action_type}) is {record.status}; it cannot become {target} "
                f"(only from {', '.join(allowed)})"
            )
        return record

    async def list(
        self,
        *,
        statuses: Sequence[ActionStatus] | None = None,
        position_id: str | None = None,
        plan_id: str | None = None,
        limit: int | None = None,
    ) -> list[ActionRecord]:
        """Journalled actions, newest plans first, each plan in its order."""
        shape = (None if statuses is None else tuple(statuses), position_id is not None, plan_id is not None, limit)
        stmt = _LIST_STATEMENTS.get(shape)
        if stmt is None:  # built once per shape (the closer and the opener ask for the same one every tick)
            stmt = sa.select(actions)
            if statuses is not None:
                stmt = stmt.where(actions.c.status.in_(list(statuses)))
            if position_id is not None:
                stmt = stmt.where(actions.c.position_id == sa.bindparam("position_id"))
            if plan_id is not None:
                stmt = stmt.where(actions.c.plan_id == sa.bindparam("plan_id"))
            stmt = stmt.order_by(actions.c.created_at.desc(), actions.c.plan_id, actions.c.seq)
            if limit is not None:
                stmt = stmt.limit(limit)
            if len(_LIST_STATEMENTS) < 64:
                _LIST_STATEMENTS[shape] = stmt
        params = {k: v for k, v in (("position_id", position_id), ("plan_id", plan_id)) if v is not None}
        # Kept (an exclusive store) only when there is none: a record's details are dicts a caller could change.
        key = ("list", shape, position_id, plan_id)
        stamp, none = self._recall(key, "actions")
        if none:
            return []
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt, params)).all()
        if not rows:
            self._keep(key, stamp, True)
        return [_action(row._mapping) for row in rows]
