"""Accounting exports: positions, fills and funding payments as flat rows, written as CSV or JSON.

Every value is text (Decimal in plain notation, times in ISO 8601 UTC) or null, so a spreadsheet or a script reads
the exact amounts; the same rows make both formats.
"""

from __future__ import annotations

import csv
import enum
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Literal, TextIO

from fundarb_core.model.records import PositionRecord
from fundarb_core.store._types import format_decimal

if TYPE_CHECKING:
    from fundarb_core.store._store import Store

__all__ = ["COLUMNS", "EXPORTS", "FORMATS", "ExportKind", "export_rows", "write_export"]

ExportKind = Literal["positions", "fills", "funding"]
EXPORTS: Final[tuple[ExportKind, ...]] = ("positions", "fills", "funding")
FORMATS: Final = ("csv", "json")

Row = dict[str, str | None]

COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "positions": (
        "id",
        "symbol",
        "status",
        "long_venue",
        "short_venue",
        "notional_usd",
        "created_at",
        "opened_at",
        "closed_at",
        "exit_reason",
        "entry_spread",
        "long_quantity",
        "short_quantity",
        "long_entry_price",
        "short_entry_price",
        "long_exit_price",
        "short_exit_price",
        "fees",
        "funding",
        "realized_pnl",
    ),
    "fills": (
        "id",
        "at",
        "venue",
        "symbol",
        "side",
        "quantity",
        "price",
        "fee",
        "liquidity",
        "client_order_id",
        "venue_fill_id",
        "position_id",
    ),
    "funding": ("id", "at", "venue", "symbol", "amount", "rate", "venue_payment_id", "position_id"),
}


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _position_row(p: PositionRecord) -> Row:
    long_leg = p.leg(p.long_venue)
    short_leg = p.leg(p.short_venue)
    fields: dict[str, object] = {
        "id": p.id,
        "symbol": p.symbol,
        "status": p.status,
        "long_venue": p.long_venue,
        "short_venue": p.short_venue,
        "notional_usd": p.notional_usd,
        "created_at": p.created_at,
        "opened_at": p.opened_at,
        "closed_at": p.closed_at,
        "exit_reason": p.exit_reason,
        "entry_spread": p.entry_spread,
        "long_quantity": long_leg.filled_quantity,
        "short_quantity": short_leg.filled_quantity,
        "long_entry_price": long_leg.entry_price,
        "short_entry_price": short_leg.entry_price,
        "long_exit_price": long_leg.exit_price,
        "short_exit_price": short_leg.exit_price,
        "fees": sum((leg.fees for leg in p.legs), Decimal(0)),
        "funding": sum((leg.funding for leg in p.legs), Decimal(0)),
        "realized_pnl": p.realized_pnl,
    }
    return {k: _text(fields[k]) for k in COLUMNS["positions"]}


async def export_rows(store: Store, what: ExportKind, *, since: datetime | None = None) -> list[Row]:
    """Return the rows of one export, oldest first (positions by creation time, fills and funding by time)."""
    if what == "positions":
        return [_position_row(p) for p in await store.positions.list(since=since)]
    if what == "fills":
        fills = await store.fills.list(since=since)
        return [{c: _text(getattr(f, c)) for c in COLUMNS["fills"]} for f in fills]
    if what == "funding":
        payments = await store.funding.list(since=since)
        return [{c: _text(getattr(f, c)) for c in COLUMNS["funding"]} for f in payments]
    raise ValueError(f"unknown export {what!r} (expected one of {', '.join(EXPORTS)})")


def write_export(rows: Sequence[Row], what: ExportKind, fmt: str, out: TextIO) -> None:
    """Write an export's rows as CSV (a header line, empty cells for nulls) or JSON (an array of objects)."""
    if fmt == "json":
        json.dump(list(rows), out, indent=2)
        out.write("\n")
        return
    if fmt != "csv":
        raise ValueError(f"unknown format {fmt!r} (expected csv or json)")
    writer = csv.DictWriter(out, fieldnames=COLUMNS[what], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
