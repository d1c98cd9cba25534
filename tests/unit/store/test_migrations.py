"""Versioned migrations: v1 → latest keeps every row; the schema matches the code; failures leave it intact."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from fundarb_core.errors import StoreError
from fundarb_core.model import OrderStatus, Side
from fundarb_core.model.records import ActionStatus, ControlCommand
from fundarb_core.store import LATEST_VERSION, LeaseHeld
from fundarb_core.store import _migrate as migrate_module
from fundarb_core.store._migrations import MIGRATIONS, Migration
from fundarb_core.store._schema import metadata

# An earlier bot's details bag: numbers as text, a close attempt as text, str(None) for an unknown distance, a
# reduction, and a key this version does not know.
V1_DETAILS = (
    '{"net_apr": "0.31", "close_attempt": "2", "urgency": "normal", "liquidation_distance": {"aster": "None", '
    '"lighter": "0.42"}, "reductions": [{"level": "erosion<0.7", "shed": {"aster": "0.1"}, "action_id": "a0"}], '
    '"note": "kept"}'
)


class _V1Position:
    """What v1 stored of the position, read back without the current repository (whose columns are newer)."""

    def __init__(self, pid: str) -> None:
        self.id = pid


async def _v1_position(store):  # type: ignore[no-untyped-def]
    return _V1Position("pos1")


async def _v1_store_with_data(open_store, clock):
    """A store created at schema version 1 and filled through the tables v1 has."""
    store = await open_store(migrate=False)
    report = await store.migrate(target=1)
    assert (report.from_version, report.to_version, report.applied) == (None, 1, (1,))
    # v1's positions table keeps an untyped `details` bag: write the rows as v1 code did.
    now = clock.now().replace(tzinfo=None) if store.backend == "sqlite" else clock.now()
    qty = "0.123456789012345678"
    async with store._db.write() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO positions (id, symbol, status, long_venue, short_venue, notional_usd, version, "
                "created_at, updated_at, details) VALUES ('pos1', 'BTC', 'open', 'aster', 'lighter', '12345.67', 1, "
                ":now, :now, :details)"
            ),
            {"now": now, "details": V1_DETAILS},
        )
        for leg, venue, side in (("l1", "aster", "buy"), ("l2", "lighter", "sell")):
            await conn.execute(
                sa.text(
                    "INSERT INTO legs (id, position_id, venue, side, quantity, filled_quantity, fees, funding) "
                    "VALUES (:id, 'pos1', :venue, :side, :qty, :qty, '0', '0')"
                ),
                {"id": leg, "venue": venue, "side": side, "qty": qty},
            )
    position = await _v1_position(store)
    await store.orders.record_intent(
        client_order_id="c1",
        venue="aster",
        symbol="BTC",
        side=Side.BUY,
        quantity=Decimal("0.123456789012345678"),
        price=Decimal("99999.99"),
        position_id=position.id,
    )
    await store.orders.update("c1", status=OrderStatus.FILLED, filled_quantity=Decimal("0.123456789012345678"))
    await store.fills.add(
        venue="aster",
        venue_fill_id="f1",
        client_order_id="c1",
        quantity=Decimal("0.123456789012345678"),
        price=Decimal("99999.99"),
        fee=Decimal("0.01"),
        at=clock.now(),
    )
    await store.funding.add(
        venue="lighter", venue_payment_id="p1", symbol="BTC", amount=Decimal("-0.5"), at=clock.now()
    )
    await store.events.append("position_opened", {"id": position.id})
    # v1's actions table has no claimed_by column: write the row as v1 code did.
    async with store._db.write() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO actions (id, plan_id, seq, position_id, action_type, details, status, attempts, "
                "depends_on, urgency, created_at, updated_at) VALUES ('a1', 'plan', 0, :pid, 'close_position', "
                """'{"why":"time"}', 'running', 1, '[]', 0, :now, :now)"""
            ),
            {"pid": position.id, "now": clock.now().replace(tzinfo=None) if store.backend == "sqlite" else clock.now()},
        )
    return store, position


async def test_upgrading_v1_with_data_to_latest_loses_nothing(target, open_store, clock) -> None:
    store, position = await _v1_store_with_data(open_store, clock)
    assert await store.schema_version() == 1
    await clock.advance(timedelta(days=1))
    report = await store.migrate()
    assert (report.from_version, report.to_version, report.applied) == (
        1,
        LATEST_VERSION,
        tuple(range(2, LATEST_VERSION + 1)),
    )
    assert await store.schema_version() == LATEST_VERSION

    reopened = await open_store()  # a new process, as after an upgrade of fundarb
    migrated = await reopened.positions.get(position.id)
    assert migrated is not None
    assert (migrated.symbol, migrated.notional_usd, migrated.version) == ("BTC", Decimal("12345.67"), 1)
    assert [leg.filled_quantity for leg in migrated.legs] == [Decimal("0.123456789012345678")] * 2
    # v4: the details bag became the typed state, every value kept (unknown keys under `extra`).
    state = migrated.state
    assert state.net_apr == Decimal("0.31")
    assert state.close_attempt == 2
    assert state.urgency == "normal"
    assert state.liquidation_distance == {"aster": None, "lighter": Decimal("0.42")}
    assert [(r.level, dict(r.shed), r.action_id) for r in state.reductions] == [
        ("erosion<0.7", {"aster": Decimal("0.1")}, "a0")
    ]
    assert state.extra == {"note": "kept"}
    [order] = await reopened.orders.list()
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, Decimal("0.123456789012345678"))
    assert [f.venue_fill_id for f in await reopened.fills.list()] == ["f1"]
    assert [p.amount for p in await reopened.funding.list()] == [Decimal("-0.5")]
    assert [e.kind for e in await reopened.events.list()] == ["position_opened"]
    [action] = await reopened.actions.list_unfinished()
    assert (action.id, action.status, action.details, action.claimed_by) == (
        "a1",
        ActionStatus.RUNNING,
        {"why": "time"},
        None,
    )
    # What v2 added works.
    await reopened.control.issue(ControlCommand.PAUSE, issued_by="op")
    await reopened.telemetry.record("latency_ms", Decimal(7), position_id=position.id)
    assert len(await reopened.control.consume()) == 1

    if target.backend == "sqlite":
        # The v1 file was backed up before the upgrade, and the backup is a complete v1 store.
        assert report.backup is not None
        assert report.backup.name == "store.sqlite3.v1-20260102T000000Z.bak"
        with sqlite3.connect(report.backup) as backup:
            assert backup.execute("SELECT max(version) FROM fundarb_schema").fetchone() == (1,)
            assert backup.execute("SELECT count(*) FROM orders").fetchone() == (1,)
            assert backup.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    else:
        assert report.backup is None


async def test_a_fresh_store_is_not_backed_up_and_reopening_does_nothing(target, open_store, tmp_path) -> None:
    store = await open_store()
    assert await store.schema_version() == LATEST_VERSION
    report = await store.migrate()
    assert report.applied == ()
    assert report.backup is None
    assert not list(tmp_path.glob("*.bak"))


async def test_the_migrated_schema_is_the_one_the_code_uses(store) -> None:
    def columns(conn: sa.Connection) -> dict[str, set[tuple[str, bool]]]:
        inspector = sa.inspect(conn)
        return {
            name: {(c["name"], bool(c["nullable"])) for c in inspector.get_columns(name)}
            for name in inspector.get_table_names()
        }

    async with store._db.read() as conn:
        found = await conn.run_sync(columns)
    expected = {
        table.name: {(c.name, bool(c.nullable) and not c.primary_key) for c in table.columns}
        for table in metadata.sorted_tables
    }
    assert found == expected


async def test_a_failing_migration_leaves_the_previous_version_intact(open_store, monkeypatch) -> None:
    store = await open_store()

    def broken(op) -> None:
        op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
        raise RuntimeError("crash in the middle of the next version")

    following = LATEST_VERSION + 1
    monkeypatch.setattr(migrate_module, "MIGRATIONS", (*MIGRATIONS, Migration(following, "broken", broken)))
    monkeypatch.setattr(migrate_module, "LATEST_VERSION", following)
    with pytest.raises(RuntimeError, match="crash in the middle"):
        await store.migrate()
    assert await store.schema_version() == LATEST_VERSION

    def tables(conn: sa.Connection) -> list[str]:
        return sa.inspect(conn).get_table_names()

    async with store._db.read() as conn:
        assert "half_done" not in await conn.run_sync(tables)  # DDL is transactional on both backends


async def test_a_store_newer_than_the_code_is_refused(open_store, clock) -> None:
    store = await open_store()
    async with store._db.write() as conn:
        await conn.execute(
            sa.insert(metadata.tables["fundarb_schema"]).values(
                version=99, description="future", applied_at=clock.now()
            )
        )
    with pytest.raises(StoreError, match="schema version 99, newer than this fundarb knows"):
        await open_store()


async def test_downgrades_and_unknown_versions_are_refused(store) -> None:
    with pytest.raises(StoreError, match="downgrading to 1 is not supported"):
        await store.migrate(target=1)
    with pytest.raises(StoreError, match="unknown schema version 7"):
        await store.migrate(target=7)


async def test_a_database_that_is_not_a_fundarb_store_is_refused(open_store) -> None:
    raw = await open_store(migrate=False)
    async with raw._db.write() as conn:
        await conn.execute(sa.text("CREATE TABLE positions (x INTEGER)"))
    with pytest.raises(StoreError, match=r"already has table\(s\) positions .* not a fundarb store"):
        await open_store()


async def test_no_upgrade_under_a_running_bot(open_store, clock) -> None:
    old = await open_store(migrate=False)
    await old.migrate(target=1)
    await old.acquire_lease("bot-A", 30)
    with pytest.raises(LeaseHeld, match=r"cannot upgrade: the store .* is in use by bot 'bot-A'"):
        await open_store()
    await clock.advance(30)
    assert await (await open_store()).schema_version() == LATEST_VERSION
