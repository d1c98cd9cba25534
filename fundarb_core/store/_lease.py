"""One bot per store: a lease row with an owner, a random token and an expiry read from the bot's `Clock`.

A bot acquires the lease at start and renews it (`heartbeat`) well before it expires. A second bot is refused
with a message naming the holder and the expiry. When the holder dies, its lease runs out and the next bot takes
it over. Every renewal checks the token, so a bot that lost its lease (it stalled past the expiry and another bot
took over) learns it at its next heartbeat and must stop.

The lease also names the holder's process: host, pid and the process's start time. A bot on the same host whose
holder is gone (no such pid, a zombie, or the pid now names a process started at another time: pid reuse) takes
over at once instead of waiting out the expiry, so a restart after a crash resumes guarding positions in seconds.
A holder on another host cannot be checked and is waited out as before.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import Any, Final, NoReturn

import attrs
import psutil
import sqlalchemy as sa
from loguru import logger

from fundarb_core.clock import Clock, as_seconds
from fundarb_core.errors import StoreError
from fundarb_core.model.records import LeaseRecord
from fundarb_core.store._base import insert_ignore, lock_rows
from fundarb_core.store._db import Database
from fundarb_core.store._schema import lease, schema_versions

__all__ = [
    "LEASE_NAME",
    "Lease",
    "LeaseHeld",
    "LeaseLost",
    "ProcessIdentity",
    "acquire_lease",
    "held_message",
    "lease_record",
    "read_lease",
    "this_host",
]

LEASE_NAME: Final = "bot"
_PROCESS_COLUMNS: Final = ("host", "pid", "process_started")
_NAMES_PROCESS: Final = 6  # the schema version that added them


class LeaseHeld(StoreError):
    """Another bot holds the store's lease."""

    def __init__(self, message: str, *, holder: LeaseRecord) -> None:
        self.holder = holder
        super().__init__(message)


class LeaseLost(StoreError):
    """This bot's lease was taken over (or released) by someone else: stop writing and exit."""


def this_host() -> str:
    """Where this process's pids mean something: the host name, and on Linux the pid namespace. Two containers can
    share a host name (host networking, a fixed `hostname:`) while neither sees the other's processes: a pid there
    is not one to look up here (found by review: a bot in one took the lease of a live bot in the other at once)."""
    name = socket.gethostname()
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:  # not Linux, or no /proc: the host name alone
        return name
    return f"{name} {namespace}"


@attrs.frozen
class ProcessIdentity:
    """A process, told apart from a later one that reuses its pid by its start time (epoch seconds); `host` is
    where its pid means something (`this_host`)."""

    host: str
    pid: int
    started: float

    @classmethod
    def current(cls) -> ProcessIdentity:
        """This process."""
        return cls(this_host(), os.getpid(), psutil.Process().create_time())

    @classmethod
    def of(cls, record: LeaseRecord) -> ProcessIdentity | None:
        """The process a lease names (None for a lease written before v6 named processes)."""
        if record.host is None or record.pid is None or record.process_started is None:
            return None
        return cls(record.host, record.pid, record.process_started)

    def gone(self) -> bool:
        """True when this process (on this host) no longer runs; False when it runs or cannot be checked."""
        if self.host != this_host():
            return False  # another machine's (or pid namespace's) processes are not ours to see
        try:
            process = psutil.Process(self.pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return True  # killed, not yet reaped by its parent: it holds nothing
            return abs(process.create_time() - self.started) > 0.01  # the pid now names another process
        except psutil.NoSuchProcess:
            return True
        except psutil.Error:  # access denied and the like: assume it runs
            return False


def _fmt(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def lease_record(row: Any) -> LeaseRecord:  # a Row of the lease table, all or some of its columns
    m = row._mapping
    return LeaseRecord(
        owner=m["owner"], acquired_at=m["acquired_at"], renewed_at=m["renewed_at"], expires_at=m["expires_at"],
        host=m.get("host"), pid=m.get("pid"), process_started=m.get("process_started"),  # None before v6
    )  # fmt: skip


async def read_lease(db: Database) -> LeaseRecord | None:
    """Return the current lease row (expired or not), or None."""
    async with db.read() as conn:
        row = (await conn.execute(sa.select(lease).where(lease.c.name == LEASE_NAME))).first()
    return None if row is None else lease_record(row)


def held_message(db: Database, holder: LeaseRecord) -> str:
    where = f", pid {holder.pid} on {holder.host}" if holder.host is not None else ""
    return (
        f"the store {db.location.display} is in use by bot {holder.owner!r}{where} "
        f"(lease renewed {_fmt(holder.renewed_at)}, expires {_fmt(holder.expires_at)}); "
        "stop that bot first, or, if it died, start again after its lease expires"
    )


async def acquire_lease(
    db: Database, clock: Clock, owner: str, ttl: float | timedelta, *, process: ProcessIdentity | None = None
) -> Lease:
    """Take the store's lease for `owner` for `ttl`, or raise `LeaseHeld` naming the live holder.

    `process` is the one taking it (default: this process). A live lease whose holder was a process on this
    host that is gone now is taken over at once.
    """
    seconds = as_seconds(ttl)
    if seconds <= 0:
        raise ValueError(f"lease ttl must be positive, found {ttl}")
    if not owner.strip():
        raise ValueError("lease owner must not be empty")
    token = secrets.token_hex(16)
    me = process or ProcessIdentity.current()
    async with db.write() as conn:
        now = clock.now()
        values: dict[str, Any] = {
            "name": LEASE_NAME,
            "owner": owner,
            "token": token,
            "acquired_at": now,
            "renewed_at": now,
            "expires_at": now + timedelta(seconds=seconds),
            "host": me.host,
            "pid": me.pid,
            "process_started": me.started,
        }
        columns = list(lease.c)
        version = (await conn.execute(sa.select(sa.func.max(schema_versions.c.version)))).scalar()
        if version is not None and version < _NAMES_PROCESS:  # a store not upgraded yet (an older bot's)
            columns = [c for c in columns if c.name not in _PROCESS_COLUMNS]
            values = {k: v for k, v in values.items() if k not in _PROCESS_COLUMNS}
        inserted = (await conn.execute(insert_ignore(db, lease, values))).rowcount == 1
        if not inserted:
            stmt = lock_rows(db, sa.select(*columns).where(lease.c.name == LEASE_NAME))
            row = (await conn.execute(stmt)).one()
            holder = lease_record(row)
            previous = ProcessIdentity.of(holder)
            gone = previous is not None and previous != me and previous.gone()
            if holder.expires_at > now and not gone:
                raise LeaseHeld(held_message(db, holder), holder=holder)
            await conn.execute(sa.update(lease).where(lease.c.name == LEASE_NAME).values(**values))
            why = f"its process {previous.pid} is gone" if gone and previous else f"expired {_fmt(holder.expires_at)}"
            logger.bind(store=db.location.display).warning("took over the lease of {} ({})", holder.owner, why)
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
                row = (await conn.execute(sa.select(lease.c.owner).where(lease.c.name == LEASE_NAME))).first()
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
