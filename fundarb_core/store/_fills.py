"""Fills and funding payments: what venues report, stored once each (idempotent on the venue's own id)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from fundarb_core.errors import StoreConflict, StoreError
from fundarb_core.model.records import FillRecord, FundingPaymentRecord
from fundarb_core.store._base import Repository
from fundarb_core.store._schema import fills, funding_payments, orders
from fundarb_core.store._url import Backend

__all__ = ["FillRepository", "FundingRepository"]

# Built once (a tick stores funding payments per venue): a venue's payments among ids, and the insert.
_PAYMENTS_OF = sa.select(funding_payments).where(
    funding_payments.c.venue == sa.bindparam("venue"),
    funding_payments.c.venue_payment_id.in_(sa.bindparam("ids", expanding=True)),
)
_INSERT_PAYMENTS = sa.insert(funding_payments)
_INSERT_NEW_PAYMENTS = sqlite.insert(funding_payments).on_conflict_do_nothing()  # SQLite's first try, see add_many


class _SomeStoredBefore(Exception):
    """An insert that ignores duplicates inserted fewer rows than it was given: roll it back, look them up."""


def _fill(row: sa.RowMapping) -> FillRecord:
    return FillRecord(**{c.name: row[c.name] for c in fills.columns})


def _payment(row: sa.RowMapping) -> FundingPaymentRecord:
    return FundingPaymentRecord(**{c.name: row[c.name] for c in funding_payments.columns})


def _check_same(what: str, stored: sa.RowMapping, given: Mapping[str, Any], fields: tuple[str, ...]) -> None:
    differences = [f"{name} {stored[name]} vs {given[name]}" for name in fields if stored[name] != given[name]]
    if differences:
        raise StoreConflict(f"{what} was already stored with different values ({'; '.join(differences)})")


class FillRepository(Repository):
    """Executions of our orders."""

    async def add(
        self,
        *,
        venue: str,
        venue_fill_id: str,
        client_order_id: str,
        quantity: Decimal,
        price: Decimal,
        fee: Decimal,
        at: datetime,
        liquidity: str | None = None,
    ) -> tuple[FillRecord, bool]:
        """Store a fill of a recorded order; return it and whether it was new.

        The same (venue, venue_fill_id) again is ignored (reports overlap after a reconnect); if its numbers
        differ from the stored ones, `StoreError` is raised. Symbol, side and position come from the order.
        """
        async with self._db.write() as conn:
            order = (
                await conn.execute(
                    sa.select(orders.c.symbol, orders.c.side, orders.c.position_id, orders.c.venue).where(
                        orders.c.client_order_id == client_order_id
                    )
                )
            ).first()
            if order is None:
                raise StoreError(f"fill {venue_fill_id!r} is for unknown client order id {client_order_id!r}")
            if order.venue != venue:
                raise StoreError(
                    f"fill {venue_fill_id!r} comes from {venue!r} but order {client_order_id!r} went to {order.venue!r}"
                )
            values: dict[str, Any] = {
                "venue": venue,
                "venue_fill_id": venue_fill_id,
                "client_order_id": client_order_id,
                "symbol": order.symbol,
                "side": order.side,
                "quantity": quantity,
                "price": price,
                "fee": fee,
                "liquidity": liquidity,
                "at": at,
                "position_id": order.position_id,
            }
            inserted = await self._insert_if_absent(conn, fills, values)
            row = (
                await conn.execute(
                    sa.select(fills).where(fills.c.venue == venue, fills.c.venue_fill_id == venue_fill_id)
                )
            ).one()
        record = _fill(row._mapping)
        if not inserted:
            _check_same(
                f"fill {venue}/{venue_fill_id}",
                row._mapping,
                values,
                ("client_order_id", "quantity", "price", "fee"),
            )
        return record, inserted

    async def list(
        self,
        *,
        client_order_id: str | None = None,
        position_id: str | None = None,
        since: datetime | None = None,
    ) -> list[FillRecord]:
        """Fills in the order they were stored."""
        clauses: list[sa.ColumnElement[bool]] = [sa.true()]
        if client_order_id is not None:
            clauses.append(fills.c.client_order_id == client_order_id)
        if position_id is not None:
            clauses.append(fills.c.position_id == position_id)
        if since is not None:
            clauses.append(fills.c.at >= since)
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(fills).where(*clauses).order_by(fills.c.id))).all()
        return [_fill(row._mapping) for row in rows]


class FundingRepository(Repository):
    """Funding payments as venues report them (+ received, − paid)."""

    async def add(
        self,
        *,
        venue: str,
        venue_payment_id: str,
        symbol: str,
        amount: Decimal,
        at: datetime,
        rate: Decimal | None = None,
        position_id: str | None = None,
    ) -> tuple[FundingPaymentRecord, bool]:
        """Store a payment; return it and whether it was new (the same venue payment id is stored once)."""
        values: dict[str, Any] = {
            "venue": venue,
            "venue_payment_id": venue_payment_id,
            "symbol": symbol,
            "amount": amount,
            "rate": rate,
            "at": at,
            "position_id": position_id,
        }
        async with self._db.write() as conn:
            inserted = await self._insert_if_absent(conn, funding_payments, values)
            row = (
                await conn.execute(
                    sa.select(funding_payments).where(
                        funding_payments.c.venue == venue, funding_payments.c.venue_payment_id == venue_payment_id
                    )
                )
            ).one()
        if not inserted:
            _check_same(f"funding payment {venue}/{venue_payment_id}", row._mapping, values, ("symbol", "amount"))
        return _payment(row._mapping), inserted

    async def add_many(self, payments: Sequence[Mapping[str, Any]]) -> int:
        """Store several payments (each with `add`'s keyword arguments) in one transaction; return how many were
        new. A payment stored before is skipped, and refused (nothing written) if its symbol or amount differ."""
        wanted: dict[tuple[str, str], dict[str, Any]] = {}
        for p in payments:
            values = {"rate": None, "position_id": None, **p}
            wanted.setdefault((values["venue"], values["venue_payment_id"]), values)
        if not wanted:
            return 0
        if self._db.backend is Backend.SQLITE:
            # The usual batch is all new: insert it ignoring duplicates, and when SQLite's summed row count says
            # every row went in, that is all. Otherwise roll back and take the path below, which checks each
            # payment stored before against its repeat. (PostgreSQL's driver does not sum an executemany's counts.)
            try:
                async with self._db.write() as conn:
                    if (await conn.execute(_INSERT_NEW_PAYMENTS, list(wanted.values()))).rowcount != len(wanted):
                        raise _SomeStoredBefore
                return len(wanted)
            except _SomeStoredBefore:
                pass
        by_venue: dict[str, builtins.list[str]] = {}
        for venue, payment_id in wanted:
            by_venue.setdefault(venue, []).append(payment_id)
        async with self._db.write() as conn:
            stored: dict[tuple[str, str], sa.RowMapping] = {}
            # Per venue, `venue = ? AND venue_payment_id IN (…)`: the unique index answers it (a row-value IN
            # over both columns is a scan of the whole table on SQLite, which grows with every payment stored).
            for venue, ids in by_venue.items():
                for i in range(0, len(ids), 400):  # bounded IN lists (SQLite's parameter limit)
                    rows = (await conn.execute(_PAYMENTS_OF, {"venue": venue, "ids": ids[i : i + 400]})).all()
                    for row in rows:
                        stored[(row.venue, row.venue_payment_id)] = row._mapping
            for k, found in stored.items():
                _check_same(f"funding payment {k[0]}/{k[1]}", found, wanted[k], ("symbol", "amount"))
            new = [v for k, v in wanted.items() if k not in stored]
            if new:
                await conn.execute(_INSERT_PAYMENTS, new)
        return len(new)

    async def count_attributed(self) -> int:
        """How many payments are stored against a position (on an exclusive store, counted again only after a
        payment was written)."""
        stamp, kept = self._recall("attributed", "funding_payments")
        if kept is None:
            attributed = funding_payments.c.position_id.is_not(None)
            stmt = sa.select(sa.func.count()).select_from(funding_payments).where(attributed)
            async with self._db.read() as conn:
                kept = int((await conn.execute(stmt)).scalar_one())
            self._keep("attributed", stamp, kept)
        return int(kept)

    async def attributed_after(self, after_id: int | None) -> builtins.list[FundingPaymentRecord]:
        """Payments stored against a position, with a storage id above `after_id` (all with None), by that id: what
        a running sum reads of what was stored since it last looked."""
        clauses: list[sa.ColumnElement[bool]] = [funding_payments.c.position_id.is_not(None)]
        if after_id is not None:
            clauses.append(funding_payments.c.id > after_id)
        stmt = sa.select(funding_payments).where(*clauses).order_by(funding_payments.c.id)
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_payment(row._mapping) for row in rows]

    async def total(self, position_id: str) -> Decimal:
        """The sum of the position's payments (exact: summed as Decimals here, not by the database)."""
        stmt = sa.select(funding_payments.c.amount).where(funding_payments.c.position_id == position_id)
        async with self._db.read() as conn:
            amounts = (await conn.execute(stmt)).scalars().all()
        return sum(amounts, Decimal(0))

    async def list(
        self,
        *,
        position_id: str | None = None,
        venue: str | None = None,
        since: datetime | None = None,
    ) -> list[FundingPaymentRecord]:
        """Payments by time."""
        clauses: list[sa.ColumnElement[bool]] = [sa.true()]
        if position_id is not None:
            clauses.append(funding_payments.c.position_id == position_id)
        if venue is not None:
            clauses.append(funding_payments.c.venue == venue)
        if since is not None:
            clauses.append(funding_payments.c.at >= since)
        stmt = sa.select(funding_payments).where(*clauses).order_by(funding_payments.c.at, funding_payments.c.id)
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_payment(row._mapping) for row in rows]
