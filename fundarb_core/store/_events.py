"""The audit trail (append-only events), telemetry measurements, and operator control commands."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from fundarb_core.model.records import ControlCommand, ControlRecord, EventRecord, TelemetryRecord
from fundarb_core.store._base import Repository
from fundarb_core.store._schema import control, events, telemetry
from fundarb_core.store._types import as_stored

__all__ = ["ControlRepository", "EventLog", "TelemetryRepository"]

_APPEND = sa.insert(events).returning(events.c.id)  # built once: the event's values are its parameters
_ANY_UNCONSUMED = sa.select(control.c.id).where(control.c.consumed.is_(False)).limit(1)


class EventLog(Repository):
    """Append-only: there is no way to change or delete an event through the store."""

    async def append(
        self,
        kind: str,
        data: Mapping[str, Any] | None = None,
        *,
        position_id: str | None = None,
        at: datetime | None = None,
    ) -> EventRecord:
        """Record an event (at the clock's now unless `at` is given)."""
        values: dict[str, Any] = {
            "kind": kind,
            "at": at or self._now(),
            "position_id": position_id,
            "data": as_stored(data),
        }
        async with self._db.write() as conn:
            new_id = (await conn.execute(_APPEND, values)).scalar_one()
        return EventRecord(id=new_id, **values)

    async def list(
        self,
        *,
        kind: str | None = None,
        position_id: str | None = None,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> list[EventRecord]:
        """Events in the order they were appended; `after_id` pages on from a previous call."""
        clauses: list[sa.ColumnElement[bool]] = [sa.true()]
        if kind is not None:
            clauses.append(events.c.kind == kind)
        if position_id is not None:
            clauses.append(events.c.position_id == position_id)
        if after_id is not None:
            clauses.append(events.c.id > after_id)
        stmt = sa.select(events).where(*clauses).order_by(events.c.id).limit(limit)
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [EventRecord(**row._mapping) for row in rows]

    async def recent(
        self, limit: int, *, kind: str | None = None, position_id: str | None = None
    ) -> builtins.list[EventRecord]:
        """The last `limit` events (of `kind`, of `position_id`), newest first."""
        clauses: list[sa.ColumnElement[bool]] = [sa.true()]
        if kind is not None:
            clauses.append(events.c.kind == kind)
        if position_id is not None:
            clauses.append(events.c.position_id == position_id)
        stmt = sa.select(events).where(*clauses).order_by(events.c.id.desc()).limit(limit)
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [EventRecord(**row._mapping) for row in rows]


class TelemetryRepository(Repository):
    """Measurements per order and per close (latency, leg skew, time to flat, slippage in bps, fees...)."""

    async def record(
        self,
        name: str,
        value: Decimal,
        *,
        position_id: str | None = None,
        client_order_id: str | None = None,
        data: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> TelemetryRecord:
        values: dict[str, Any] = {
            "name": name,
            "value": value,
            "at": at or self._now(),
            "position_id": position_id,
            "client_order_id": client_order_id,
            "data": as_stored(data),
        }
        async with self._db.write() as conn:
            new_id = (await conn.execute(sa.insert(telemetry).values(**values).returning(telemetry.c.id))).scalar_one()
        return TelemetryRecord(id=new_id, **values)

    async def list(self, *, position_id: str | None = None, name: str | None = None) -> list[TelemetryRecord]:
        clauses: list[sa.ColumnElement[bool]] = [sa.true()]
        if position_id is not None:
            clauses.append(telemetry.c.position_id == position_id)
        if name is not None:
            clauses.append(telemetry.c.name == name)
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(telemetry).where(*clauses).order_by(telemetry.c.id))).all()
        return [TelemetryRecord(**row._mapping) for row in rows]


class ControlRepository(Repository):
    """Commands from an operator (`pause`, `resume`, `halt`) to the running bot, each consumed once."""

    async def issue(self, command: ControlCommand, *, issued_by: str, reason: str | None = None) -> ControlRecord:
        values: dict[str, Any] = {
            "command": ControlCommand(command),
            "issued_at": self._now(),
            "issued_by": issued_by,
            "reason": reason,
            "consumed": False,
            "consumed_at": None,
        }
        async with self._db.write() as conn:
            new_id = (await conn.execute(sa.insert(control).values(**values).returning(control.c.id))).scalar_one()
        return ControlRecord(id=new_id, **values)

    async def consume(self) -> list[ControlRecord]:
        """Return the commands not yet consumed, oldest first, and mark them consumed in the same transaction."""
        stamp, none = self._recall("none unconsumed", "control")
        if none:
            return []
        async with self._db.read() as conn:  # the usual answer is none: a read, no write transaction, per tick
            if (await conn.execute(_ANY_UNCONSUMED)).first() is None:
                self._keep("none unconsumed", stamp, True)
                return []
        now = self._now()
        async with self._db.write() as conn:
            stmt = self._locked(sa.select(control).where(control.c.consumed.is_(False)).order_by(control.c.id))
            rows = (await conn.execute(stmt)).all()
            ids = [row._mapping["id"] for row in rows]
            if ids:
                await conn.execute(
                    sa.update(control).where(control.c.id.in_(ids)).values(consumed=True, consumed_at=now)
                )
        return [ControlRecord(**{**row._mapping, "consumed": True, "consumed_at": now}) for row in rows]

    async def list(self, *, include_consumed: bool = True) -> list[ControlRecord]:
        stmt = sa.select(control).order_by(control.c.id)
        if not include_consumed:
            stmt = stmt.where(control.c.consumed.is_(False))
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [ControlRecord(**row._mapping) for row in rows]
