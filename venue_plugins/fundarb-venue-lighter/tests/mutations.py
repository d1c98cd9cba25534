"""Reply mutations for the fuzz suite: JSON tree edits, whole-body replacements, status codes, transport faults.

A `Plan` is drawn by hypothesis (so failures shrink and replay); `Mutator` applies it to the `target`-th REST reply
the fake sends while armed. Tree edits pick their node from the plan's `seed`, so one plan always edits the same
node of the same reply.
"""

from __future__ import annotations

import json
import random
from typing import Any

import attrs
from aiohttp import web
from hypothesis import strategies as st

__all__ = ["BODIES", "EDITS", "STATUSES", "Mutator", "Plan", "plans"]

RAW = "\x00raw\x00"  # a marker replaced by a literal JSON cannot hold as a value (NaN, Infinity, 1e400)
DEEP = "[" * 70_000 + "]" * 70_000
# name -> the value put in place of the chosen node (RAW:... = a literal spliced into the text)
EDITS: dict[str, Any] = {
    "null": None,
    "text": "abc",
    "empty_text": "",
    "number_text": "12.5",
    "int": 7,
    "zero": 0,
    "minus_one": -1,
    "negative": -123.25,
    "true": True,
    "false": False,
    "list": [],
    "object": {},
    "huge_int": 18446744073709551617,
    "big_float": 1e300,
    "tiny": "1e-400",
    "nan": RAW + "NaN",
    "infinity": RAW + "Infinity",
    "minus_infinity": RAW + "-Infinity",
    "1e400": RAW + "1e400",
    "deep": RAW + DEEP,
    "delete": "\x00delete\x00",
}
BODIES: dict[str, bytes] = {
    "html": b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    "empty": b"",
    "null": b"null",
    "list": b"[]",
    "text": b"service unavailable",
    "invalid_utf8": b'{"code": 200, "x": "\xff\xfe"}',
    "deep": DEEP.encode(),
    "number": b"200",
}
STATUSES = (400, 401, 404, 408, 429, 500, 502, 503, 504)


@attrs.frozen
class Plan:
    """What to do to which reply: `kind` is edit / body / truncate / status / abort."""

    target: int
    kind: str
    what: str
    seed: int


def plans() -> st.SearchStrategy[Plan]:
    target = st.sampled_from((0, 0, 0, 1, 1, 2, 3))  # most calls make one to three requests
    seed = st.integers(0, 2**32 - 1)
    edit = st.builds(Plan, target, st.just("edit"), st.sampled_from(sorted(EDITS)), seed)
    body = st.builds(Plan, target, st.just("body"), st.sampled_from(sorted(BODIES)), seed)
    cut = st.builds(Plan, target, st.just("truncate"), st.just(""), seed)
    status = st.builds(Plan, target, st.just("status"), st.sampled_from([str(s) for s in STATUSES]), seed)
    abort = st.builds(Plan, target, st.just("abort"), st.just(""), seed)
    # Tree edits are what find field-level faults: weight them.
    return st.one_of(edit, edit, edit, body, cut, status, abort)


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path below the root (keys and indexes)."""
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((*path, key))
            out.extend(_nodes(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.append((*path, index))
            out.extend(_nodes(item, (*path, index)))
    return out


def edit_json(body: Any, what: str, seed: int) -> str:
    """Return `body` as JSON text with one node (chosen by `seed`) replaced as `what` says."""
    nodes = _nodes(body)
    if not nodes:
        return json.dumps(EDITS[what]) if not str(EDITS[what]).startswith(RAW) else str(EDITS[what])[len(RAW) :]
    path = random.Random(seed).choice(nodes)
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    replacement = EDITS[what]
    if replacement == "\x00delete\x00":
        del parent[path[-1]]
        return json.dumps(body)
    if isinstance(replacement, str) and replacement.startswith(RAW):
        parent[path[-1]] = "\x00splice\x00"
        return json.dumps(body).replace('"\\u0000splice\\u0000"', replacement[len(RAW) :])
    parent[path[-1]] = replacement
    return json.dumps(body)


class Mutator:
    """Counts the REST replies while armed and rewrites the `plan.target`-th one."""

    def __init__(self) -> None:
        self.plan: Plan | None = None
        self.seen = 0
        self.applied = False

    def arm(self, plan: Plan) -> None:
        self.plan, self.seen, self.applied = plan, 0, False

    def disarm(self) -> None:
        self.plan = None

    async def __call__(self, name: str, request: web.Request, reply: web.Response) -> web.StreamResponse:
        plan = self.plan
        if plan is None:
            return reply
        index, self.seen = self.seen, self.seen + 1
        if index != plan.target:
            return reply
        self.applied = True
        raw = bytes(reply.body) if isinstance(reply.body, bytes | bytearray) else b""
        if plan.kind == "abort":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=499)
        if plan.kind == "body":
            return web.Response(body=BODIES[plan.what], status=reply.status, content_type="application/json")
        if plan.kind == "truncate":
            cut = random.Random(plan.seed).randrange(len(raw)) if raw else 0
            return web.Response(body=raw[:cut], status=reply.status, content_type="application/json")
        if plan.kind == "status":
            return web.Response(body=raw, status=int(plan.what), content_type="application/json")
        try:
            parsed = json.loads(raw)
        except ValueError:
            return reply
        text = edit_json(parsed, plan.what, plan.seed)
        return web.Response(text=text, status=reply.status, content_type="application/json")
