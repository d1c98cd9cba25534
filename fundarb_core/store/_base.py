"""What every repository shares: the database, the clock, ids, and insert-if-absent."""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fundarb_core.clock import Clock
from fundarb_core.store._db import Database
from fundarb_core.store._url import Backend

__all__ = ["Repository", "insert_ignore", "lock_rows", "new_id"]


def new_id() -> str:
    """Return a fresh random id (32 hex digits)."""
    return uuid.uuid4().hex


_IGNORING: dict[tuple[Backend, sa.Table], Any] = {}


def insert_ignore(db: Database, table: sa.Table, values: dict[str, Any] | None = None) -> Any:
    """INSERT … ON CONFLICT DO NOTHING (any unique key), so an idempotent write never aborts its transaction.

    Without `values`: the statement alone, built once per backend and table, to execute with the row as its
    parameters (`Repository._insert_if_absent`): SQLAlchemy then neither builds nor keys a statement per row."""
    stmt = _IGNORING.get((db.backend, table))
    if stmt is None:
        dialect = postgresql if db.backend is Backend.POSTGRESQL else sqlite
        stmt = _IGNORING[(db.backend, table)] = dialect.insert(table).on_conflict_do_nothing()
    return stmt if values is None else stmt.values(**values)


def lock_rows(db: Database, stmt: sa.Select[Any]) -> sa.Select[Any]:
    """Lock the selected rows until commit on PostgreSQL; SQLite's write transaction already excludes others."""
    return stmt.with_for_update() if db.backend is Backend.POSTGRESQL else stmt


class Repository:
    """Base of the repositories: each method is one transaction."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._reads: dict[Hashable, tuple[int, Any]] = {}  # exclusive store: key → (stamp, what was read)

    def _recall(self, key: Hashable, *tables: str) -> tuple[int | None, Any]:
        """On an exclusive store, the stamp of `tables` now and what was read under `key` at that same stamp (else
        None: read it, then `_keep` it). On any other store (None, None): always read."""
        stamp = self._db.stamp(*tables)
        if stamp is None:
            return None, None
        kept = self._reads.get(key)
        return stamp, kept[1] if kept is not None and kept[0] == stamp else None

    def _keep(self, key: Hashable, stamp: int | None, value: Any) -> None:
        """Keep `value`, read at `stamp` (see `_recall`); it must not be changed by whoever receives it."""
        if stamp is None:
            return
        if len(self._reads) > 64:
            self._reads.clear()
        self._reads[key] = (stamp, value)

    def _now(self) -> datetime:
        return self._clock.now()

    @property
    def _postgres(self) -> bool:
        return self._db.backend is Backend.POSTGRESQL

    async def _insert_if_absent(self, conn: Any, table: sa.Table, values: dict[str, Any]) -> bool:
        """Insert the row `values` into `table` unless one of its unique keys is taken; whether it was inserted.

        A key that names no column is refused (`ValueError`), as a statement built with those values would refuse
        it: executed with them as parameters, the statement would silently leave it out."""
        unknown = values.keys() - table.columns.keys()
        if unknown:
            raise ValueError(f"{table.name}: no column named {', '.join(sorted(unknown))}")
        return bool((await conn.execute(insert_ignore(self._db, table), values)).rowcount == 1)

    def _locked(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        return lock_rows(self._db, stmt)
