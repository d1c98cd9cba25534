"""`fundarb actions list|show|approve|cancel`: the action journal, for operators."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from fundarb_core.cli import fail
from fundarb_core.cli._load import load
from fundarb_core.cli._operate import _with_store, config_option, json_option

__all__ = ["actions"]


def _row(action: Any) -> dict[str, Any]:
    return {
        "id": action.id,
        "plan_id": action.plan_id,
        "seq": action.seq,
        "action_type": action.action_type,
        "status": action.status.value,
        "position_id": action.position_id,
        "reason": action.reason,
        "urgency": action.urgency,
        "attempts": action.attempts,
        "depends_on": list(action.depends_on),
        "details": action.details,
        "result": action.result,
        "error": action.error,
        "created_at": action.created_at.isoformat(),
        "started_at": action.started_at.isoformat() if action.started_at else None,
        "finished_at": action.finished_at.isoformat() if action.finished_at else None,
        "not_before": action.not_before.isoformat() if action.not_before else None,
    }


def _transfer_row(transfer: Any) -> dict[str, Any]:
    from fundarb_core.actions.transfers import describe

    row = describe(transfer)
    row["id"] = row.pop("transfer_id")
    return {**row, "amount": format(transfer.amount, "f"), "error": transfer.error}


def _run(config_path: Path, work: Callable[[Any], Awaitable[Any]]) -> Any:
    config = load(config_path)

    async def inner(store: Any, _: Path) -> Any:
        return await work(store)

    return asyncio.run(_with_store(config, inner))


def short_id(action: Any) -> str:
    """`<first 8 of the plan id>.<seq>`: what the table shows and the commands accept."""
    return f"{action.plan_id[:8]}.{action.seq}"


async def _one(store: Any, action_id: str) -> Any:
    """The action `action_id` names: its id, an unambiguous prefix, or `<plan id prefix>.<seq>` as listed.

    Exits 2 when none or several match."""
    action_id = action_id.strip().lower()  # ids are lower-case hex; LIKE is case-sensitive on PostgreSQL
    exact = await store.actions.get(action_id)
    if exact is not None:
        return exact
    plan_prefix, _, seq = action_id.rpartition(".")
    if plan_prefix and seq.isdigit():
        found = [a for a in await store.actions.find(plan_prefix) if a.seq == int(seq)]
    else:
        found = await store.actions.find(action_id)
    if not found:
        fail(f"{action_id}: no action with that id")
    if len(found) > 1:
        fail([f"{action_id}: ambiguous; it starts {len(found)} action ids:"] + [f"  {a.id}" for a in found[:10]])
    return found[0]


def _note(row: dict[str, Any]) -> str:
    """One human line about an action's outcome (the full result is in `show` and `--json`)."""
    if row["error"]:
        return str(row["error"])
    result = row["result"] or {}
    if not result:
        return f"due {row['not_before']}" if row["not_before"] else ""
    if "transfer_id" in result:
        return f"moved {result['amount']} {result['asset']} {result['from_venue']} → {result['to_venue']}"
    if "opened" in result:
        if result["opened"]:
            return f"opened {str(result['opened'])[:8]} {result.get('symbol', '')}".rstrip()
        return f"not opened: {result.get('why', result.get('status', ''))}"
    if "realized_pnl" in result:
        return f"closed, net {result['realized_pnl']}"
    if "reduced" in result:
        return f"reduced {result['reduced']}"
    if result.get("note"):
        return str(result["note"])
    shown = {k: v for k, v in result.items() if k != "run_seconds"}
    return json.dumps(shown, default=str, separators=(",", ":"))[:80] if shown else "done"


@click.group()
def actions() -> None:
    """The action journal: plans risk managers made after exits (close → transfer → reopen, reductions)."""


@actions.command(name="list")
@config_option
@json_option
@click.option("--all", "show_all", is_flag=True, help="Include finished actions (default: unfinished and last 20).")
@click.option("--position", "position_id", default=None, help="Only this position's actions.")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--wide", is_flag=True, help="Every column at full width.")
def list_(config_path: Path, as_json: bool, show_all: bool, position_id: str | None, limit: int, wide: bool) -> None:
    """List journalled actions, newest plans first."""

    async def work(store: Any) -> Any:
        rows = await store.actions.list(position_id=position_id, limit=limit)
        if show_all:
            return rows
        unfinished = [a for a in rows if not a.status.final]
        finished = [a for a in rows if a.status.final][:20]
        keep = {a.id for a in unfinished} | {a.id for a in finished}
        return [a for a in rows if a.id in keep]

    rows = [_row(a) for a in _run(config_path, work)]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no actions")
        return
    from fundarb_core.cli._table import Column, print_table

    columns = [
        Column("action", "action"),
        Column("plan", "plan", 1),
        Column("type", "type"),
        Column("status", "status"),
        Column("position", "position", 3),
        Column("attempts", "attempts", 2, numeric=True),
        Column("note", "note"),
    ]
    shown = [
        {"action": f"{r['plan_id'][:8]}.{r['seq']}", "plan": r["plan_id"][:8], "type": r["action_type"],
         "status": r["status"], "position": (r["position_id"] or "-")[:8], "attempts": str(r["attempts"]),
         "note": _note(r)}
        for r in rows
    ]  # fmt: skip
    print_table("actions", columns, shown, wide=wide)


@actions.command()
@config_option
@json_option
@click.argument("action_id")
def show(config_path: Path, as_json: bool, action_id: str) -> None:
    """Show one action (an id or an unambiguous prefix), its plan and its transfers."""

    async def work(store: Any) -> Any:
        action = await _one(store, action_id)
        plan = await store.actions.list_plan(action.plan_id)
        transfers = await store.transfers.for_action(action.id)
        batch = (action.state or {}).get("batch")
        if batch and not transfers:
            found = await store.transfers.get_by_key(batch)
            transfers = [found] if found else []
        return action, plan, transfers

    action, plan, transfers = _run(config_path, work)
    out = _row(action)
    out["state"] = action.state
    out["plan"] = [{"id": a.id, "action_type": a.action_type, "status": a.status.value} for a in plan]
    out["transfers"] = [_transfer_row(t) for t in transfers]
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
        return
    for key, value in out.items():
        if key in ("plan", "transfers"):
            continue
        if value not in (None, [], {}):
            shown = json.dumps(value, default=str) if isinstance(value, dict | list) else value
            click.echo(f"{key:12} {shown}")
    click.echo("plan:")
    for step in out["plan"]:
        mark = "→" if step["id"] == action.id else " "
        click.echo(f"  {mark} {step['id']}  {step['action_type']:16} {step['status']}")
    for t in out["transfers"]:
        click.echo(f"transfer     {t['id']} {t['amount']} {t['asset']} {t['from_venue']} → {t['to_venue']} "
                   f"via {t['route']}: {t['state']}")  # fmt: skip


@actions.command()
@config_option
@json_option
@click.argument("action_id")
def approve(config_path: Path, as_json: bool, action_id: str) -> None:
    """Approve an action waiting for an operator (e.g. a manual transfer step); the bot runs it on."""
    from fundarb_core.app.control import approve_action
    from fundarb_core.errors import StoreError

    async def work(store: Any) -> Any:
        action = await _one(store, action_id)
        try:
            return await approve_action(store, action, by="cli")
        except StoreError as exc:
            fail(str(exc))

    approved = _run(config_path, work)
    if as_json:
        click.echo(json.dumps(_row(approved), indent=2, default=str))
        return
    click.echo(f"{approved.id}: approved ({approved.action_type}); the running bot carries it on at its next tick")


@actions.command()
@config_option
@json_option
@click.argument("action_id")
@click.option("--reason", default="cancelled by an operator", show_default=True)
def cancel(config_path: Path, as_json: bool, action_id: str, reason: str) -> None:
    """Cancel an action that has not finished (and its transfer, if no funds moved yet).

    The actions that wait for it are cancelled in turn by the bot. An action past its point of no return (a
    transfer whose funds left the source) cannot be cancelled.
    """
    from fundarb_core.app.control import cancel_action
    from fundarb_core.errors import StoreError

    async def work(store: Any) -> Any:
        action = await _one(store, action_id)
        try:
            return await cancel_action(store, action, reason=reason, by="cli")  # with its transfer, if none moved
        except StoreError as exc:
            fail(str(exc))

    cancelled = _run(config_path, work)
    if as_json:
        click.echo(json.dumps(_row(cancelled), indent=2, default=str))
        return
    click.echo(f"{cancelled.id}: cancelled ({cancelled.action_type})")
