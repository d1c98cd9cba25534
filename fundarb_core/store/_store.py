"""`Store`: the durable state of one bot, opened from a config or URL, with one repository per table."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from loguru import logger

from fundarb_core.clock import Clock, WallClock
from fundarb_core.errors import StoreError
from fundarb_core.model.records import LeaseRecord
from fundarb_core.store._actions import ActionJournal
from fundarb_core.store._db import Database, describe_error
from fundarb_core.store._events import ControlRepository, EventLog, TelemetryRepository
from fundarb_core.store._fills import FillRepository, FundingRepository
from fundarb_core.store._lease import Lease, acquire_lease, read_lease
from fundarb_core.store._migrate import MigrationReport, current_version, upgrade
from fundarb_core.store._migrations import LATEST_VERSION
from fundarb_core.store._orders import OrderRepository
from fundarb_core.store._positions import PositionRepository
from fundarb_core.store._scans import ScanRepository
from fundarb_core.store._transfers import TransferRepository
from fundarb_core.store._url import Backend, StoreLocation, resolve_location

if TYPE_CHECKING:
    from fundarb_core.config import Config

__all__ = ["Store"]


class Store:
    """The durable store. Open it with `Store.open(...)` or `Store.from_config(...)`; close it (or use
    `async with`) when done.

    Every repository method is one transaction, committed before it returns: what a method returned survives a
    crash of the process right after. Times written by the store (created_at, lease expiry) come from `clock`.
    """

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self.clock = clock
        db.clock = clock
        self.positions = PositionRepository(db, clock)
        self.orders = OrderRepository(db, clock)
        self.fills = FillRepository(db, clock)
        self.funding = FundingRepository(db, clock)
        self.actions = ActionJournal(db, clock)
        self.transfers = TransferRepository(db, clock)
        self.events = EventLog(db, clock)
        self.telemetry = TelemetryRepository(db, clock)
        self.control = ControlRepository(db, clock)
        self.scans = ScanRepository(db, clock)

    @classmethod
    async def open(
        cls,
        url: str | Path | None = None,
        *,
        data_dir: Path | None = None,
        clock: Clock | None = None,
        migrate: bool = True,
        schema: str | None = None,
        inline: bool = False,
    ) -> Store:
        """Open the store at `url` (see `resolve_location`) and, unless `migrate=False`, upgrade its schema.

        `schema` selects a PostgreSQL schema (search_path) other than the default one. `inline` runs a SQLite
        store on the event loop's thread (a backtest's throwaway store; see `fundarb_core.store._db`).
        """
        location = resolve_location(url, data_dir=data_dir)
        return await cls.open_location(location, clock=clock, migrate=migrate, schema=schema, inline=inline)

    @classmethod
    async def from_config(cls, config: Config, *, clock: Clock | None = None, migrate: bool = True) -> Store:
        """Open the store a configuration names: `store.url`, else a file in `bot.data_dir` or the user's data dir."""
        return await cls.open(config.store.url, data_dir=config.bot.data_dir, clock=clock, migrate=migrate)

    @classmethod
    async def open_location(
        cls,
        location: StoreLocation,
        *,
        clock: Clock | None = None,
        migrate: bool = True,
        schema: str | None = None,
        inline: bool = False,
    ) -> Store:
        if location.path is not None:
            try:
                location.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the store's directory {location.path.parent}: {exc.strerror}"
                ) from None
        db = Database.connect(location, schema=schema, inline=inline)
        store = cls(db, clock or WallClock())
        try:
            if migrate:
                await store.migrate()
        except BaseException:
            await db.dispose()
            raise
        logger.bind(store=location.display).debug("store open")
        return store

    @property
    def location(self) -> StoreLocation:
        return self._db.location

    @property
    def backend(self) -> Backend:
        return self._db.backend

    @property
    def display_url(self) -> str:
        """The store's URL with secrets masked."""
        return self._db.location.display

    async def migrate(self, target: int | None = None) -> MigrationReport:
        """Upgrade the schema to `target` (default: latest), backing a SQLite file up first if it had data.

        Refused while another bot holds a live lease, and for a store newer than this code.
        """
        return await upgrade(self._db, self.clock, target)

    async def schema_version(self) -> int | None:
        """The schema version recorded in the database (None when empty)."""
        return await current_version(self._db)

    @staticmethod
    def latest_version() -> int:
        return LATEST_VERSION

    async def acquire_lease(self, owner: str, ttl: float | timedelta) -> Lease:
        """Become the one bot using this store, or raise `LeaseHeld` (a `StoreError`) naming the holder."""
        return await acquire_lease(self._db, self.clock, owner, ttl)

    async def lease_holder(self) -> LeaseRecord | None:
        """The current lease (possibly expired), or None."""
        return await read_lease(self._db)

    async def check_integrity(self) -> list[str]:
        """Run SQLite's `PRAGMA integrity_check`; return its complaints (empty when sound). PostgreSQL: empty."""
        if self.backend is not Backend.SQLITE:
            return []
        async with self._db.read() as conn:
            rows = (await conn.exec_driver_sql("PRAGMA integrity_check")).all()
            fk_rows = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
        problems = [str(row[0]) for row in rows if row[0] != "ok"]
        problems += [f"foreign key violation: {tuple(row)}" for row in fk_rows]
        return problems

    async def close(self) -> None:
        try:
            await self._db.dispose()
        except Exception as exc:  # closing must not hide the error that made us close
            logger.bind(store=self.display_url).warning("closing the store failed: {}", describe_error(exc))

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
