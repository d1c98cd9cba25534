"""The connection layer: one async engine per store, transactions, and errors turned into `StoreError`.

SQLite is opened in WAL mode with `synchronous=FULL` (a commit is on disk before it returns, so an acknowledged
intent survives a power cut, not only a crash), foreign keys on, and a busy timeout. SQLAlchemy emits BEGIN itself:
write transactions start with `BEGIN IMMEDIATE`, which takes SQLite's single write lock at once, so a
read-then-write (claiming an action, checking a version) cannot interleave with another writer. PostgreSQL runs at
READ COMMITTED and relies on row locks (`FOR UPDATE SKIP LOCKED`) and conditional updates instead; its read
transactions run at REPEATABLE READ so that a read of several tables (a position and its legs) sees one snapshot.

`inline=True` (SQLite only; what a backtest uses) runs each SQLite call on the event loop's own thread, through
SQLAlchemy's synchronous connection, instead of aiosqlite's worker thread: the same statements and transactions
without a thread hop and a greenlet per call (which cost far more than the call itself on a small local
database). The loop is blocked while a call runs, so it is for runs where nothing else waits on the loop in real
time: a backtest on a `SimClock`, not a live bot. Its commits are not flushed to disk one by one
(`synchronous=NORMAL`: in WAL mode a crash of the process loses nothing, a power cut may lose the last commits): a
backtest's store can always be computed again, and a year's run commits ~100,000 times. For the same reason, and
because nothing else writes to it, its reads run without a transaction (each statement sees the last commit, which
no other writer can change between two of them while the call blocks the loop), and its BEGINs go straight to
sqlite3 rather than through SQLAlchemy's statement path. It counts the statements that may write to each table
(`stamp`), so that repositories can keep what they read of a table until it changes (docs/store.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.dml import UpdateBase

from fundarb_core.clock import io_hold
from fundarb_core.errors import StoreError
from fundarb_core.secrets import redact
from fundarb_core.store._url import Backend, StoreLocation

__all__ = ["Database", "describe_error"]

T = TypeVar("T")

_WRITE_OPTION: Final = "fundarb_write"
_UNGUARDED_READ_OPTION: Final = "fundarb_unguarded_read"  # inline reads: no BEGIN (see the module docstring)
_WRITTEN: Final = "fundarb_written"  # a connection's info: the tables its open transaction wrote to
_NOT_WRITES: Final = ("SELECT", "PRAGMA", "BEGIN", "COMMIT", "ROLLBACK")  # raw statements that never write
SQLITE_BUSY_TIMEOUT_MS: Final = 10_000


def describe_error(exc: BaseException) -> str:
    """Describe a database error without the SQL statement or its parameters, secrets masked."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    name = type(orig).__name__
    return redact(f"{name}: {text}" if text else name)


class Database:
    """An engine with `read()` and `write()` transactions."""

    def __init__(self, location: StoreLocation, engine: AsyncEngine, *, inline: sa.Engine | None = None) -> None:
        self.location = location
        self.engine = engine
        self._writer = engine.execution_options(**{_WRITE_OPTION: True})
        self._inline_engine = inline  # inline mode: the synchronous engine its transactions run on
        self._inline = inline.execution_options(**{_UNGUARDED_READ_OPTION: True}) if inline is not None else None
        self._inline_writer = inline.execution_options(**{_WRITE_OPTION: True}) if inline is not None else None
        postgres = location.backend is Backend.POSTGRESQL
        self._reader = engine.execution_options(isolation_level="REPEATABLE READ") if postgres else engine
        self.clock: object = None  # set by the Store: a simulated clock is held still while a transaction runs
        self.inline = inline is not None
        # Nothing but this process writes to the database (an inline store is a backtest's own): a repository may
        # then keep what it read of some tables until a statement writes to one of them (see `stamp`).
        self.exclusive = self.inline
        self._writes: dict[str, int] = {}  # exclusive store: per table, its writes so far ("*": table unknown)
        if inline is not None:
            event.listen(inline, "before_cursor_execute", self._count_write)
            event.listen(inline, "commit", self._count_end)
            event.listen(inline, "rollback", self._count_end)
        self._kept: dict[str, _InlineConnection] = {}  # inline mode: a reader and a writer kept open

    def stamp(self, *tables: str) -> int | None:
        """On an exclusive store, a number that changes whenever a statement may have written to one of `tables`
        (what was read of them while it stays the same is still what they hold); None on any other store, where
        another process may write at any time."""
        if not self.exclusive:
            return None
        writes = self._writes
        return writes.get("*", 0) + sum(writes.get(t, 0) for t in tables)

    def _count_write(self, conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: Any) -> None:
        compiled = getattr(context, "compiled", None)
        stmt = getattr(compiled, "statement", None)
        if isinstance(stmt, sa.Select):
            return
        if isinstance(stmt, UpdateBase) and isinstance(stmt.table, sa.Table):
            table = stmt.table.name
        elif statement.lstrip()[:7].upper().startswith(_NOT_WRITES):
            return
        else:
            table = "*"  # raw SQL that may write: every table
        self._writes[table] = self._writes.get(table, 0) + 1
        conn.info.setdefault(_WRITTEN, set()).add(table)

    def _count_end(self, conn: Any) -> None:
        """At commit or rollback, count again what the transaction wrote: a read made meanwhile on another
        connection (a read inside a write) did not see it, and must not be kept past this point."""
        for table in conn.info.pop(_WRITTEN, ()):
            self._writes[table] = self._writes.get(table, 0) + 1

    @property
    def backend(self) -> Backend:
        return self.location.backend

    @classmethod
    def connect(cls, location: StoreLocation, *, schema: str | None = None, inline: bool = False) -> Database:
        """Create the engine (no connection is made yet). `schema` sets PostgreSQL's search_path; `inline` runs
        SQLite on the event loop's thread (see the module docstring)."""
        kwargs: dict[str, Any] = {}
        sync_engine: sa.Engine | None = None
        if inline:
            if location.backend is not Backend.SQLITE or location.path is None:
                raise StoreError("only a SQLite file store can run inline")
            path = str(location.path)
            # The file's URL, not "sqlite://": SQLAlchemy would take that for an in-memory database and hand every
            # checkout the same connection, so a transaction inside another would end the outer one.
            sync_engine = sa.create_engine(
                f"sqlite:///{path}", creator=lambda: sqlite3.connect(path, check_same_thread=False)
            )
            _configure_sqlite(sync_engine, durable=False, direct_begin=True)
        if location.backend is Backend.POSTGRESQL:
            kwargs["pool_pre_ping"] = True
            if schema is not None:
                kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        elif schema is not None:
            raise StoreError("a schema can only be chosen on PostgreSQL")
        engine = create_async_engine(location.url, **kwargs)  # inline: never connected (its dialect is used)
        if location.backend is Backend.SQLITE and sync_engine is None:
            _configure_sqlite(engine.sync_engine, durable=True)
        return cls(location, engine, inline=sync_engine)

    @asynccontextmanager
    async def _held(self, kind: str) -> AsyncIterator[AsyncConnection]:
        """Inline mode: the one connection of this kind kept open (no pool checkout per transaction), or, while it
        is in use (a transaction inside another), a fresh one from the pool."""
        conn = self._kept.pop(kind, None)
        if conn is None:
            engine = self._inline_writer if kind == "write" else self._inline
            assert engine is not None
            conn = _InlineConnection(engine.connect())
        try:
            async with conn.begin():
                yield cast(AsyncConnection, conn)  # what the repositories call on it, it answers alike
        except BaseException:
            await conn.close()  # after an error, start clean
            raise
        if kind in self._kept:
            await conn.close()
        else:
            self._kept[kind] = conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (a consistent snapshot on both backends)."""
        try:
            if self.inline:
                async with io_hold(self.clock), self._held("read") as conn:
                    yield conn
                return
            async with io_hold(self.clock), self._reader.connect() as conn, conn.begin():
                yield conn
        except (SQLAlchemyError, sqlite3.Error) as exc:  # sqlite3's own: the inline store's BEGIN (see _on_begin)
            raise StoreError(f"store read failed ({self.location.display}): {describe_error(exc)}") from None
        except OSError as exc:
            raise StoreError(f"store unreachable ({self.location.display}): {describe_error(exc)}") from None

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed when the block ends without error and rolled back otherwise."""
        try:
            if self.inline:
                async with io_hold(self.clock), self._held("write") as conn:
                    yield conn
                return
            async with io_hold(self.clock), self._writer.begin() as conn:
                yield conn
        except (SQLAlchemyError, sqlite3.Error) as exc:  # sqlite3's own: the inline store's BEGIN (see _on_begin)
            raise StoreError(f"store write failed ({self.location.display}): {describe_error(exc)}") from None
        except OSError as exc:
            raise StoreError(f"store unreachable ({self.location.display}): {describe_error(exc)}") from None

    async def dispose(self) -> None:
        for conn in self._kept.values():
            await conn.close()
        self._kept.clear()
        if self._inline_engine is not None:
            self._inline_engine.dispose()
        await self.engine.dispose()


def _configure_sqlite(engine: sa.Engine, *, durable: bool = True, direct_begin: bool = False) -> None:
    """WAL, foreign keys, the busy timeout and the flush per commit (`durable`) on every connection; BEGIN emitted
    by us (IMMEDIATE for writes), through sqlite3 itself when `direct_begin` (the inline store: no SQLAlchemy
    statement machinery for a BEGIN, and none at all for its unguarded reads)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _on_begin)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        write = options.get(_WRITE_OPTION, False)
        if not direct_begin:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        elif write:
            conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")
        elif not options.get(_UNGUARDED_READ_OPTION, False):
            conn.connection.dbapi_connection.execute("BEGIN")


class _InlineConnection:
    """Inline mode's connection: SQLAlchemy's synchronous `Connection`, behind the awaitable calls repositories
    make on an `AsyncConnection` (`execute`, `exec_driver_sql`, `run_sync`, `begin`, `close`). Each runs at once on
    the loop's thread: no greenlet and no worker thread between a repository and sqlite3."""

    def __init__(self, conn: sa.Connection) -> None:
        self.sync_connection = conn

    @property
    def dialect(self) -> sa.Dialect:
        return self.sync_connection.dialect

    async def execute(self, statement: Any, parameters: Any = None, **kwargs: Any) -> sa.CursorResult[Any]:
        return self.sync_connection.execute(statement, parameters, **kwargs)

    async def exec_driver_sql(self, statement: str, parameters: Any = None, **kwargs: Any) -> sa.CursorResult[Any]:
        return self.sync_connection.exec_driver_sql(statement, parameters, **kwargs)

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(self.sync_connection, *args, **kwargs)

    def get_execution_options(self) -> Mapping[str, Any]:
        return self.sync_connection.get_execution_options()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[_InlineConnection]:
        with self.sync_connection.begin():
            yield self

    async def close(self) -> None:
        self.sync_connection.close()
