"""Read endpoints: health, bot state, positions, opportunities, actions, transfers, PnL, events, backtests."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from fundarb_core.app.api._context import READ_ERRORS, ApiContext, reader
from fundarb_core.app.api._views import (
    action_row,
    bot_state,
    equity_series,
    event_row,
    jsonable,
    opportunity_row,
    position_row,
    transfer_row,
)
from fundarb_core.model import PositionStatus
from fundarb_core.model.records import OPEN_POSITION_STATUSES, ActionStatus

__all__ = ["router"]

router = APIRouter(prefix="/api", responses=READ_ERRORS)
Reader = Annotated[ApiContext, Depends(reader)]
StatusFilter = Literal["all", "open", "closed", "opening", "closing", "close_failed", "failed"]
SortKey = Literal["created_at", "opened_at", "closed_at", "symbol", "status", "notional_usd", "realized_pnl"]
ActionStatusFilter = Literal["pending", "running", "succeeded", "failed", "cancelled", "awaiting_approval", "waiting"]
_REPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}\.json$")


@router.get("/health", summary="Liveness of the API and its store (no token needed)")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/state", summary="The bot's state: running / paused / halted / stopped, lease holder, last scan")
async def state(ctx: Reader) -> dict[str, Any]:
    store = ctx.store
    commands = await store.control.list()
    alerts = await store.events.recent(20, kind="alert")
    out = bot_state(commands, await store.lease_holder(), alerts, now=await ctx.now(), simulated=ctx.simulated)
    scan = await store.scans.latest()
    last = await store.events.recent(1)
    out["last_scan_at"] = scan.at.isoformat() if scan else None
    out["last_event_at"] = last[0].at.isoformat() if last else None
    out["control_enabled"] = ctx.access.operator_token is not None
    return out


@router.get("/positions", summary="Positions with PnL parts and legs: filter, sort, page")
async def positions(
    ctx: Reader,
    status: StatusFilter = "all",
    symbol: Annotated[str | None, Query(max_length=64)] = None,
    venue: Annotated[str | None, Query(max_length=64)] = None,
    sort: SortKey = "created_at",
    order: Literal["asc", "desc"] = "desc",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    statuses: list[PositionStatus] | None
    if status == "open":
        statuses = sorted(OPEN_POSITION_STATUSES)
    elif status == "closed":
        statuses = [PositionStatus.CLOSED]
    elif status == "all":
        statuses = None
    else:
        statuses = [PositionStatus(status)]
    page = await ctx.store.positions.page(
        statuses=statuses, symbol=symbol, venue=venue, sort=sort, descending=order == "desc", limit=limit,
        offset=offset,
    )  # fmt: skip
    open_ids = [p.id for p in page.positions if p.is_open]
    fees = await ctx.store.orders.fees_by_position(open_ids)
    return {"total": page.total, "offset": offset, "limit": limit,
            "items": [position_row(p, fees) for p in page.positions]}  # fmt: skip


@router.get("/positions/{position_id}", summary="One position with its orders, fills, funding, telemetry, events")
async def position(ctx: Reader, position_id: str) -> dict[str, Any]:
    store = ctx.store
    record = await store.positions.get(position_id)
    if record is None:
        raise HTTPException(404, "no position with that id")
    fees = await store.orders.fees_by_position([record.id]) if record.is_open else {}
    row = position_row(record, fees)
    row["orders"] = [jsonable(o) for o in await store.orders.list(position_id=record.id)]
    row["fills"] = [jsonable(f) for f in await store.fills.list(position_id=record.id)]
    row["funding_payments"] = [jsonable(f) for f in await store.funding.list(position_id=record.id)]
    row["telemetry"] = [jsonable(t) for t in await store.telemetry.list(position_id=record.id)]
    row["events"] = [event_row(e) for e in await store.events.recent(200, position_id=record.id)]
    row["actions"] = [action_row(a) for a in await store.actions.list(position_id=record.id, limit=100)]
    return row


@router.get("/opportunities", summary="The bot's latest scan: net APR, cost and breakeven per opportunity")
async def opportunities(ctx: Reader) -> dict[str, Any]:
    scan = await ctx.store.scans.latest()
    if scan is None:
        return {"at": None, "items": []}
    return {"at": scan.at.isoformat(), "items": [opportunity_row(o) for o in scan.opportunities]}


@router.get("/actions", summary="Journalled plan actions, newest plans first, with their transfers")
async def actions(
    ctx: Reader,
    status: ActionStatusFilter | None = None,
    position_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    store = ctx.store
    statuses = [ActionStatus(status)] if status else None
    records = await store.actions.list(statuses=statuses, position_id=position_id, limit=limit)
    items = [action_row(a, await store.transfers.for_action(a.id)) for a in records]
    return {"items": items}


@router.get("/transfers", summary="Movements of funds between venues, newest first")
async def transfers(ctx: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    return {"items": [transfer_row(t) for t in await ctx.store.transfers.recent(limit)]}


@router.get("/pnl", summary="PnL summary and the equity series (funding, price, fees)")
async def pnl(ctx: Reader) -> dict[str, Any]:
    store = ctx.store
    closed = ctx.closed_pnl
    # Re-read from an hour before the last close seen: a position closed at the same time, committed a moment
    # later, is not missed (ids already counted are skipped).
    since = closed.last - timedelta(hours=1) if closed.last is not None else None
    closed.add(await store.positions.closed_pnl(since))
    return equity_series(closed, await store.positions.list_open(), await ctx.now())


@router.get("/events", summary="The audit trail: newest first, or oldest first after an id")
async def events(
    ctx: Reader,
    after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    store = ctx.store
    if after_id is None:
        found = await store.events.recent(limit, kind=kind)
    else:
        found = await store.events.list(after_id=after_id, kind=kind, limit=limit)
    return {"items": [event_row(e) for e in found]}


@router.get("/backtests", summary="Backtest reports (JSON files in DATA_DIR/backtests)")
async def backtests(ctx: Reader) -> dict[str, Any]:
    folder = ctx.data_dir / "backtests"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return {"items": [{"name": f.name, "bytes": f.stat().st_size} for f in files if _REPORT_NAME.match(f.name)]}


@router.get("/backtests/{name}", summary="One backtest report")
async def backtest(ctx: Reader, name: str) -> Any:
    path = ctx.data_dir / "backtests" / name
    if not _REPORT_NAME.match(name) or not path.is_file():
        raise HTTPException(404, "no backtest report with that name")
    try:
        return jsonable(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        raise HTTPException(422, "the report is not readable JSON") from None
