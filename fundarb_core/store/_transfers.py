"""Transfers between venues: created once per idempotency key, then moved through their states."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import sqlalchemy as sa

from fundarb_core.errors import StoreError
from fundarb_core.model.records import TransferRecord, TransferState
from fundarb_core.store._base import Repository, new_id
from fundarb_core.store._schema import transfers

__all__ = ["CANCELLABLE", "STEPS", "TRANSITIONS", "TransferRepository"]

T = TransferState
# The route's steps in order: a transfer only moves forward (skipping steps its route does not have).
STEPS: Final[tuple[TransferState, ...]] = (
    T.REQUESTED,
    T.AWAITING_APPROVAL,
    T.SUBMITTED,
    T.WITHDRAWN,
    T.IN_FLIGHT,
    T.DEPOSITED,
    T.CONFIRMED,
)
# Until a withdrawal is submitted a transfer may be cancelled; after that it can only complete or fail.
CANCELLABLE: Final = frozenset({T.REQUESTED, T.AWAITING_APPROVAL})


def _transitions() -> dict[TransferState, frozenset[TransferState]]:
    out: dict[TransferState, frozenset[TransferState]] = {T.FAILED: frozenset(), T.CANCELLED: frozenset()}
    for i, state in enumerate(STEPS):
        later = set(STEPS[i + 1 :])
        if state is not T.CONFIRMED:
            later.add(T.FAILED)
        if state in CANCELLABLE:
            later.add(T.CANCELLED)
        out[state] = frozenset(later)
    return out


TRANSITIONS: Final[Mapping[TransferState, frozenset[TransferState]]] = _transitions()
_TERMS: Final = ("route", "from_venue", "to_venue", "asset", "amount")


def _transfer(row: sa.RowMapping) -> TransferRecord:
    return TransferRecord(**{c.name: row[c.name] for c in transfers.columns})


class TransferRepository(Repository):
    """The transfers table."""

    async def request(
        self,
        *,
        idempotency_key: str,
        route: str,
        from_venue: str,
        to_venue: str,
        asset: str,
        amount: Decimal,
        action_id: str | None = None,
    ) -> tuple[TransferRecord, bool]:
        """Record a transfer to make; return it and whether it is new.

        The same key again returns the stored transfer (whatever its state) instead of a second one; the same key
        with different terms raises `StoreError`.
        """
        if amount <= 0:
            raise ValueError(f"a transfer amount must be positive, found {amount}")
        now = self._now()
        values: dict[str, Any] = {
            "id": new_id(),
            "idempotency_key": idempotency_key,
            "route": route,
            "from_venue": from_venue,
            "to_venue": to_venue,
            "asset": asset,
            "amount": amount,
            "state": T.REQUESTED,
            "reference": None,
            "error": None,
            "action_id": action_id,
            "created_at": now,
            "updated_at": now,
        }
        async with self._db.write() as conn:
            inserted = await self._insert_if_absent(conn, transfers, values)
            row = (await conn.execute(sa.select(transfers).where(transfers.c.idempotency_key == idempotency_key))).one()
        record = _transfer(row._mapping)
        if not inserted:
            differences = [
                f"{k} {getattr(record, k)} vs {values[k]}" for k in _TERMS if getattr(record, k) != values[k]
            ]
            if differences:
                raise StoreError(
                    f"idempotency key {idempotency_key!r} already names a different transfer ({'; '.join(differences)})"
                )
        return record, inserted

    async def set_state(
        self,
        transfer_id: str,
        state: TransferState,
        *,
        reference: str | None = None,
        error: str | None = None,
    ) -> TransferRecord:
        """Move a transfer on (see `TRANSITIONS`); setting the state it already has is a no-op."""
        async with self._db.write() as conn:
            row = (await conn.execute(self._locked(sa.select(transfers).where(transfers.c.id == transfer_id)))).first()
            if row is None:
                raise StoreError(f"no transfer {transfer_id!r}")
            current = _transfer(row._mapping)
            if state is current.state and reference in (None, current.reference) and error is None:
                return current
            if state is not current.state and state not in TRANSITIONS[current.state]:
                allowed = ", ".join(sorted(TRANSITIONS[current.state])) or "nothing (final)"
                raise StoreError(
                    f"transfer {transfer_id} is {current.state}; it cannot become {state} (allowed: {allowed})"
                )
            changes: dict[str, Any] = {"state": state, "updated_at": self._now()}
            if reference is not None:
                changes["reference"] = reference
            if error is not None:
                changes["error"] = error
            await conn.execute(sa.update(transfers).where(transfers.c.id == transfer_id).values(**changes))
            row = (await conn.execute(sa.select(transfers).where(transfers.c.id == transfer_id))).one()
        return _transfer(row._mapping)

    async def get(self, transfer_id: str) -> TransferRecord | None:
        found = await self._select(transfers.c.id == transfer_id)
        return found[0] if found else None

    async def get_by_key(self, idempotency_key: str) -> TransferRecord | None:
        found = await self._select(transfers.c.idempotency_key == idempotency_key)
        return found[0] if found else None

    async def for_action(self, action_id: str) -> list[TransferRecord]:
        """Transfers requested by an action (a batch's transfer names its first action)."""
        return await self._select(transfers.c.action_id == action_id)

    async def recent(self, limit: int = 100) -> list[TransferRecord]:
        """The latest transfers, newest first."""
        async with self._db.read() as conn:
            stmt = sa.select(transfers).order_by(transfers.c.created_at.desc()).limit(limit)
            rows = (await conn.execute(stmt)).all()
        return [_transfer(row._mapping) for row in rows]

    async def list_unfinished(self) -> list[TransferRecord]:
        """Transfers not yet confirmed, failed or cancelled, oldest first."""
        return await self._select(transfers.c.state.in_([s for s in TransferState if not s.final]))

    async def _select(self, where: sa.ColumnElement[bool]) -> list[TransferRecord]:
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(transfers).where(where).order_by(transfers.c.created_at))).all()
        return [_transfer(row._mapping) for row in rows]
