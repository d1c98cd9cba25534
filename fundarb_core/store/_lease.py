"""One bot per store: a lease row with an owner, a random token and an expiry read from the bot's `Clock`.

A bot acquires the lease at start and renews it (`heartbeat`) well before it expires. A second bot is refused
with a message naming the holder and the expiry. When the holder dies, its lease runs out and the next bot takes
it over. Every renewal checks the token, so a bot that lost its lease (it stalled past the expiry and another bot
took over) learns it at its next heartbeat and must stop.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Final, NoReturn

import sqlalchemy as sa
from loguru import logger

from fundarb_core.clock import Clock, as_seconds
from fundarb_core.errors import StoreError
from fundarb_core.model.records import LeaseRecord
from fundarb_core.store._base import insert_ignore, lock_rows
from fundarb_core.store._db import Database
from fundarb_core.store._schema import lease

__all__ = [
    "LEASE_NAME",
    "Lease",
    "LeaseHeld",
    "LeaseLost",
    "acquire_lease",
    "held_message",
    "lease_record",
    "read_lease",
]

LEASE_NAME: Final = "bot"


class LeaseHeld(StoreError):
    """Another bot holds the store's lease."""

    def __init__(self, message: str, *, holder: LeaseRecord) -> None:
        self.holder = holder
        super().__init__(message)


class LeaseLost(StoreError):
    """This bot's lease was taken over (or released) by someone else: stop writing and exit."""


def _fmt(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def lease_record(row: sa.Row[tuple[object, ...]]) -> LeaseRecord:
    m = row._mapping
    return LeaseRecord(
        owner=m["owner"], acquired_at=m["acquired_at"], renewed_at=m["renewed_at"], expires_at=m["expires_at"]
    )


async def read_lease(db: Database) -> LeaseRecord | None:
    """Return the current lease row (expired or not), or None."""
    async with db.read() as conn:
        row = (await conn.execute(sa.select(lease).where(lease.c.name == LEASE_NAME))).first()
    return None if row is None else lease_record(row)


def held_message(db: Database, holder: LeaseRecord) -> str:
    return (
        f"the store {db.location.display} is in use by bot {holder.owner!r} "
        f"(lease renewed {_fmt(holder.renewed_at)}, expires {_fmt(holder.expires_at)}); "
        "stop that bot first, or, if it died, start again after its lease expires"
    )


async def acquire_lease(db: Database, clock: Clock, owner: str, ttl: float | timedelta) -> Lease:
    """Take the store's lease for `owner` for `ttl`, or raise `LeaseHeld` naming the live holder."""
    seconds = as_seconds(ttl)
    if seconds <= 0:
        raise ValueError(f"lease ttl must be positive, found {ttl}")
    if not owner.strip():
        raise ValueError("lease owner must not be empty")
    token = secrets.token_hex(16)
    async with db.write() as conn:
        now = clock.now()
        values: dict[str, Any] = {
            "name": LEASE_NAME,
            "owner": owner,
            "token": token,
            "acquired_at": now,
            "renewed_at": now,
            "expires_at": now + timedelta(seconds=seconds),
        }
        inserted = (await conn.execute(insert_ignore(db, lease, values))).rowcount == 1
        if not inserted:
            stmt = lock_rows(db, sa.select(lease).where(lease.c.name == LEASE_NAME))
            row = (await conn.execute(stmt)).one()
            holder = lease_record(row)
            if holder.expires_at > now:
                raise LeaseHeld(held_message(db, holder), holder=holder)
            await conn.execute(sa.update(lease).where(lease.c.name == LEASE_NAME).values(**values))
            logger.bind(store=db.location.display).warning(
                "took over the lease of {} (expired {})", holder.owner, _fmt(holder.expires_at)
            )
    return Lease(db, clock, owner=owner, token=token, ttl=seconds, expires_at=values["expires_at"])


class Lease:
    """A held lease. Renew it with `heartbeat()` (a task) or `renew()`; `release()` it on a clean stop."""

    def __init__(self, db: Database, clock: Clock, *, owner: str, token: str, ttl: float, expires_at: datetime) -> None:
        self._db = db
        self._clock = clock
        self.owner = owner
        self.ttl = ttl
        self.expires_at = expires_at
        self._token = token
        self.released = False

    def __repr__(self) -> str:
        return f"Lease(owner={self.owner!r}, expires_at={self.expires_at.isoformat()})"

    async def renew(self) -> None:
        """Extend the lease to now + ttl; raise `LeaseLost` if another bot holds it now."""
        if self.released:
            raise LeaseLost(f"the lease of {self.owner!r} was released")
        now = self._clock.now()
        expires = now + timedelta(seconds=self.ttl)
        async with self._db.write() as conn:
            stmt = (
                sa.update(lease)
                .where(lease.c.name == LEASE_NAME, lease.c.token == self._token)
                .values(renewed_at=now, expires_at=expires)
            )
            if (await conn.execute(stmt)).rowcount != 1:
                row = (await conn.execute(sa.select(lease).where(lease.c.name == LEASE_NAME))).first()
                holder = "nobody" if row is None else repr(row._mapping["owner"])
                raise LeaseLost(
                    f"bot {self.owner!r} lost its lease on {self._db.location.display}: now held by {holder}; "
                    "stopping so that two bots never trade from one store"
                )
        self.expires_at = expires

    async def heartbeat(self, interval: float | timedelta | None = None) -> NoReturn:
        """Renew every `interval` (default: a third of the ttl) until cancelled.

        A failed renewal (the database briefly unreachable) is retried at the next beat while the lease is still
        valid; `LeaseLost`, or a failure once the lease has run out, is raised: the bot must stop.
        """
        every = self.ttl / 3 if interval is None else as_seconds(interval)
        log = logger.bind(store=self._db.location.display, owner=self.owner)
        while True:
            await self._clock.sleep(every)
            try:
                await self.renew()
            except LeaseLost:
                raise
            except StoreError as exc:
                if self._clock.now() >= self.expires_at:
                    raise LeaseLost(f"bot {self.owner!r} could not renew its lease before it expired: {exc}") from exc
                log.warning("lease renewal failed, retrying: {}", exc)

    async def release(self) -> None:
        """Give the lease up (a clean stop); the next bot can start at once."""
        if self.released:
            return
        async with self._db.write() as conn:
            await conn.execute(sa.delete(lease).where(lease.c.name == LEASE_NAME, lease.c.token == self._token))
        self.released = True

    async def __aenter__(self) -> Lease:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()
