"""The live event stream: server-sent events of what the bot records, as it records it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from fundarb_core.app.api._context import READ_ERRORS, ApiContext, reader
from fundarb_core.app.api._views import event_row

__all__ = ["router"]

router = APIRouter(prefix="/api", responses=READ_ERRORS)
KEEPALIVE_SECONDS = 15.0


async def _events(request: Request, ctx: ApiContext, after: int) -> AsyncIterator[str]:
    last = after
    quiet = 0.0
    yield "retry: 1000\n\n"
    while not ctx.closing and not await request.is_disconnected():
        found = await ctx.store.events.list(after_id=last, limit=200)
        for event in found:
            last = event.id
            data = json.dumps(event_row(event), separators=(",", ":"))
            yield f"id: {event.id}\nevent: fundarb\ndata: {data}\n\n"
        if found:
            quiet = 0.0
            continue
        if quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ": keep-alive\n\n"
        # Real time on purpose: the stream serves people, whatever clock the bot runs on.
        await asyncio.sleep(ctx.poll_seconds)
        quiet += ctx.poll_seconds


@router.get(
    "/events/stream",
    summary="Server-sent events: every event the bot records from now on (or after `after_id`)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    ctx: Annotated[ApiContext, Depends(reader)],
    after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    after = after_id
    if after is None and last_event_id and last_event_id.isdigit():
        after = int(last_event_id)  # a reconnecting EventSource resumes where it stopped
    if after is None:
        latest = await ctx.store.events.recent(1)
        after = latest[0].id if latest else 0
    return StreamingResponse(
        _events(request, ctx, after),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},  # nginx: pass events through at once
    )
