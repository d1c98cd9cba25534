"""Positions and their legs, under optimistic concurrency: every update names the version it was based on."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import attrs
import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from fundarb_core.errors import StoreError
from fundarb_core.model import PositionStatus, Side
from fundarb_core.model._evolve import evolve
from fundarb_core.model.records import OPEN_POSITION_STATUSES, LegRecord, PositionRecord
from fundarb_core.model.state import PositionState
from fundarb_core.store._base import Repository, new_id
from fundarb_core.store._fills import _check_same
from fundarb_core.store._schema import funding_payments, legs, positions
from fundarb_core.store._types import JsonText, UtcDateTime, dump_json

__all__ = ["PositionPage", "PositionRepository", "StaleVersion"]

# Sort keys a page may be ordered by; money is stored as text, so numeric columns sort through a cast.
SORT_KEYS: Final = ("created_at", "opened_at", "closed_at", "symbol", "status", "notional_usd", "realized_pnl")
_NUMERIC_SORT: Final = frozenset({"notional_usd", "realized_pnl"})
_NULLABLE_SORT: Final = frozenset({"opened_at", "closed_at", "realized_pnl"})

_LEG_FIELDS = ("quantity", "filled_quantity", "entry_price", "exit_price", "fees", "funding")
_POSITION_FIELDS = (
    "status",
    "notional_usd",
    "entry_spread",
    "exit_reason",
    "realized_pnl",
    "opened_at",
    "closed_at",
)


@attrs.frozen
class PositionPage:
    """One page of a filtered, sorted position list, and how many positions match in all."""

    total: int
    positions: list[PositionRecord]


class StaleVersion(StoreError):
    """An update was based on an outdated read: someone else changed the record first. Re-read and retry."""


def _leg(row: Mapping[str, Any]) -> LegRecord:
    return LegRecord(
        id=row["id"],
        position_id=row["position_id"],
        venue=row["venue"],
        side=row["side"],
        **{name: row[name] for name in _LEG_FIELDS},
    )


def _position(row: Mapping[str, Any], leg_records: Iterable[LegRecord]) -> PositionRecord:
    ordered = sorted(leg_records, key=lambda leg: (leg.side is not Side.BUY, leg.venue))
    return PositionRecord(
        id=row["id"],
        symbol=row["symbol"],
        long_venue=row["long_venue"],
        short_venue=row["short_venue"],
        version=row["version"],
        legs=tuple(ordered),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        state=PositionState.from_json(row["details"]),
        **{name: row[name] for name in _POSITION_FIELDS},
    )


class PositionRepository(Repository):
    """Create, read and update positions; each position has a long and a short leg.

    Records are kept in memory as last read or written, and used again only while the stored version is still
    theirs: `list_open` and `get` ask the database for (id, version) and read in full only what changed (every
    update bumps the version, whoever writes it), so a tick does not re-parse every open position's legs and state.
    """

    def __init__(self, db: Any, clock: Any) -> None:
        super().__init__(db, clock)
        self._cache: dict[str, PositionRecord] = {}
        # On an exclusive store (a backtest's), `list_open` answers from the cache while nothing has written to the
        # positions or their legs since it last read them: (the store's stamp then, the open positions' ids).
        self._open_seen: tuple[int, list[str]] | None = None

    def _remember(
        self,
        records: Iterable[PositionRecord],
        values: Sequence[Mapping[str, Any]] | None = None,
        texts: Sequence[str] | None = None,
    ) -> None:
        """Cache what was just written, exactly as a read of it would return it (the column types' round trip).
        `values`: the records' `_position_values`, when the caller has them already; `texts`: their details as
        stored (`dump_json`), likewise."""
        dialect = self._db.engine.dialect
        for i, record in enumerate(records):
            every = values[i] if values is not None else _position_values(record)
            cached = self._cache.get(record.id)
            if cached is not None and _same_but_marks(cached, record):
                # Only the version, update time and state changed (a tick's marks): round-trip those alone.
                text = texts[i] if texts is not None else dump_json(every["details"])
                self._remember_marks([(cached, record, text)], record.updated_at)
                continue
            row = _round_trip(positions, every, dialect)
            leg_rows = [_round_trip(legs, _leg_values(leg), dialect) for leg in record.legs]
            self._cache[record.id] = _position(row, [_leg(r) for r in leg_rows])

    def _remember_marks(self, written: Iterable[tuple[PositionRecord, PositionRecord, str]], now: datetime) -> None:
        """Cache positions written at `now` that differ from the cached record (as read) in their version, update
        time and state alone: (cached, written, its state as stored) each."""
        dialect = self._db.engine.dialect
        updated_at = _UPDATED_AT.process_result_value(_UPDATED_AT.process_bind_param(now, dialect), dialect)
        assert updated_at is not None
        exact_time = _same_instant(updated_at, now)
        cache = self._cache
        for cached, record, text in written:
            if exact_time and _marks_round_trip(cached.state, record.state):
                cache[record.id] = record  # already what a read gives back: nothing to parse or copy
                continue
            state = PositionState.from_json(_DETAILS.process_result_value(text, dialect))
            cache[record.id] = attrs.evolve(cached, version=record.version, updated_at=updated_at, state=state)

    async def create(
        self,
        *,
        symbol: str,
        long_venue: str,
        short_venue: str,
        long_quantity: Decimal,
        short_quantity: Decimal,
        notional_usd: Decimal,
        status: PositionStatus = PositionStatus.OPENING,
        entry_spread: Decimal | None = None,
        state: PositionState | Mapping[str, Any] | None = None,
        details: Mapping[str, Any] | None = None,
        id: str | None = None,
    ) -> PositionRecord:
        """Store a new position at version 1 with its two legs (nothing filled yet)."""
        if long_venue == short_venue:
            raise ValueError(f"a position needs two different venues, found {long_venue!r} twice")
        now = self._now()
        pid = id or new_id()
        record = PositionRecord(
            id=pid,
            symbol=symbol,
            status=status,
            long_venue=long_venue,
            short_venue=short_venue,
            notional_usd=notional_usd,
            version=1,
            legs=(
                LegRecord(id=new_id(), position_id=pid, venue=long_venue, side=Side.BUY, quantity=long_quantity),
                LegRecord(id=new_id(), position_id=pid, venue=short_venue, side=Side.SELL, quantity=short_quantity),
            ),
            created_at=now,
            updated_at=now,
            entry_spread=entry_spread,
            state=PositionState.from_json(state if state is not None else details),
        )
        async with self._db.write() as conn:
            await conn.execute(sa.insert(positions).values(**_position_values(record)))
            await conn.execute(sa.insert(legs), [_leg_values(leg) for leg in record.legs])
        self._remember([record])
        return record

    async def get(self, position_id: str) -> PositionRecord | None:
        """Return the position with its legs, or None."""
        cached = self._cache.get(position_id)
        async with self._db.read() as conn:
            if cached is not None:
                version = (await conn.execute(_VERSION_OF, {"id": position_id})).scalar()
                if version == cached.version:
                    return cached
            found = await self._rows(conn, sa.select(positions).where(positions.c.id == position_id))
        if not found:
            self._cache.pop(position_id, None)
            return None
        self._cache[position_id] = found[0]
        return found[0]

    async def list_open(self) -> list[PositionRecord]:
        """Positions not yet closed (opening, open, closing, close failed), oldest first."""
        stamp, seen = self._db.stamp("positions", "legs"), self._open_seen
        if stamp is not None and seen is not None and seen[0] == stamp:
            kept = [record for pid in seen[1] if (record := self._cache.get(pid)) is not None]
            if len(kept) == len(seen[1]):
                return kept
        async with self._db.read() as conn:
            current = (await conn.execute(_OPEN_VERSIONS)).all()
            stale = [pid for pid, version in current if (c := self._cache.get(pid)) is None or c.version != version]
            if stale:
                for record in await self._rows(conn, sa.select(positions).where(positions.c.id.in_(stale))):
                    self._cache[record.id] = record
        ids = {pid for pid, _ in current}
        for pid in [pid for pid in self._cache if pid not in ids]:  # closed (or gone): not kept beyond this
            del self._cache[pid]
        self._open_seen = None if stamp is None else (stamp, [pid for pid, _ in current])
        return [self._cache[pid] for pid, _ in current]

    async def page(
        self,
        *,
        statuses: Sequence[PositionStatus] | None = None,
        symbol: str | None = None,
        venue: str | None = None,
        sort: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> PositionPage:
        """One page of positions, filtered in SQL (status, symbol, a venue on either leg) and sorted by `sort`
        (one of `SORT_KEYS`; ties by id), with the number of positions that match in all."""
        if sort not in SORT_KEYS:
            raise ValueError(f"cannot sort positions by {sort!r} (expected one of {', '.join(SORT_KEYS)})")
        clauses: list[sa.ColumnElement[bool]] = [sa.true()]
        if statuses is not None:
            clauses.append(positions.c.status.in_(list(statuses)))
        if symbol is not None:
            clauses.append(positions.c.symbol == symbol)
        if venue is not None:
            clauses.append(sa.or_(positions.c.long_venue == venue, positions.c.short_venue == venue))
        column: sa.ColumnElement[Any] = positions.c[sort]
        if sort in _NUMERIC_SORT:
            column = sa.cast(column, sa.Float)
        key = column.desc() if descending else column.asc()
        tie = positions.c.id.desc() if descending else positions.c.id.asc()
        first = key.nulls_last() if sort in _NULLABLE_SORT else key  # a plain key can walk an index
        stmt = sa.select(positions).where(*clauses).order_by(first, tie).limit(limit).offset(offset)
        async with self._db.read() as conn:  # one snapshot: the total and the page agree
            total = (await conn.execute(sa.select(sa.func.count()).select_from(positions).where(*clauses))).scalar_one()
            found = await self._rows(conn, stmt)
        return PositionPage(total=int(total), positions=found)

    async def ids(self, statuses: Sequence[PositionStatus]) -> list[str]:
        """The ids of the positions in `statuses`, and nothing else of them (cheap enough to ask often)."""
        stmt = sa.select(positions.c.id).where(positions.c.status.in_(list(statuses)))
        async with self._db.read() as conn:
            return [row[0] for row in (await conn.execute(stmt)).all()]

    async def count(self, statuses: Sequence[PositionStatus]) -> int:
        """How many positions are in `statuses`."""
        stmt = sa.select(sa.func.count()).select_from(positions).where(positions.c.status.in_(list(statuses)))
        async with self._db.read() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def closed_pnl(self, since: datetime | None = None) -> list[tuple[str, datetime, Decimal, Mapping[str, Any]]]:
        """(id, closed_at, realized_pnl, details) of the positions closed at or after `since` (all by default), by
        close time: the equity curve's input, read without the legs."""
        clauses = [positions.c.status == PositionStatus.CLOSED, positions.c.closed_at.is_not(None)]
        if since is not None:
            clauses.append(positions.c.closed_at >= since)
        stmt = (
            sa.select(positions.c.id, positions.c.closed_at, positions.c.realized_pnl, positions.c.details)
            .where(*clauses)
            .order_by(positions.c.closed_at, positions.c.id)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [(row[0], row[1], row[2] if row[2] is not None else Decimal(0), row[3]) for row in rows]

    async def _select(self, where: sa.ColumnElement[bool]) -> list[PositionRecord]:
        stmt = sa.select(positions).where(where).order_by(positions.c.created_at, positions.c.id)
        async with self._db.read() as conn:
            return await self._rows(conn, stmt)

    @staticmethod
    async def _rows(conn: Any, stmt: sa.Select[Any]) -> list[PositionRecord]:
        """The positions `stmt` selects, with their legs (one more query)."""
        rows = (await conn.execute(stmt)).all()
        ids = [row._mapping["id"] for row in rows]
        leg_rows = (await conn.execute(sa.select(legs).where(legs.c.position_id.in_(ids)))).all() if ids else []
        by_position: dict[str, list[LegRecord]] = {}
        for leg_row in leg_rows:
            leg = _leg(leg_row._mapping)
            by_position.setdefault(leg.position_id, []).append(leg)
        return [_position(row._mapping, by_position.get(row._mapping["id"], [])) for row in rows]

    async def add_payment(
        self, payment: Mapping[str, Any], change: Callable[[PositionRecord], PositionRecord | None]
    ) -> PositionRecord | None:
        """Store a funding `payment` (`FundingRepository.add`'s values) of the position `payment["position_id"]`
        and write `change(position)` in the same transaction: both or neither, so a crash in between cannot leave
        the payment stored and its position without it (a payment stored before is not counted again). Returns the
        position as written, or None when the payment was stored before or `change` returns None."""
        values = {"rate": None, **payment}
        async with self._db.write() as conn:
            if not await self._insert_if_absent(conn, funding_payments, values):
                stored = (await conn.execute(_PAYMENT_OF, values)).one()._mapping
                _check_same(f"funding payment {values['venue']}/{values['venue_payment_id']}", stored, values,
                            ("symbol", "amount"))  # fmt: skip
                return None
            found = await self._rows(conn, sa.select(positions).where(positions.c.id == values["position_id"]))
            changed = change(found[0]) if found else None
            if changed is None:
                return None
            updated = await self._write(conn, changed, self._now())
        self._remember([updated])
        return updated

    async def update(self, position: PositionRecord) -> PositionRecord:
        """Store `position` (and its legs) if nobody changed it since it was read; return it at its new version.

        `position` is a record read from the store and changed with `attrs.evolve`. Its `version` must still be the
        stored one: otherwise `StaleVersion` (a `StoreError`) is raised and nothing is written.
        """
        async with self._db.write() as conn:
            updated = await self._write(conn, position, self._now())
        self._remember([updated])
        return updated

    async def update_many(self, records: Sequence[PositionRecord]) -> list[PositionRecord]:
        """`update` for several positions in one transaction: all are written, or (on a stale one) none."""
        if not records:
            return []
        if len({p.id for p in records}) != len(records):
            raise ValueError("update_many: a position given twice")
        now = self._now()
        cache = self._cache
        updated: list[PositionRecord] = []
        # A position that is the very record read at its version but for its state (a tick's marks) is written by a
        # narrow statement (version, update time, state); any other by the whole row, and its legs when they are not
        # the very legs read at its version. The version check below proves the stored legs are still those.
        marks: list[tuple[PositionRecord, PositionRecord, str]] = []  # (as read, as written, its state as stored)
        narrow_rows: list[dict[str, Any]] = []
        full: list[PositionRecord] = []
        full_values: list[dict[str, Any]] = []
        full_texts: list[str] = []
        rows: list[dict[str, Any]] = []
        leg_rows: list[dict[str, Any]] = []
        for old in records:
            new = evolve(old, version=old.version + 1, updated_at=now)
            updated.append(new)
            cached = cache.get(old.id)
            if cached is not None and cached.version != old.version:
                cached = None  # read at another version: nothing to compare with
            if cached is not None and _same_but_marks(cached, old):
                text = dump_json(new.state.to_json())  # serialised once: bound as text, and cached
                marks.append((cached, new, text))
                narrow_rows.append(
                    {"v_version": new.version, "v_updated_at": now, "v_details": text, "b_id": old.id,
                     "b_version": old.version}
                )  # fmt: skip
                continue
            every = _position_values(new)
            text = dump_json(every["details"])
            full.append(new)
            full_values.append(every)
            full_texts.append(text)
            rows.append(_position_row(every, text, now, old))
            if cached is None or cached.legs is not old.legs:
                leg_rows += (_leg_row(leg, old.id) for leg in old.legs)
        # Each row's update matches its id at the version read. Where the driver sums an executemany's row counts
        # (SQLite), one count checks them all: short of one row per position, the transaction is rolled back and the
        # versions read again to name the stale ones. Elsewhere (PostgreSQL) every version is checked, and its row
        # locked, before the write.
        counted = self._db.engine.dialect.supports_sane_multi_rowcount
        before = self._db.stamp("positions", "legs")
        try:
            async with self._db.write() as conn:
                if not counted:
                    await self._check_versions(conn, records)
                written = 0
                for statement, params in ((_UPDATE_POSITION_MARKS, narrow_rows), (_UPDATE_POSITION, rows)):
                    if params:
                        written += (await conn.execute(statement, params)).rowcount
                if counted and written != len(records):
                    raise _NotAllWritten
                if leg_rows:
                    await conn.execute(_UPDATE_LEG, leg_rows)
        except _NotAllWritten:
            async with self._db.read() as conn:  # rolled back: the versions as stored
                await self._check_versions(conn, records)
            raise StaleVersion("positions changed by someone else since read; nothing written") from None  # (raced)
        if marks:
            self._remember_marks(marks, now)
        self._remember(full, full_values, full_texts)
        seen, after = self._open_seen, self._db.stamp("positions", "legs")
        if not full and after is not None and seen is not None and seen[0] == before:
            # Marks alone changed no position's status or age, and nothing else was written meanwhile: the open
            # positions are still those listed, in that order (the cache holds them as written).
            self._open_seen = (after, seen[1])
        return updated

    @staticmethod
    async def _check_versions(conn: Any, records: Sequence[PositionRecord]) -> None:
        """Raise `StaleVersion` naming every record whose stored version is no longer the one it was read at."""
        ids = [p.id for p in records]
        found = {row[0]: row[1] for row in (await conn.execute(_VERSIONS_FOR_UPDATE, {"ids": ids})).all()}
        stale = [p for p in records if found.get(p.id) != p.version]
        if stale:
            raise StaleVersion(
                f"positions changed by someone else since read: {', '.join(p.id for p in stale)}; nothing written"
            )

    async def _write(self, conn: Any, position: PositionRecord, now: datetime) -> PositionRecord:
        updated = attrs.evolve(position, version=position.version + 1, updated_at=now)
        every = _position_values(updated)
        row = _position_row(every, dump_json(every["details"]), now, position)
        if (await conn.execute(_UPDATE_POSITION, row)).rowcount != 1:
            found = (await conn.execute(sa.select(positions.c.version).where(positions.c.id == position.id))).first()
            if found is None:
                raise StoreError(f"position {position.id} does not exist")
            raise StaleVersion(
                f"position {position.id} was changed by someone else: update based on version "
                f"{position.version}, stored version is {found[0]}; re-read it and retry"
            )
        for leg in position.legs:
            if (await conn.execute(_UPDATE_LEG, _leg_row(leg, position.id))).rowcount != 1:
                raise StoreError(f"leg {leg.id} is not a leg of position {position.id}")
        return updated

    async def list(
        self, *, statuses: Sequence[PositionStatus] | None = None, since: datetime | None = None
    ) -> list[PositionRecord]:
        """Every position (or those in `statuses`, or created at or after `since`), oldest first."""
        clauses: list[sa.ColumnElement[bool]] = []
        if statuses is not None:
            clauses.append(positions.c.status.in_(list(statuses)))
        if since is not None:
            clauses.append(positions.c.created_at >= since)
        return await self._select(sa.and_(sa.true(), *clauses))


_OPEN_VERSIONS = (
    sa.select(positions.c.id, positions.c.version)
    .where(positions.c.status.in_(sorted(OPEN_POSITION_STATUSES)))
    .order_by(positions.c.created_at, positions.c.id)
)


# update_many's statements, built once: every bound value is named (v_ = new value, b_ = the row's key).
class _NotAllWritten(Exception):
    """An executemany updated fewer rows than it was given (a stale version): roll the transaction back."""


_VERSIONS_FOR_UPDATE = (
    sa.select(positions.c.id, positions.c.version)
    .where(positions.c.id.in_(sa.bindparam("ids", expanding=True)))
    .with_for_update()
)
_UPDATE_POSITION = (
    sa.update(positions)
    .where(positions.c.id == sa.bindparam("b_id"), positions.c.version == sa.bindparam("b_version"))
    .values(
        {
            **{k: sa.bindparam(f"v_{k}") for k in (*_POSITION_FIELDS, "version", "updated_at")},
            "details": sa.bindparam("v_details", type_=sa.Text()),  # already serialised by `dump_json`
        }
    )
)
_WRITTEN_FIELDS: Final = (*_POSITION_FIELDS, "version")
_UPDATE_POSITION_MARKS = (
    sa.update(positions)
    .where(positions.c.id == sa.bindparam("b_id"), positions.c.version == sa.bindparam("b_version"))
    .values(
        version=sa.bindparam("v_version"),
        updated_at=sa.bindparam("v_updated_at"),
        details=sa.bindparam("v_details", type_=sa.Text()),
    )
)
_UPDATE_LEG = (
    sa.update(legs)
    .where(legs.c.id == sa.bindparam("b_id"), legs.c.position_id == sa.bindparam("b_position"))
    .values({name: sa.bindparam(f"v_{name}") for name in _LEG_FIELDS})
)


def _position_row(every: dict[str, Any], details: str, now: datetime, old: PositionRecord) -> dict[str, Any]:
    """`_UPDATE_POSITION`'s parameters: the new values `every` (details already serialised) of the row `old`."""
    return {**{f"v_{k}": every[k] for k in _WRITTEN_FIELDS}, "v_details": details, "v_updated_at": now,
            "b_id": old.id, "b_version": old.version}  # fmt: skip


def _leg_row(leg: LegRecord, position_id: str) -> dict[str, Any]:
    """`_UPDATE_LEG`'s parameters for `leg` of the position `position_id`."""
    return {**{f"v_{name}": getattr(leg, name) for name in _LEG_FIELDS}, "b_id": leg.id, "b_position": position_id}


_PAYMENT_OF = sa.select(funding_payments).where(
    funding_payments.c.venue == sa.bindparam("venue"),
    funding_payments.c.venue_payment_id == sa.bindparam("venue_payment_id"),
)
_VERSION_OF = sa.select(positions.c.version).where(positions.c.id == sa.bindparam("id"))


_COLUMN_TYPES = {
    table.name: [(c.name, c.type if isinstance(c.type, TypeDecorator) else None) for c in table.columns]
    for table in (positions, legs)
}


_UNCHANGED_BY_MARKS: Final = ("symbol", "long_venue", "short_venue", "created_at", *_POSITION_FIELDS)
_UPDATED_AT: Final = UtcDateTime()
_DETAILS: Final = JsonText()


def _same_but_marks(cached: PositionRecord, record: PositionRecord) -> bool:
    """Whether `record` is `cached` (as read) with at most its version, update time and state changed: the very
    same objects in every other field, so their cached round trip holds for `record` too."""
    return (
        cached.id == record.id
        and cached.legs is record.legs
        and all(getattr(cached, name) is getattr(record, name) for name in _UNCHANGED_BY_MARKS)
    )


# The state fields a tick's marks set (`Monitor.with_marks`): Decimals or None, each stored as its exact text.
_MARK_MAPS: Final = ("marks", "funding_accrued", "liquidation_distance")
_MARK_VALUES: Final = ("unrealized_pnl", "current_spread")
_NOT_MARKS: Final = tuple(f.name for f in attrs.fields(PositionState) if f.name not in (*_MARK_MAPS, *_MARK_VALUES))


_not_marks = operator.attrgetter(*_NOT_MARKS)
_mark_values = operator.attrgetter(*_MARK_VALUES)
_mark_maps = operator.attrgetter(*_MARK_MAPS)


def _marks_round_trip(cached: PositionState, state: PositionState) -> bool:
    """Whether `state` reads back from the store as itself: it is `cached` (as read) with at most the mark fields
    changed, each a finite Decimal or None (or a dict of them by venue name), which the state's JSON keeps exactly
    (`str` then `Decimal`: the same value, digits and exponent). Run for every position every tick: plain loops."""
    if not all(map(operator.is_, _not_marks(cached), _not_marks(state))):
        return False
    for value in _mark_values(state):
        if value is not None and (type(value) is not Decimal or not value.is_finite()):
            return False
    for table in _mark_maps(state):
        if type(table) is not dict:
            return False
        for key, value in table.items():
            if type(key) is not str or (value is not None and (type(value) is not Decimal or not value.is_finite())):
                return False
    return True


def _same_instant(read: datetime, written: datetime) -> bool:
    """Whether a timestamp reads back as the very value written (same instant, same time zone object)."""
    return read == written and read.tzinfo is written.tzinfo


def _round_trip(table: sa.Table, values: Mapping[str, Any], dialect: Any) -> dict[str, Any]:
    """`values` as the database would give them back: each column type's bind then result processing."""
    out = {}
    for name, kind in _COLUMN_TYPES[table.name]:
        value = values.get(name)
        if value is not None and kind is not None:
            value = kind.process_result_value(kind.process_bind_param(value, dialect), dialect)
        out[name] = value
    return out


def _position_values(p: PositionRecord) -> dict[str, Any]:
    return {
        "id": p.id,
        "symbol": p.symbol,
        "long_venue": p.long_venue,
        "short_venue": p.short_venue,
        "version": p.version,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "details": p.state.to_json(),
        **{name: getattr(p, name) for name in _POSITION_FIELDS},
    }


def _leg_values(leg: LegRecord) -> dict[str, Any]:
    return {
        "id": leg.id,
        "position_id": leg.position_id,
        "venue": leg.venue,
        "side": leg.side,
        **{name: getattr(leg, name) for name in _LEG_FIELDS},
    }
