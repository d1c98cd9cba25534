"""Control endpoints (operator token): pause, resume, halt, close a position, approve or cancel an action.

Each writes the same store command as the CLI (`fundarb_core.app.control`); the running bot picks it up at its
next tick. The answer says what was queued, not what the bot has done yet.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, Field

from fundarb_core.app import control
from fundarb_core.app.api._context import CONTROL_ERRORS, ApiContext, operator
from fundarb_core.app.api._views import action_row
from fundarb_core.errors import StoreError
from fundarb_core.model.records import ActionRecord, ControlCommand

__all__ = ["router"]

router = APIRouter(prefix="/api", responses=CONTROL_ERRORS)
Operator = Annotated[ApiContext, Depends(operator)]
BY = "api"


class Reason(BaseModel):
    """Why (kept with the command)."""

    reason: str | None = Field(default=None, max_length=500)


OptionalReason = Annotated[Reason | None, Body()]


@router.post("/control/{command}", summary="Pause, resume or halt the running bot at its next tick")
async def command(ctx: Operator, command: Literal["pause", "resume", "halt"], body: OptionalReason = None) -> Any:
    reason = body.reason if body else None
    record = await control.issue_command(ctx.store, ControlCommand(command), by=BY, reason=reason)
    return {"id": record.id, "command": record.command.value, "issued_at": record.issued_at.isoformat(),
            "note": "queued; the running bot applies it at its next tick"}  # fmt: skip


@router.post("/positions/{position_id}/close", summary="Close a position: the bot's action runner closes it")
async def close(ctx: Operator, position_id: str) -> dict[str, Any]:
    store = ctx.store
    position = await store.positions.get(position_id)
    if position is None:
        raise HTTPException(404, "no position with that id")
    if not position.is_open:
        raise HTTPException(409, f"the position is {position.status.value}")
    if not ctx.actions_enabled:
        raise HTTPException(409, "the bot's action runner is off (actions.enabled = false): use `fundarb close`")
    record, new = await control.request_close(store, position.id, by=BY)
    return {"action": action_row(record), "new": new}


async def _action(ctx: ApiContext, action_id: str) -> ActionRecord:
    found = await ctx.store.actions.get(action_id)
    if found is None:
        raise HTTPException(404, "no action with that id")
    return found


@router.post("/actions/{action_id}/approve", summary="Approve an action awaiting an operator")
async def approve(ctx: Operator, action_id: str) -> dict[str, Any]:
    action = await _action(ctx, action_id)
    try:
        approved = await control.approve_action(ctx.store, action, by=BY)
    except StoreError as exc:
        raise HTTPException(409, str(exc)) from None
    return action_row(approved)


@router.post("/actions/{action_id}/cancel", summary="Cancel an action that has not finished")
async def cancel(ctx: Operator, action_id: str, body: OptionalReason = None) -> dict[str, Any]:
    action = await _action(ctx, action_id)
    reason = (body.reason if body else None) or "cancelled by an operator"
    try:
        cancelled = await control.cancel_action(ctx.store, action, reason=reason, by=BY)
    except StoreError as exc:
        raise HTTPException(409, str(exc)) from None
    return action_row(cancelled)
