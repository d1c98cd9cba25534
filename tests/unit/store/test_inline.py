"""The inline SQLite store (a backtest's): the same database as the threaded one, without a worker thread."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest

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
