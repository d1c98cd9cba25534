"""Store fixtures: every `store` test runs on SQLite, on SQLite inline (a backtest's exclusive store, which keeps
what it read while its tables are unchanged), and on PostgreSQL when FUNDARB_TEST_DATABASE_URL is set.

On PostgreSQL each test gets a fresh schema (dropped afterwards), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from fundarb_core.clock import SimClock
from fundarb_core.store import Store, resolve_location

PG_ENV = "FUNDARB_TEST_DATABASE_URL"
PG_SKIP = f"{PG_ENV} not set: PostgreSQL store tests need a server, e.g. postgresql://postgres@127.0.0.1:5432/test"


@attrs.frozen
class Target:
    """Where a test's store lives: a URL, plus a PostgreSQL schema of its own."""

    backend: str
    url: str
    schema: str | None = None
    inline: bool = False  # SQLite only: the inline (exclusive) store


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture(params=["sqlite", "sqlite-inline", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not os.environ.get(PG_ENV):
        pytest.skip(PG_SKIP)
    return str(request.param)


async def _pg_execute(url: str, statement: str) -> None:
    engine = create_async_engine(resolve_location(url).url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def target(backend: str, tmp_path: Path) -> AsyncIterator[Target]:
    if backend.startswith("sqlite"):
        yield Target("sqlite", str(tmp_path / "store.sqlite3"), inline=backend == "sqlite-inline")
        return
    url = os.environ[PG_ENV]
    schema = f"test_{uuid.uuid4().hex[:16]}"
    await _pg_execute(url, f'CREATE SCHEMA "{schema}"')
    try:
        yield Target(backend, url, schema)
    finally:
        await _pg_execute(url, f'DROP SCHEMA "{schema}" CASCADE')


OpenStore = Callable[..., Awaitable[Store]]


@pytest.fixture
async def open_store(target: Target, clock: SimClock) -> AsyncIterator[OpenStore]:
    """Open (more) stores on the test's target; all are closed after the test."""
    opened: list[Store] = []

    async def open_(*, migrate: bool = True, clock_: SimClock | None = None) -> Store:
        store = await Store.open(
            target.url, schema=target.schema, clock=clock_ or clock, migrate=migrate, inline=target.inline
        )
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: OpenStore) -> Store:
    """A migrated, empty store on the backend under test."""
    return await open_store()
