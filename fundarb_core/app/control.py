"""Operator commands as the store carries them to the running bot: the CLI and the API write exactly these.

- pause / resume / halt: a row in the store's control table, which the bot consumes at its next tick;
- approve / cancel an action: the action journal's own transitions, plus an `operator` event;
- close a position: a one-step plan (`close_position`, urgent, reason manual) journalled for the bot's action
  runner, which runs it at its next tick through the same close path as any exit.
"""

from __future__ import annotations

from typing import Any

from fundarb_core.model.records import ActionRecord, ActionStatus, ControlCommand, ControlRecord, PlannedAction
from fundarb_core.store import Store

__all__ = ["approve_action", "cancel_action", "issue_command", "request_close"]

_UNFINISHED = [ActionStatus.PENDING, ActionStatus.RUNNING, ActionStatus.WAITING, ActionStatus.AWAITING_APPROVAL]


async def issue_command(store: Store, command: ControlCommand, *, by: str, reason: str | None = None) -> ControlRecord:
    """Queue `command` for the running bot."""
    return await store.control.issue(ControlCommand(command), issued_by=by, reason=reason)


async def approve_action(store: Store, action: ActionRecord, *, by: str) -> ActionRecord:
    """Approve an action awaiting approval (and the companions of its batch); raise `StoreError` if it is not."""
    approved = await store.actions.approve(action.id, by=by)
    # A batch (several transfers travelling as one) waits as a whole: approving one approves its companions.
    for member in (action.state or {}).get("batch_members", []):
        companion = await store.actions.get(member)
        if member != action.id and companion is not None and companion.status is ActionStatus.AWAITING_APPROVAL:
            await store.actions.approve(member, by=by)
    await store.events.append(
        "operator", {"command": "approve", "action_id": action.id, "by": by}, position_id=action.position_id
    )
    return approved


async def cancel_action(store: Store, action: ActionRecord, *, reason: str, by: str) -> ActionRecord:
    """Cancel an unfinished action (and its transfer if no funds moved); raise `StoreError` when it cannot be."""
    cancelled = await store.actions.cancel(action.id, reason)
    await store.events.append(
        "operator",
        {"command": "cancel", "action_id": action.id, "reason": reason, "by": by},
        position_id=action.position_id,
    )
    return cancelled


async def request_close(store: Store, position_id: str, *, by: str) -> tuple[ActionRecord, bool]:
    """Journal an urgent manual close of `position_id` for the bot; return it and whether it is new.

    A close already journalled and unfinished for the position is returned instead of a second one.
    """
    for existing in await store.actions.list(statuses=_UNFINISHED, position_id=position_id):
        if existing.action_type == "close_position":
            return existing, False
    planned = PlannedAction(
        "close_position", {"urgency": "urgent"}, position_id=position_id, urgency=100, reason="manual"
    )
    (record,) = await store.actions.append_plan([planned])
    details: dict[str, Any] = {"command": "close", "action_id": record.id, "by": by}
    await store.events.append("operator", details, position_id=position_id)
    return record, True
