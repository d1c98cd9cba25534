"""Helpers that make the fake answer badly: replace or rewrite a REST reply of one endpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from fundarb_venue_lighter.testing import FakeLighter

Rewrite = Callable[[Any], Any]


def replace_reply(
    fake: FakeLighter,
    endpoint: str,
    body: bytes | str,
    *,
    status: int = 200,
    times: int = 1,
    content_type: str = "application/json",
) -> list[int]:
    """Answer the next `times` requests to `endpoint` with `body` (after the fake has executed them).

    Returns a one-element list counting the replies replaced so far.
    """
    done = [0]

    async def mutate(name: str, request: web.Request, reply: web.Response) -> web.StreamResponse:
        if name != endpoint or done[0] >= times:
            return reply
        done[0] += 1
        data = body.encode() if isinstance(body, str) else body
        return web.Response(body=data, status=status, content_type=content_type)

    fake.mutate = mutate
    return done


def rewrite_reply(fake: FakeLighter, endpoint: str, rewrite: Rewrite, *, times: int = 1) -> list[int]:
    """Decode the next `times` replies of `endpoint`, pass them through `rewrite`, and send what it returns."""
    done = [0]

    async def mutate(name: str, request: web.Request, reply: web.Response) -> web.StreamResponse:
        if name != endpoint or done[0] >= times or reply.status != 200:
            return reply
        done[0] += 1
        assert reply.body is not None
        body = rewrite(json.loads(bytes(reply.body)))  # type: ignore[arg-type]
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(text=text, status=200, content_type="application/json")

    fake.mutate = mutate
    return done
