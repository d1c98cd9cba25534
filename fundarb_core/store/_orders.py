"""Order intents: written (and committed) before the order is sent, then updated with what the venue says."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import sqlalchemy as sa

from fundarb_core.errors import StoreError
from fundarb_core.model import OrderStatus, OrderType, Side, TimeInForce
from fundarb_core.model.records import OrderRecord
from fundarb_core.store._base import Repository, new_id
from fundarb_core.store._schema import orders

__all__ = ["OrderRepository"]

# What identifies an intent: re-recording the same client order id with these equal is a harmless retry.
_INTENT_FIELDS: Final = (
    "venue",
    "symbol",
    "side",
    "order_type",
    "quantity",
    "price",
    "time_in_force",
    "reduce_only",
    "attempt",
)
_UNFINISHED: Final = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
_LIVE_ORDERS: Final = (
    sa.select(orders)
    .where(sa.or_(*(orders.c.status == status for status in _UNFINISHED)))
    .order_by(orders.c.created_at, orders.c.client_order_id)
)


# Statements built once (their values bound by name at each call): SQLAlchemy neither builds nor keys one per call.
_BY_CLIENT_ID: Final = sa.select(orders).where(orders.c.client_order_id == sa.bindparam("b_client_order_id"))
_BY_CLIENT_ID_LOCKED: Final = _BY_CLIENT_ID.with_for_update()  # PostgreSQL: the row is locked until commit
_BY_ID: Final = sa.select(orders).where(orders.c.id == sa.bindparam("b_id"))
_UPDATES: dict[tuple[str, ...], Any] = {}  # the columns an update sets → its statement (a few combinations recur)


def _update_of(columns: tuple[str, ...]) -> Any:
    stmt = _UPDATES.get(columns)
    if stmt is None:
        stmt = _UPDATES[columns] = (
            sa.update(orders)
            .where(orders.c.id == sa.bindparam("b_id"))
            .values({name: sa.bindparam(f"v_{name}") for name in columns})
        )
    return stmt


def order_record(row: sa.RowMapping) -> OrderRecord:
    return OrderRecord(**{c.name: row[c.name] for c in orders.columns})


class OrderRepository(Repository):
    """The orders table. `record_intent` must return before the order is sent to the venue."""

    async def record_intent(
        self,
        *,
        client_order_id: str,
        venue: str,
        symbol: str,
        side: Side,
        quantity: Decimal,
        price: Decimal | None,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
        attempt: int = 0,
        position_id: str | None = None,
        leg_id: str | None = None,
        action_id: str | None = None,
        id: str | None = None,
    ) -> OrderRecord:
        """Journal an order about to be sent, durably (committed on return), with status None ("not yet known").

        Recording the same `client_order_id` again with the same terms returns the stored intent (a retry after a
        crash); with different terms it raises `StoreError`, since a client order id names exactly one order.
        """
        now = self._now()
        record = OrderRecord(
            id=id or new_id(),
            client_order_id=client_order_id,
            venue=venue,
            symbol=symbol,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            time_in_force=time_in_force,
            reduce_only=reduce_only,
            attempt=attempt,
            position_id=position_id,
            leg_id=leg_id,
            action_id=action_id,
            created_at=now,
            updated_at=now,
        )
        values = {c.name: getattr(record, c.name) for c in orders.columns}
        async with self._db.write() as conn:
            if await self._insert_if_absent(conn, orders, values):
                return record
            row = (await conn.execute(_BY_CLIENT_ID, {"b_client_order_id": client_order_id})).first()
        if row is None:
            raise StoreError(f"order id {record.id} is already used by another client order id")
        existing = order_record(row._mapping)
        differences = [
            f"{name} {getattr(existing, name)} vs {getattr(record, name)}"
            for name in _INTENT_FIELDS
            if getattr(existing, name) != getattr(record, name)
        ]
        if differences:
            raise StoreError(
                f"client order id {client_order_id!r} already names a different order ({'; '.join(differences)})"
            )
        return existing

    async def update(
        self,
        client_order_id: str,
        *,
        status: OrderStatus,
        filled_quantity: Decimal | None = None,
        avg_price: Decimal | None = None,
        fees: Decimal | None = None,
        venue_order_id: str | None = None,
        error: str | None = None,
    ) -> OrderRecord:
        """Record what the venue reported. Fields left None keep their stored value.

        A final status (filled, cancelled, rejected, expired) is never replaced by another status, and the filled
        quantity never goes down: a stale report arriving late raises `StoreError` instead of rewriting history.
        """
        async with self._db.write() as conn:
            stmt = _BY_CLIENT_ID_LOCKED if self._postgres else _BY_CLIENT_ID  # SQLite's write transaction excludes
            row = (await conn.execute(stmt, {"b_client_order_id": client_order_id})).first()
            if row is None:
                raise StoreError(f"no order with client order id {client_order_id!r} (record the intent first)")
            current = order_record(row._mapping)
            if current.status is not None and current.status.final and status is not current.status:
                raise StoreError(
                    f"order {client_order_id!r} is already {current.status}; refusing to change it to {status}"
                )
            if filled_quantity is not None and filled_quantity < current.filled_quantity:
                raise StoreError(
                    f"order {client_order_id!r}: filled quantity cannot go down "
                    f"(stored {current.filled_quantity}, reported {filled_quantity})"
                )
            changes: dict[str, Any] = {"status": status, "updated_at": self._now()}
            for name, value in (
                ("filled_quantity", filled_quantity),
                ("avg_price", avg_price),
                ("fees", fees),
                ("venue_order_id", venue_order_id),
                ("error", error),
            ):
                if value is not None:
                    changes[name] = value
            params = {f"v_{name}": value for name, value in changes.items()}
            await conn.execute(_update_of(tuple(changes)), {**params, "b_id": current.id})
            row = (await conn.execute(_BY_ID, {"b_id": current.id})).one()
        return order_record(row._mapping)

    async def get(self, client_order_id: str) -> OrderRecord | None:
        """Return the order with this client order id, or None."""
        async with self._db.read() as conn:
            row = (await conn.execute(_BY_CLIENT_ID, {"b_client_order_id": client_order_id})).first()
        return None if row is None else order_record(row._mapping)

    async def get_by_id(self, order_id: str) -> OrderRecord | None:
        async with self._db.read() as conn:
            row = (await conn.execute(_BY_ID, {"b_id": order_id})).first()
        return None if row is None else order_record(row._mapping)

    async def list_unfinished(self, *, venue: str | None = None, live: bool = False) -> list[OrderRecord]:
        """Orders whose outcome is not final: intents with no venue answer yet, open and partially filled ones
        (`live`: only the open and partially filled ones, through the status index: cheap enough for every tick).

        On start, reconcile each with its venue by client order id before sending anything new.
        """
        if live and venue is None:  # what the bot asks between ticks: built once
            stamp, kept = self._recall("live", "orders")
            if kept is None:
                async with self._db.read() as conn:
                    kept = tuple(order_record(row._mapping) for row in (await conn.execute(_LIVE_ORDERS)).all())
                self._keep("live", stamp, kept)
            return list(kept)
        where: sa.ColumnElement[bool] = orders.c.status.in_(_UNFINISHED)
        if not live:
            where = sa.or_(orders.c.status.is_(None), where)
        if venue is not None:
            where = sa.and_(where, orders.c.venue == venue)
        return await self._select(where)

    async def fees_by_position(self, position_ids: list[str]) -> dict[str, Decimal]:
        """The fees paid so far on each position's orders (positions without orders are absent)."""
        if not position_ids:
            return {}
        stmt = sa.select(orders.c.position_id, orders.c.fees).where(orders.c.position_id.in_(position_ids))
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        totals: dict[str, Decimal] = {}
        for position_id, fees in rows:
            totals[position_id] = totals.get(position_id, Decimal(0)) + Decimal(fees)
        return totals

    async def _select(self, where: sa.ColumnElement[bool]) -> list[OrderRecord]:
        async with self._db.read() as conn:
            stmt = sa.select(orders).where(where).order_by(orders.c.created_at, orders.c.client_order_id)
            rows = (await conn.execute(stmt)).all()
        return [order_record(row._mapping) for row in rows]

    async def list(
        self,
        *,
        position_id: str | None = None,
        action_id: str | None = None,
        since: datetime | None = None,
    ) -> list[OrderRecord]:
        """Orders, oldest first, filtered by position, action or creation time."""
        if position_id is not None and action_id is None and since is None:
            # A position's orders, asked each tick for every open one (the kill switch's account): on an exclusive
            # store, read again only after an order was written.
            stamp, kept = self._recall(("position", position_id), "orders")
            if kept is None:
                kept = tuple(await self._select(orders.c.position_id == position_id))
                self._keep(("position", position_id), stamp, kept)
            return list(kept)
        clauses: list[sa.ColumnElement[bool]] = [sa.true()]
        if position_id is not None:
            clauses.append(orders.c.position_id == position_id)
        if action_id is not None:
            clauses.append(orders.c.action_id == action_id)
        if since is not None:
            clauses.append(orders.c.created_at >= since)
        return await self._select(sa.and_(*clauses))
