"""The schema's history: one function per version, written with Alembic's operations and frozen once released.

Never edit a released migration: add the next one (and update `_schema.py`). Each runs in its own transaction
together with the row that records its version, so a crash mid-upgrade leaves the previous version intact.
Types here are the plain SQL types under the store's column types: money and JSON are TEXT, times are
TIMESTAMP WITH TIME ZONE (naive UTC text on SQLite), enums are VARCHAR(40).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

import attrs
import sqlalchemy as sa
from alembic.operations import Operations

__all__ = ["LATEST_VERSION", "MIGRATIONS", "Migration"]

ID = sa.String(64)
NAME = sa.String(64)
ENUM = sa.String(40)
MONEY = sa.Text
JSON = sa.Text
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def TIME() -> sa.DateTime:
    return sa.DateTime(timezone=True)


@attrs.frozen
class Migration:
    version: int
    description: str
    upgrade: Callable[[Operations], None]


def _v1_initial(op: Operations) -> None:
    op.create_table(
        "positions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("symbol", NAME, nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("long_venue", NAME, nullable=False),
        sa.Column("short_venue", NAME, nullable=False),
        sa.Column("notional_usd", MONEY, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("entry_spread", MONEY),
        sa.Column("exit_reason", ENUM),
        sa.Column("realized_pnl", MONEY),
        sa.Column("opened_at", TIME()),
        sa.Column("closed_at", TIME()),
        sa.Column("created_at", TIME(), nullable=False),
        sa.Column("updated_at", TIME(), nullable=False),
        sa.Column("details", JSON, nullable=False),
    )
    op.create_index("ix_positions_status", "positions", ["status"])
    op.create_table(
        "legs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("position_id", ID, sa.ForeignKey("positions.id", name="fk_legs_position"), nullable=False),
        sa.Column("venue", NAME, nullable=False),
        sa.Column("side", ENUM, nullable=False),
        sa.Column("quantity", MONEY, nullable=False),
        sa.Column("filled_quantity", MONEY, nullable=False),
        sa.Column("entry_price", MONEY),
        sa.Column("exit_price", MONEY),
        sa.Column("fees", MONEY, nullable=False),
        sa.Column("funding", MONEY, nullable=False),
    )
    op.create_index("ix_legs_position_id", "legs", ["position_id"])
    op.create_table(
        "actions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("position_id", ID, sa.ForeignKey("positions.id", name="fk_actions_position")),
        sa.Column("action_type", NAME, nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("result", JSON),
        sa.Column("depends_on", JSON, nullable=False),
        sa.Column("urgency", sa.Integer, nullable=False),
        sa.Column("created_at", TIME(), nullable=False),
        sa.Column("updated_at", TIME(), nullable=False),
        sa.Column("started_at", TIME()),
        sa.Column("finished_at", TIME()),
    )
    op.create_index("ix_actions_plan_id", "actions", ["plan_id"])
    op.create_table(
        "action_dependencies",
        sa.Column("action_id", ID, sa.ForeignKey("actions.id", name="fk_action_deps_action"), primary_key=True),
        sa.Column("depends_on", ID, sa.ForeignKey("actions.id", name="fk_action_deps_dep"), primary_key=True),
    )
    op.create_table(
        "orders",
        sa.Column("id", ID, primary_key=True),
        sa.Column("client_order_id", NAME, nullable=False),
        sa.Column("venue", NAME, nullable=False),
        sa.Column("symbol", NAME, nullable=False),
        sa.Column("side", ENUM, nullable=False),
        sa.Column("order_type", ENUM, nullable=False),
        sa.Column("quantity", MONEY, nullable=False),
        sa.Column("price", MONEY),
        sa.Column("time_in_force", ENUM, nullable=False),
        sa.Column("reduce_only", sa.Boolean, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status", ENUM),
        sa.Column("filled_quantity", MONEY, nullable=False),
        sa.Column("avg_price", MONEY),
        sa.Column("fees", MONEY, nullable=False),
        sa.Column("venue_order_id", sa.String(128)),
        sa.Column("error", sa.Text),
        sa.Column("position_id", ID, sa.ForeignKey("positions.id", name="fk_orders_position")),
        sa.Column("leg_id", ID, sa.ForeignKey("legs.id", name="fk_orders_leg")),
        sa.Column("action_id", ID, sa.ForeignKey("actions.id", name="fk_orders_action")),
        sa.Column("created_at", TIME(), nullable=False),
        sa.Column("updated_at", TIME(), nullable=False),
        sa.UniqueConstraint("client_order_id", name="uq_orders_client_order_id"),
    )
    op.create_index("ix_orders_position_id", "orders", ["position_id"])
    op.create_table(
        "fills",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("venue", NAME, nullable=False),
        sa.Column("venue_fill_id", sa.String(128), nullable=False),
        sa.Column(
            "client_order_id",
            NAME,
            sa.ForeignKey("orders.client_order_id", name="fk_fills_order"),
            nullable=False,
        ),
        sa.Column("symbol", NAME, nullable=False),
        sa.Column("side", ENUM, nullable=False),
        sa.Column("quantity", MONEY, nullable=False),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("fee", MONEY, nullable=False),
        sa.Column("liquidity", sa.String(16)),
        sa.Column("at", TIME(), nullable=False),
        sa.Column("position_id", ID, sa.ForeignKey("positions.id", name="fk_fills_position")),
        sa.UniqueConstraint("venue", "venue_fill_id", name="uq_fills_venue_fill"),
    )
    op.create_index("ix_fills_client_order_id", "fills", ["client_order_id"])
    op.create_index("ix_fills_position_id", "fills", ["position_id"])
    op.create_table(
        "funding_payments",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("venue", NAME, nullable=False),
        sa.Column("venue_payment_id", sa.String(128), nullable=False),
        sa.Column("symbol", NAME, nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("rate", MONEY),
        sa.Column("at", TIME(), nullable=False),
        sa.Column("position_id", ID, sa.ForeignKey("positions.id", name="fk_funding_position")),
        sa.UniqueConstraint("venue", "venue_payment_id", name="uq_funding_venue_payment"),
    )
    op.create_index("ix_funding_payments_position_id", "funding_payments", ["position_id"])
    op.create_table(
        "transfers",
        sa.Column("id", ID, primary_key=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("route", NAME, nullable=False),
        sa.Column("from_venue", NAME, nullable=False),
        sa.Column("to_venue", NAME, nullable=False),
        sa.Column("asset", NAME, nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("state", ENUM, nullable=False),
        sa.Column("reference", sa.String(200)),
        sa.Column("error", sa.Text),
        sa.Column("action_id", ID, sa.ForeignKey("actions.id", name="fk_transfers_action")),
        sa.Column("created_at", TIME(), nullable=False),
        sa.Column("updated_at", TIME(), nullable=False),
        sa.UniqueConstraint("idempotency_key", name="uq_transfers_idempotency_key"),
    )
    op.create_table(
        "events",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("kind", NAME, nullable=False),
        sa.Column("at", TIME(), nullable=False),
        sa.Column("position_id", ID),
        sa.Column("data", JSON, nullable=False),
    )
    op.create_index("ix_events_kind", "events", ["kind"])
    op.create_index("ix_events_position_id", "events", ["position_id"])
    op.create_table(
        "lease",
        sa.Column("name", NAME, primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("token", ID, nullable=False),
        sa.Column("acquired_at", TIME(), nullable=False),
        sa.Column("renewed_at", TIME(), nullable=False),
        sa.Column("expires_at", TIME(), nullable=False),
    )


def _v2_telemetry_control(op: Operations) -> None:
    op.create_table(
        "telemetry",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("name", NAME, nullable=False),
        sa.Column("value", MONEY, nullable=False),
        sa.Column("at", TIME(), nullable=False),
        sa.Column("position_id", ID),
        sa.Column("client_order_id", NAME),
        sa.Column("data", JSON, nullable=False),
    )
    op.create_index("ix_telemetry_position_id", "telemetry", ["position_id"])
    op.create_table(
        "control",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("command", ENUM, nullable=False),
        sa.Column("issued_at", TIME(), nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("consumed", sa.Boolean, nullable=False),
        sa.Column("consumed_at", TIME()),
    )
    op.create_index("ix_control_consumed", "control", ["consumed"])
    # Which bot claimed an action: on resume, what a dead bot left running is visible as such.
    op.add_column("actions", sa.Column("claimed_by", sa.String(200)))
    # "What is unfinished?" is asked on every start and every tick.
    op.create_index("ix_actions_status", "actions", ["status"])
    op.create_index("ix_orders_status", "orders", ["status"])


def _v3_action_runner(op: Operations) -> None:
    # The action runner: why a plan was made, the handler's checkpoint for resuming, and when to try again.
    op.add_column("actions", sa.Column("reason", sa.Text))
    op.add_column("actions", sa.Column("state", JSON))
    op.add_column("actions", sa.Column("not_before", TIME()))
    op.create_index("ix_actions_position_id", "actions", ["position_id"])
    op.create_index("ix_transfers_state", "transfers", ["state"])


# -- v4: positions.details, an untyped bag, becomes the typed position state's JSON (fundarb_core.model.state) -----
# The conversion is written out here, frozen with the migration: it must not change when the model does.

_V4_NUMBERS = ("net_apr", "unrealized_pnl", "current_spread", "price_pnl", "funding", "fees", "net")
_V4_TABLES = ("open_exposure", "marks", "funding_accrued", "liquidation_distance")


def _v4_number(value: object) -> str | None:
    if value is None or value in ("", "None"):  # the earlier monitor wrote str(None) for an unknown distance
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return str(number) if number.is_finite() else None


def v4_state(details: object) -> dict[str, object]:
    """The typed state's JSON form of an earlier `details` bag; keys it does not know are kept under "extra"."""
    if not isinstance(details, dict):
        return {}
    out: dict[str, object] = {}
    extra: dict[str, object] = {}
    for key, value in details.items():
        if key in _V4_NUMBERS:
            number = _v4_number(value)
            if number is not None:
                out[key] = number
        elif key in _V4_TABLES:
            if isinstance(value, dict) and value:
                out[key] = {str(k): _v4_number(v) for k, v in value.items()}
        elif key == "close_attempt":
            try:
                attempt = int(str(value))
            except ValueError:
                extra[key] = value
                continue
            if attempt:
                out[key] = attempt
        elif key in ("opened_by_action", "emergency"):
            if isinstance(value, bool) and (value or key == "emergency"):
                out[key] = value
        elif key == "urgency":
            if value is not None:
                out[key] = str(value)
        elif key == "reductions" and isinstance(value, list):
            rows = [
                {
                    "shed": {str(k): n for k, v in (r.get("shed") or {}).items() if (n := _v4_number(v)) is not None},
                    "level": None if r.get("level") is None else str(r.get("level")),
                    "action_id": None if r.get("action_id") is None else str(r.get("action_id")),
                }
                for r in value
                if isinstance(r, dict)
            ]
            if rows:
                out[key] = rows
        else:
            extra[key] = value
    if extra:
        out["extra"] = extra
    return out


def _v4_position_state(op: Operations) -> None:
    # The column keeps its name (`details`; SQLite cannot drop or rename it under the legs' foreign keys without
    # recreating the table) and now holds the typed state's JSON form, written by `PositionState.to_json`.
    conn = op.get_bind()
    table = sa.table("positions", sa.column("id", ID), sa.column("details", JSON))
    for row in conn.execute(sa.select(table.c.id, table.c.details)).all():
        details = json.loads(row.details) if row.details else {}
        conn.execute(
            sa.update(table).where(table.c.id == row.id).values(details=json.dumps(v4_state(details), sort_keys=True))
        )


def _v5_scans(op: Operations) -> None:
    # The bot's latest scans (ranked opportunities), for the dashboard and the API; a short rolling history.
    op.create_table(
        "scans",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("at", TIME(), nullable=False),
        sa.Column("opportunities", JSON, nullable=False),
    )
    # The dashboard pages through positions newest first (ties broken by id) without sorting the whole table.
    op.create_index("ix_positions_created_at", "positions", ["created_at", "id"])
    # ... and reads the equity curve on from the last close it saw.
    op.create_index("ix_positions_closed_at", "positions", ["closed_at"])


def _v6_lease_holder(op: Operations) -> None:
    # Who holds the lease, as a process: a restart on the same host takes over at once from a holder that is gone.
    op.add_column("lease", sa.Column("host", sa.String(200)))
    op.add_column("lease", sa.Column("pid", sa.Integer()))
    op.add_column("lease", sa.Column("process_started", sa.Float()))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _v1_initial),
    Migration(2, "telemetry and control tables, actions.claimed_by, status indexes", _v2_telemetry_control),
    Migration(3, "action runner: actions.reason, state, not_before", _v3_action_runner),
    Migration(4, "positions.details holds the typed position state (fundarb_core.model.state)", _v4_position_state),
    Migration(5, "scans table (the bot's latest opportunities), positions indexes for the dashboard", _v5_scans),
    Migration(6, "lease.host, pid, process_started: a restart takes over from a holder that is gone", _v6_lease_holder),
)
LATEST_VERSION = MIGRATIONS[-1].version
