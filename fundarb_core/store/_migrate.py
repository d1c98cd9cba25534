"""Apply the migrations: read the recorded version, back SQLite up, run each pending step in its own transaction.

The version lives in the `fundarb_schema` table (one row per applied version). Alembic's operations do the DDL;
its revision scripts, env.py and `alembic_version` table are not used: fundarb's history is a straight line of
numbered steps shipped inside the package, and an operator reads "version 1 of 2", not a revision hash.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Final

import attrs
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.errors import StoreError
from fundarb_core.store._db import Database
from fundarb_core.store._lease import LEASE_NAME, LeaseHeld, held_message, lease_record
from fundarb_core.store._migrations import LATEST_VERSION, MIGRATIONS, Migration
from fundarb_core.store._schema import lease, metadata, schema_versions
from fundarb_core.store._url import Backend

__all__ = ["MigrationReport", "current_version", "upgrade"]

# Any constant; two processes upgrading the same PostgreSQL database take turns on it.
_PG_LOCK_KEY: Final = 0x66756E6461726200  # "fundarb\0"
_FUNDARB_TABLES: Final = frozenset(metadata.tables)


@attrs.frozen
class MigrationReport:
    """What `upgrade` did: the versions before and after, each version applied, and the SQLite backup made."""

    from_version: int | None
    to_version: int | None
    applied: tuple[int, ...] = ()
    backup: Path | None = None


def _read_version(conn: sa.Connection) -> int | None:
    inspector = sa.inspect(conn)
    if not inspector.has_table(schema_versions.name):
        clash = sorted(_FUNDARB_TABLES & set(inspector.get_table_names()))
        if clash:
            raise StoreError(
                f"this database already has table(s) {', '.join(clash)} but no {schema_versions.name} table: "
                "it is not a fundarb store (use another database, file or PostgreSQL schema)"
            )
        return None
    version = conn.execute(sa.select(sa.func.max(schema_versions.c.version))).scalar()
    return None if version is None else int(version)


async def current_version(db: Database) -> int | None:
    """Return the store's schema version, or None for an empty database."""
    async with db.read() as conn:
        return await conn.run_sync(_read_version)


def _apply(conn: sa.Connection, migration: Migration) -> None:
    schema_versions.create(conn, checkfirst=True)
    migration.upgrade(Operations(MigrationContext.configure(conn)))


def _backup_sqlite(source: Path, target: Path) -> None:
    """Copy a live SQLite database with SQLite's backup API (a file copy would miss pages still in the WAL)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _backup_path(source: Path, version: int, clock: Clock) -> Path:
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    candidate = source.with_name(f"{source.name}.v{version}-{stamp}.bak")
    n = 1
    while candidate.exists():
        n += 1
        candidate = source.with_name(f"{source.name}.v{version}-{stamp}-{n}.bak")
    return candidate


async def _refuse_if_leased(db: Database, clock: Clock) -> None:
    async with db.read() as conn:
        # The columns every version has: the lease may predate the ones that name the holder's process (v6).
        columns = (lease.c.owner, lease.c.acquired_at, lease.c.renewed_at, lease.c.expires_at)
        row = (await conn.execute(sa.select(*columns).where(lease.c.name == LEASE_NAME))).first()
    if row is None:
        return
    holder = lease_record(row)
    if holder.expires_at > clock.now():
        raise LeaseHeld(f"cannot upgrade: {held_message(db, holder)}", holder=holder)


async def upgrade(db: Database, clock: Clock, target: int | None = None) -> MigrationReport:
    """Bring the schema to `target` (default: the latest version), backing an existing SQLite file up first."""
    goal = LATEST_VERSION if target is None else target
    if goal not in {m.version for m in MIGRATIONS}:
        raise StoreError(f"unknown schema version {goal} (known: 1 to {LATEST_VERSION})")
    before = await current_version(db)
    if before is not None and before > LATEST_VERSION:
        raise StoreError(
            f"the store {db.location.display} is at schema version {before}, newer than this fundarb knows "
            f"(latest {LATEST_VERSION}): upgrade fundarb"
        )
    if before is not None and before > goal:
        raise StoreError(f"the store is at schema version {before}; downgrading to {goal} is not supported")
    pending = [m for m in MIGRATIONS if (before or 0) < m.version <= goal]
    if not pending:
        return MigrationReport(before, before)
    log = logger.bind(store=db.location.display)
    backup = None
    if before is not None:
        await _refuse_if_leased(db, clock)
        if db.backend is Backend.SQLITE and db.location.path is not None:
            backup = _backup_path(db.location.path, before, clock)
            await asyncio.to_thread(_backup_sqlite, db.location.path, backup)
            log.info("backed the store up to {} before upgrading", backup)
    applied = []
    for migration in pending:
        async with db.write() as conn:
            if db.backend is Backend.POSTGRESQL:
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
            now = await conn.run_sync(_read_version)
            if now is not None and now >= migration.version:
                continue  # another process applied it while we waited
            await conn.run_sync(_apply, migration)
            await conn.execute(
                sa.insert(schema_versions).values(
                    version=migration.version, description=migration.description, applied_at=clock.now()
                )
            )
        applied.append(migration.version)
        log.info("store schema upgraded to version {} ({})", migration.version, migration.description)
    return MigrationReport(before, goal, tuple(applied), backup)
