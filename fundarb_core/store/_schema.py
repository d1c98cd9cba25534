"""The tables as the repositories see them, at the latest schema version.

The DDL that creates them lives in `_migrations.py`, frozen per version; a test checks that a migrated database
has exactly these columns. When a table changes, add a migration *and* change it here.
"""

from __future__ import annotations

import sqlalchemy as sa

from fundarb_core.model import ExitReason, OrderStatus, OrderType, PositionStatus, Side, TimeInForce
from fundarb_core.model.records import ActionStatus, ControlCommand, TransferState
from fundarb_core.store._types import DecimalText, EnumText, JsonText, UtcDateTime

__all__ = [
    "action_dependencies",
    "actions",
    "control",
    "events",
    "fills",
    "funding_payments",
    "lease",
    "legs",
    "metadata",
    "orders",
    "positions",
    "scans",
    "schema_versions",
    "telemetry",
    "transfers",
]

metadata = sa.MetaData()

ID = sa.String(64)
NAME = sa.String(64)
# An auto-incrementing 64-bit key; SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

schema_versions = sa.Table(
    "fundarb_schema",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

positions = sa.Table(
    "positions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("symbol", NAME, nullable=False),
    sa.Column("status", EnumText(PositionStatus), nullable=False),
    sa.Column("long_venue", NAME, nullable=False),
    sa.Column("short_venue", NAME, nullable=False),
    sa.Column("notional_usd", DecimalText, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("entry_spread", DecimalText),
    sa.Column("exit_reason", EnumText(ExitReason)),
    sa.Column("realized_pnl", DecimalText),
    sa.Column("opened_at", UtcDateTime),
    sa.Column("closed_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("details", JsonText, nullable=False),  # the typed state's JSON (fundarb_core.model.state)
)

legs = sa.Table(
    "legs",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("position_id", ID, sa.ForeignKey("positions.id"), nullable=False),
    sa.Column("venue", NAME, nullable=False),
    sa.Column("side", EnumText(Side), nullable=False),
    sa.Column("quantity", DecimalText, nullable=False),
    sa.Column("filled_quantity", DecimalText, nullable=False),
    sa.Column("entry_price", DecimalText),
    sa.Column("exit_price", DecimalText),
    sa.Column("fees", DecimalText, nullable=False),
    sa.Column("funding", DecimalText, nullable=False),
)

actions = sa.Table(
    "actions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("plan_id", ID, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("position_id", ID, sa.ForeignKey("positions.id")),
    sa.Column("action_type", NAME, nullable=False),
    sa.Column("details", JsonText, nullable=False),
    sa.Column("status", EnumText(ActionStatus), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("result", JsonText),
    sa.Column("depends_on", JsonText, nullable=False),
    sa.Column("urgency", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("claimed_by", sa.String(200)),  # v2
    sa.Column("reason", sa.Text),  # v3
    sa.Column("state", JsonText),  # v3
    sa.Column("not_before", UtcDateTime),  # v3
)

action_dependencies = sa.Table(
    "action_dependencies",
    metadata,
    sa.Column("action_id", ID, sa.ForeignKey("actions.id"), primary_key=True),
    sa.Column("depends_on", ID, sa.ForeignKey("actions.id"), primary_key=True),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("client_order_id", NAME, nullable=False, unique=True),
    sa.Column("venue", NAME, nullable=False),
    sa.Column("symbol", NAME, nullable=False),
    sa.Column("side", EnumText(Side), nullable=False),
    sa.Column("order_type", EnumText(OrderType), nullable=False),
    sa.Column("quantity", DecimalText, nullable=False),
    sa.Column("price", DecimalText),
    sa.Column("time_in_force", EnumText(TimeInForce), nullable=False),
    sa.Column("reduce_only", sa.Boolean, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", EnumText(OrderStatus)),
    sa.Column("filled_quantity", DecimalText, nullable=False),
    sa.Column("avg_price", DecimalText),
    sa.Column("fees", DecimalText, nullable=False),
    sa.Column("venue_order_id", sa.String(128)),
    sa.Column("error", sa.Text),
    sa.Column("position_id", ID, sa.ForeignKey("positions.id")),
    sa.Column("leg_id", ID, sa.ForeignKey("legs.id")),
    sa.Column("action_id", ID, sa.ForeignKey("actions.id")),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

fills = sa.Table(
    "fills",
    metadata,
    sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("venue", NAME, nullable=False),
    sa.Column("venue_fill_id", sa.String(128), nullable=False),
    sa.Column("client_order_id", NAME, sa.ForeignKey("orders.client_order_id"), nullable=False),
    sa.Column("symbol", NAME, nullable=False),
    sa.Column("side", EnumText(Side), nullable=False),
    sa.Column("quantity", DecimalText, nullable=False),
    sa.Column("price", DecimalText, nullable=False),
    sa.Column("fee", DecimalText, nullable=False),
    sa.Column("liquidity", sa.String(16)),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("position_id", ID, sa.ForeignKey("positions.id")),
    sa.UniqueConstraint("venue", "venue_fill_id"),
)

funding_payments = sa.Table(
    "funding_payments",
    metadata,
    sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("venue", NAME, nullable=False),
    sa.Column("venue_payment_id", sa.String(128), nullable=False),
    sa.Column("symbol", NAME, nullable=False),
    sa.Column("amount", DecimalText, nullable=False),
    sa.Column("rate", DecimalText),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("position_id", ID, sa.ForeignKey("positions.id")),
    sa.UniqueConstraint("venue", "venue_payment_id"),
)

transfers = sa.Table(
    "transfers",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
    sa.Column("route", NAME, nullable=False),
    sa.Column("from_venue", NAME, nullable=False),
    sa.Column("to_venue", NAME, nullable=False),
    sa.Column("asset", NAME, nullable=False),
    sa.Column("amount", DecimalText, nullable=False),
    sa.Column("state", EnumText(TransferState), nullable=False),
    sa.Column("reference", sa.String(200)),
    sa.Column("error", sa.Text),
    sa.Column("action_id", ID, sa.ForeignKey("actions.id")),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("kind", NAME, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("position_id", ID),  # no foreign key: the audit trail accepts anything and is never rewritten
    sa.Column("data", JsonText, nullable=False),
)

lease = sa.Table(
    "lease",
    metadata,
    sa.Column("name", NAME, primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("token", ID, nullable=False),
    sa.Column("acquired_at", UtcDateTime, nullable=False),
    sa.Column("renewed_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("host", sa.String(200)),  # v6: the holding process, for a takeover when it is gone
    sa.Column("pid", sa.Integer()),
    sa.Column("process_started", sa.Float()),
)

telemetry = sa.Table(  # v2
    "telemetry",
    metadata,
    sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("name", NAME, nullable=False),
    sa.Column("value", DecimalText, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("position_id", ID),
    sa.Column("client_order_id", NAME),
    sa.Column("data", JsonText, nullable=False),
)

control = sa.Table(  # v2
    "control",
    metadata,
    sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("command", EnumText(ControlCommand), nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("issued_by", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("consumed", sa.Boolean, nullable=False),
    sa.Column("consumed_at", UtcDateTime),
)

scans = sa.Table(  # v4
    "scans",
    metadata,
    sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("opportunities", JsonText, nullable=False),
)
