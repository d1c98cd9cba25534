"""The durable store: everything a restart needs, in SQLite (default, WAL mode) or PostgreSQL.

SQLAlchemy Core, async; repositories return the frozen records of `fundarb_core.model.records`. See
docs/store.md for the tables, migrations, the one-bot lease and the backends.
"""

from __future__ import annotations

from fundarb_core.store._actions import ActionJournal
from fundarb_core.store._events import ControlRepository, EventLog, TelemetryRepository
from fundarb_core.store._export import EXPORTS, export_rows, write_export
from fundarb_core.store._fills import FillRepository, FundingRepository
from fundarb_core.store._lease import Lease, LeaseHeld, LeaseLost, ProcessIdentity
from fundarb_core.store._migrate import MigrationReport
from fundarb_core.store._migrations import LATEST_VERSION
from fundarb_core.store._orders import OrderRepository
from fundarb_core.store._positions import PositionPage, PositionRepository, StaleVersion
from fundarb_core.store._scans import ScanRecord, ScanRepository
from fundarb_core.store._store import Store
from fundarb_core.store._transfers import TransferRepository
from fundarb_core.store._types import as_stored
from fundarb_core.store._url import Backend, StoreLocation, default_data_dir, mask_url, resolve_location

__all__ = [
    "EXPORTS",
    "LATEST_VERSION",
    "ActionJournal",
    "Backend",
    "ControlRepository",
    "EventLog",
    "FillRepository",
    "FundingRepository",
    "Lease",
    "LeaseHeld",
    "LeaseLost",
    "MigrationReport",
    "OrderRepository",
    "PositionPage",
    "PositionRepository",
    "ProcessIdentity",
    "ScanRecord",
    "ScanRepository",
    "StaleVersion",
    "Store",
    "StoreLocation",
    "TelemetryRepository",
    "TransferRepository",
    "as_stored",
    "default_data_dir",
    "export_rows",
    "mask_url",
    "resolve_location",
    "write_export",
]
