"""The inline SQLite store (a backtest's): the same database as the threaded one, without a worker thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from fundarb_core.clock import SimClock
from fundarb_core.errors import StoreError
from fundarb_core.model import PositionStatus
from fundarb_core.store import Store


async def test_an_inline_store_writes_what_a_threaded_store_reads(tmp_path: Path) -> None:
    clock = SimClock()
    before = set(threading.enumerate())
    inline = await Store.open(tmp_path / "s.sqlite3", clock=clock, inline=True)
    try:
        assert set(threading.enumerate()) <= before  # no worker thread was started
        made = await inline.positions.create(
            symbol="BTC", long_venue="a", short_venue="b", long_quantity=Decimal(1), short_quantity=Decimal(1),
            notional_usd=Decimal(100), status=PositionStatus.OPEN,
        )  # fmt: skip
        with pytest.raises(StoreError):  # a failed transaction is rolled back and reported as usual
            await inline.positions.create(
                id=made.id, symbol="BTC", long_venue="a", short_venue="b", long_quantity=Decimal(1),
                short_quantity=Decimal(1), notional_usd=Decimal(1),
            )  # fmt: skip
        assert [p.id for p in await inline.positions.list_open()] == [made.id]
    finally:
        await inline.close()
    threaded = await Store.open(tmp_path / "s.sqlite3", clock=clock)
    try:
        assert await threaded.positions.get(made.id) == made
    finally:
        await threaded.close()


async def test_only_sqlite_runs_inline() -> None:
    with pytest.raises(StoreError, match="only a SQLite file store can run inline"):
        await Store.open("postgresql://u@127.0.0.1:1/db", inline=True)


async def test_only_the_inline_store_skips_the_flush_per_commit(tmp_path: Path) -> None:
    """A backtest's store commits without flushing each commit (WAL's NORMAL); a live store flushes (FULL)."""
    levels = {}
    for inline in (True, False):
        store = await Store.open(tmp_path / f"{inline}.sqlite3", clock=SimClock(), inline=inline)
        try:
            async with store._db.read() as conn:
                levels[inline] = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
        finally:
            await store.close()
    assert levels == {True: 1, False: 2}  # 1 = NORMAL, 2 = FULL


@pytest.mark.parametrize("inline", [True, False])
async def test_a_transaction_inside_another_leaves_the_outer_one_whole(tmp_path: Path, inline: bool) -> None:
    """A read inside a write gets its own connection: when the write then fails, nothing of it stays (inline as
    threaded)."""
    store = await Store.open(tmp_path / "s.sqlite3", clock=SimClock(), inline=inline)
    try:
        inner: list[object] = []

        async def write_then_fail() -> None:
            async with store._db.write() as conn:
                await conn.exec_driver_sql("INSERT INTO control (command, issued_by, issued_at, consumed) "
                                           "VALUES ('pause', 'test', '2026-01-01 00:00:00', 0)")  # fmt: skip
                inner.append(await store.positions.list_open())  # a transaction inside the write
                raise RuntimeError("failed after the inner read")

        with pytest.raises(RuntimeError, match="after the inner read"):
            await write_then_fail()
        assert inner == [[]]
        assert await store.control.list(include_consumed=True) == []
    finally:
        await store.close()


def _statements(store: Store) -> list[str]:
    """The SQL the store sends from now on (BEGINs of the inline store go to sqlite3 directly: not in it)."""
    seen: list[str] = []
    engine = store._db._inline_engine if store._db.inline else store._db.engine.sync_engine
    assert engine is not None
    sa.event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


async def _open_one(store: Store) -> str:
    made = await store.positions.create(
        symbol="BTC", long_venue="a", short_venue="b", long_quantity=Decimal(1), short_quantity=Decimal(1),
        notional_usd=Decimal(100), status=PositionStatus.OPEN,
    )  # fmt: skip
    return made.id


async def test_the_exclusive_store_lists_open_positions_from_its_cache_until_it_writes_again(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite3", clock=SimClock(), inline=True)
    try:
        first = await _open_one(store)
        sent = _statements(store)
        assert [p.id for p in await store.positions.list_open()] == [first]
        read = len(sent)
        assert read > 0
        assert [p.id for p in await store.positions.list_open()] == [first]
        assert len(sent) == read  # nothing was written since: answered from the cache
        # A tick's marks (a narrow write of the same open positions) leave the list as it was, at the new versions.
        listed = await store.positions.list_open()
        marked = [attrs.evolve(p, state=p.state.update(unrealized_pnl=Decimal("1.5"))) for p in listed]
        written = await store.positions.update_many(marked)
        read = len(sent)
        assert await store.positions.list_open() == written
        assert len(sent) == read
        second = await _open_one(store)
        assert {p.id for p in await store.positions.list_open()} == {first, second}
        closing = next(p for p in await store.positions.list_open() if p.id == first)
        closed = attrs.evolve(closing, status=PositionStatus.CLOSED)
        await store.positions.update(closed)
        assert [p.id for p in await store.positions.list_open()] == [second]
        # A write that fails still counts: the next list reads again.
        with pytest.raises(StoreError):
            await store.positions.update(closed)  # stale version
        before = len(sent)
        assert [p.id for p in await store.positions.list_open()] == [second]
        assert len(sent) > before
    finally:
        await store.close()


async def test_a_shared_store_reads_open_positions_again_each_time(tmp_path: Path) -> None:
    """A live store's file can be written by another process (a second bot, the CLI): no answer from the cache."""
    path = tmp_path / "s.sqlite3"
    store, other = await Store.open(path, clock=SimClock()), await Store.open(path, clock=SimClock())
    try:
        assert not store._db.exclusive
        assert await store.positions.list_open() == []
        made = await _open_one(other)
        assert [p.id for p in await store.positions.list_open()] == [made]
    finally:
        await store.close()
        await other.close()


async def test_inline_reads_run_without_a_transaction_and_writes_with_an_immediate_one(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite3", clock=SimClock(), inline=True)
    try:
        async with store._db.read() as conn:
            raw = conn.sync_connection.connection.dbapi_connection  # type: ignore[attr-defined]
            await conn.exec_driver_sql("SELECT 1")
            assert not raw.in_transaction
        async with store._db.write() as conn:
            raw = conn.sync_connection.connection.dbapi_connection  # type: ignore[attr-defined]
            assert raw.in_transaction  # BEGIN IMMEDIATE: the write lock is taken at once
    finally:
        await store.close()


async def test_the_exclusive_store_stamps_each_table_it_writes_and_again_when_the_write_ends(tmp_path: Path) -> None:
    from fundarb_core.store._schema import control

    store = await Store.open(tmp_path / "s.sqlite3", clock=SimClock(), inline=True)
    row = {"command": "pause", "issued_by": "test", "issued_at": datetime(2026, 1, 1, tzinfo=UTC), "consumed": False}
    try:
        db = store._db
        before = db.stamp("control"), db.stamp("positions")
        assert None not in before
        await store.positions.list_open()
        await store.control.list()
        assert (db.stamp("control"), db.stamp("positions")) == before  # reads change nothing
        async with db.write() as conn:
            await conn.execute(sa.insert(control).values(**row))
            inside = db.stamp("control")
            assert inside != before[0]
        assert db.stamp("control") != inside  # a read made inside the write (elsewhere) is not kept past its end
        assert db.stamp("positions") == before[1]  # another table's write leaves it alone

        async def delete_then_fail() -> None:
            async with db.write() as conn:
                await conn.exec_driver_sql("DELETE FROM control")  # raw SQL: any table may have been written
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await delete_then_fail()
        assert db.stamp("positions") != before[1]
    finally:
        await store.close()
    shared = await Store.open(tmp_path / "s.sqlite3", clock=SimClock())
    try:
        assert shared._db.stamp("control") is None  # another process may write: nothing is kept
    finally:
        await shared.close()


async def test_the_exclusive_store_finds_ready_actions_as_the_shared_one_does(tmp_path: Path) -> None:
    """`ready` on an exclusive store first asks (once per change of the table) when the first action is due; what
    it returns is what a shared store's full query returns, at every time asked."""
    from fundarb_core.model.records import PlannedAction

    clock = SimClock()
    path = tmp_path / "s.sqlite3"
    inline = await Store.open(path, clock=clock, inline=True)
    t0 = clock.now()
    try:

        async def both(at: datetime) -> list[str]:
            shared = await Store.open(path, clock=clock)
            try:
                expected = [a.id for a in await shared.actions.ready(at)]
            finally:
                await shared.close()
            got = [a.id for a in await inline.actions.ready(at)]
            assert got == expected
            return got

        assert await both(t0) == []  # nothing journalled
        await inline.actions.append_plan([PlannedAction("noop", id="later"), PlannedAction("noop", id="now")])
        await inline.actions.start(["later"], "test")
        await inline.actions.mark_waiting("later", t0 + timedelta(hours=1))
        assert await both(t0) == ["now"]  # "later" is not due yet; "now" has no time at all
        await inline.actions.start(["now"], "test")
        await inline.actions.mark_succeeded("now")
        assert await both(t0) == []  # only "later" is left, not due before an hour
        assert await both(t0 + timedelta(minutes=59)) == []
        assert await both(t0 + timedelta(hours=1)) == ["later"]
        sent = _statements(inline)
        assert await inline.actions.ready(t0 + timedelta(minutes=30)) == []
        assert sent == []  # nothing written since: the first due time was kept, no query
    finally:
        await inline.close()


async def test_a_begin_the_inline_store_cannot_make_is_a_store_error(tmp_path: Path, monkeypatch) -> None:
    """Its BEGINs go to sqlite3 directly, past SQLAlchemy's error wrapping: still a `StoreError`, as everywhere."""
    from fundarb_core.store import _db

    monkeypatch.setattr(_db, "SQLITE_BUSY_TIMEOUT_MS", 0)  # a locked database fails at once instead of waiting
    store = await Store.open(tmp_path / "s.sqlite3", clock=SimClock(), inline=True)
    try:

        async def write_inside_a_write() -> None:
            async with store._db.write(), store._db.write():  # the second cannot take the write lock the first holds
                pass

        with pytest.raises(StoreError, match="database is locked"):
            await write_inside_a_write()
        assert await store.positions.list_open() == []  # the store still works
    finally:
        await store.close()
