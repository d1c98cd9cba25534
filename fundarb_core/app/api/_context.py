"""What every route needs: the store, the access rules, and facts from the config."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
from fastapi import Request
from pydantic import BaseModel

from fundarb_core.app.api._auth import Access, Role
from fundarb_core.app.api._views import ClosedPnL
from fundarb_core.clock import SimClock
from fundarb_core.store import Store

__all__ = ["CONTROL_ERRORS", "READ_ERRORS", "ApiContext", "Problem", "context", "operator", "reader"]


class Problem(BaseModel):
    """An error: what went wrong, in one line."""

    detail: str


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {401: "no valid bearer token", 403: "the token may not do this", 404: "not found",
            409: "not possible in the current state", 413: "request body too large"}  # fmt: skip
    return {code: {"model": Problem, "description": text[code]} for code in codes}


READ_ERRORS = _problems(401, 404)
CONTROL_ERRORS = _problems(401, 403, 404, 409, 413)


@attrs.define
class ApiContext:
    """The API's view of one bot: its store, who may do what, and whether its venues are all simulated."""

    store: Store
    access: Access
    data_dir: Path
    simulated: bool = False  # a simulated run's lease lives in simulated time
    actions_enabled: bool = True  # a manual close goes through the bot's action runner
    poll_seconds: float = 0.25  # how often the event stream looks for new events
    closing: bool = False  # set when the server stops: open event streams end
    closed_pnl: ClosedPnL = attrs.field(factory=ClosedPnL)  # the equity curve's input, read on incrementally

    async def now(self) -> datetime:
        """The bot's now: its simulated clock when it runs in this process; for a simulated run elsewhere, the time
        of the last thing it recorded (its simulated time is not this process's); else the wall clock."""
        if isinstance(self.store.clock, SimClock):
            return self.store.clock.now()
        if self.simulated:
            last = await self.store.events.recent(1)
            scan = await self.store.scans.latest()
            seen = [t for t in (last[0].at if last else None, scan.at if scan else None) if t is not None]
            if seen:
                return max(seen)
        return datetime.now(UTC)


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.fundarb
    return ctx


def reader(request: Request) -> ApiContext:
    """Dependency: the caller may read (else 401)."""
    ctx = context(request)
    ctx.access.require(request, Role.READ)
    return ctx


def operator(request: Request) -> ApiContext:
    """Dependency: the caller may steer the bot (else 401 or 403)."""
    ctx = context(request)
    ctx.access.require(request, Role.OPERATOR)
    return ctx
