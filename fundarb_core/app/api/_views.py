"""JSON-ready views of the store's records for the API: money as exact strings, times as ISO 8601 (UTC)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from fundarb_core.model import PositionStatus
from fundarb_core.model.records import (
    ActionRecord,
    ControlRecord,
    EventRecord,
    LeaseRecord,
    PositionRecord,
    TransferRecord,
)
from fundarb_core.store._types import dump_json

__all__ = [
    "ClosedPnL",
    "action_row",
    "bot_state",
    "equity_series",
    "event_row",
    "jsonable",
    "opportunity_row",
    "position_row",
    "transfer_row",
]

ZERO = Decimal(0)
MAX_POINTS = 500  # the equity curve's points at most: enough for a chart, small for a page
HOURS_PER_YEAR = Decimal(8760)


def jsonable(value: Any) -> Any:
    """`value` (attrs records, Decimals, datetimes, enums inside) as plain JSON data, known secrets masked."""
    if attrs.has(type(value)):
        value = attrs.asdict(value, recurse=True)
    return json.loads(dump_json(value))


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _sum(values: Iterable[Any]) -> Decimal:
    return sum((d for d in (_dec(v) for v in values) if d is not None), ZERO)


def position_row(p: PositionRecord, open_fees: Mapping[str, Decimal] | None = None) -> dict[str, Any]:
    """A position with its PnL parts and legs.

    Closed: the realised parts recorded at close. Open: price = unrealised PnL at the last marks, funding = accrued
    at the venues, fees = paid on its orders so far (`open_fees`), net = price + funding − fees.
    """
    d = p.details
    if p.is_open:
        price = _dec(d.get("unrealized_pnl")) or ZERO
        funding = _sum((d.get("funding_accrued") or {}).values())
        fees = (open_fees or {}).get(p.id, ZERO)
        net = price + funding - fees
        realised = False
    else:
        price = _dec(d.get("price_pnl")) or ZERO
        funding = _dec(d.get("funding")) or ZERO
        fees = _dec(d.get("fees")) or ZERO
        net = p.realized_pnl if p.realized_pnl is not None else price + funding - fees
        realised = p.status is PositionStatus.CLOSED
    distances = {v: _dec(x) for v, x in (d.get("liquidation_distance") or {}).items()}
    known = [x for x in distances.values() if x is not None]
    marks = d.get("marks") or {}
    return {
        "id": p.id,
        "symbol": p.symbol,
        "status": p.status.value,
        "long_venue": p.long_venue,
        "short_venue": p.short_venue,
        "notional_usd": _text(p.notional_usd),
        "entry_spread": _text(p.entry_spread),
        "current_spread": d.get("current_spread"),
        "net_apr_at_entry": d.get("net_apr"),
        "exit_reason": p.exit_reason.value if p.exit_reason else None,
        "created_at": p.created_at.isoformat(),
        "opened_at": p.opened_at.isoformat() if p.opened_at else None,
        "closed_at": p.closed_at.isoformat() if p.closed_at else None,
        "pnl": {"price": _text(price), "funding": _text(funding), "fees": _text(fees), "net": _text(net),
                "realised": realised},
        "liquidation_distance": _text(min(known)) if known else None,
        "liquidation_distance_by_venue": {v: _text(x) for v, x in distances.items()},
        "legs": [
            {
                "venue": leg.venue,
                "side": leg.side.value,
                "quantity": _text(leg.quantity),
                "filled_quantity": _text(leg.filled_quantity),
                "entry_price": _text(leg.entry_price),
                "exit_price": _text(leg.exit_price),
                "mark_price": marks.get(leg.venue),
            }
            for leg in p.legs
        ],
    }  # fmt: skip


def opportunity_row(o: Mapping[str, Any]) -> dict[str, Any]:
    """A stored opportunity with what an operator weighs: net APR, cost (round-trip fees) and breakeven hours."""
    spread = _dec(o.get("spread"))
    fees = _dec(o.get("fees"))
    breakeven = _text((fees / spread).quantize(Decimal("0.01"))) if spread and fees is not None and spread > 0 else None
    return {
        "symbol": o.get("symbol"),
        "long_venue": o.get("long_venue"),
        "short_venue": o.get("short_venue"),
        "spread_per_hour": o.get("spread"),
        "gross_apr": _text(spread * HOURS_PER_YEAR) if spread is not None else None,
        "net_apr": o.get("net_apr"),
        "cost": o.get("fees"),
        "breakeven_hours": breakeven,
        "price_gap": o.get("price_gap"),
        "mark": o.get("mark"),
    }


def action_row(a: ActionRecord, transfers: Sequence[TransferRecord] = ()) -> dict[str, Any]:
    row = jsonable(a)
    row.pop("state", None)  # the handler's private checkpoint
    row["can_approve"] = a.status.value == "awaiting_approval"
    cancellable = a.status.value in ("pending", "awaiting_approval", "waiting")
    row["can_cancel"] = cancellable and (a.state or {}).get("cancellable", True) is not False
    row["transfers"] = [transfer_row(t) for t in transfers]
    return dict(row)


def transfer_row(t: TransferRecord) -> dict[str, Any]:
    return dict(jsonable(t))


def event_row(e: EventRecord) -> dict[str, Any]:
    return {"id": e.id, "kind": e.kind, "at": e.at.isoformat(), "position_id": e.position_id, "data": jsonable(e.data)}


def bot_state(
    commands: Sequence[ControlRecord],
    lease: LeaseRecord | None,
    alerts: Sequence[EventRecord],
    *,
    now: datetime,
    simulated: bool,
) -> dict[str, Any]:
    """The bot's state as the store shows it: the last operator command it applied (or a max-loss pause), whether
    it holds the store's lease (is running at all), and the commands it has not picked up yet."""
    applied = [c for c in commands if c.consumed]
    state = "running"
    since: datetime | None = None
    if applied:
        last = applied[-1]
        state = {"pause": "paused", "resume": "running", "halt": "halted"}[last.command.value]
        since = last.consumed_at
    for alert in alerts:  # newest first
        if alert.data.get("alert") == "max_loss" and (since is None or alert.at > since):
            state = "paused"
            break
    # A simulated run's lease expires in simulated time, which this process cannot see: present means alive.
    live = lease is not None and (simulated or lease.expires_at > now)
    if not live:
        state = "halted" if state == "halted" else "stopped"
    return {
        "state": state,
        "live": live,
        "lease": jsonable(lease) if lease is not None else None,
        "pending_commands": [
            {"id": c.id, "command": c.command.value, "issued_at": c.issued_at.isoformat(), "issued_by": c.issued_by}
            for c in commands
            if not c.consumed
        ],
    }


@attrs.define
class ClosedPnL:
    """Closed positions' PnL parts by close time, read on incrementally (closed positions do not change)."""

    rows: list[tuple[datetime, Decimal, Decimal, Decimal, Decimal]] = attrs.field(factory=list)  # at, net, f, p, fees
    seen: set[str] = attrs.field(factory=set)
    last: datetime | None = None

    def add(self, found: Sequence[tuple[str, datetime, Decimal, Mapping[str, Any]]]) -> None:
        """Add the positions not seen yet (a re-read overlaps the last close time on purpose)."""
        for position_id, at, realized, d in found:
            if position_id in self.seen:
                continue
            self.seen.add(position_id)
            parts = (_dec(d.get("funding")) or ZERO, _dec(d.get("price_pnl")) or ZERO, _dec(d.get("fees")) or ZERO)
            self.rows.append((at, realized, *parts))
            if self.last is None or at > self.last:
                self.last = at
        self.rows.sort(key=lambda r: r[0])


def equity_series(
    closed: ClosedPnL, open_: Sequence[PositionRecord], now: datetime, *, max_points: int = MAX_POINTS
) -> dict[str, Any]:
    """Cumulative realised PnL over time with its funding, price and fee parts; the last point adds what the open
    positions carry (unrealised price PnL and accrued funding). More closes than `max_points` are thinned evenly
    (the sums stay exact; the last close is kept)."""
    points: list[dict[str, Any]] = []
    net = funding = price = fees = ZERO
    rows = closed.rows
    every = max(1, -(-len(rows) // max_points))
    wins = 0
    for n, (at, realized, f, p, c) in enumerate(rows):
        net, funding, price, fees = net + realized, funding + f, price + p, fees + c
        wins += realized > 0
        if n % every == every - 1 or n == len(rows) - 1:
            points.append({"at": at.isoformat(), "net": _text(net), "funding": _text(funding),
                           "price": _text(price), "fees": _text(fees)})  # fmt: skip
    unrealised = _sum(p.details.get("unrealized_pnl") for p in open_)
    accrued = _sum(v for p in open_ for v in (p.details.get("funding_accrued") or {}).values())
    points.append({"at": now.isoformat(), "net": _text(net + unrealised + accrued), "funding": _text(funding + accrued),
                   "price": _text(price + unrealised), "fees": _text(fees)})  # fmt: skip
    return {
        "summary": {"closed": len(rows), "open": len(open_), "wins": wins, "realised_net": _text(net),
                    "funding": _text(funding), "price": _text(price), "fees": _text(fees),
                    "unrealised": _text(unrealised + accrued)},
        "points": points,
    }  # fmt: skip
