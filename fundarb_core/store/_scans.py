"""The bot's scans: each ranked list of opportunities it saw, kept for a while so the dashboard can show the last."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs
import sqlalchemy as sa

from fundarb_core.store._base import Repository
from fundarb_core.store._schema import scans
from fundarb_core.store._types import as_stored

__all__ = ["ScanRecord", "ScanRepository"]

KEEP: Final = 100  # scans kept (up to TRIM_EVERY more); older ones are dropped as new ones arrive
TRIM_EVERY: Final = 10  # drop the old ones every this many saves, not on each


@attrs.frozen
class ScanRecord:
    """One scan: when, and its opportunities (JSON-ready mappings, best first)."""

    id: int
    at: datetime
    opportunities: tuple[Mapping[str, Any], ...]


class ScanRepository(Repository):
    """Scans, newest last; only the last `KEEP` are kept."""

    async def save(self, at: datetime, opportunities: Sequence[Mapping[str, Any]]) -> ScanRecord:
        """Record a scan made at `at` (Decimals and datetimes inside become strings) and drop the oldest."""
        rows = [as_stored(o) for o in opportunities]
        async with self._db.write() as conn:
            new_id = (
                await conn.execute(sa.insert(scans).values(at=at, opportunities=rows).returning(scans.c.id))
            ).scalar_one()
            if new_id % TRIM_EVERY == 0:
                await conn.execute(sa.delete(scans).where(scans.c.id <= new_id - KEEP))
        return ScanRecord(id=new_id, at=at, opportunities=tuple(rows))

    async def latest(self) -> ScanRecord | None:
        """The most recent scan, or None before the first."""
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(scans).order_by(scans.c.id.desc()).limit(1))).first()
        if row is None:
            return None
        m = row._mapping
        return ScanRecord(id=m["id"], at=m["at"], opportunities=tuple(m["opportunities"]))
