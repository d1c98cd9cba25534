"""Hostile replies for the fake server: JSON tree mutations, whole-body replacements, status codes, transport faults.

A `Mutation` describes one change to one reply; `Mutation.apply(json_text)` returns the new status and body bytes
(or a transport fault). The fake server applies it to the `nth` REST reply after it is armed
(`FakeAsterServer.faults.mutation`), after processing the request: an order is placed even when its reply is then
garbled, as when a proxy or the network mangles a real reply. The fuzz suite draws mutations with hypothesis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["BODIES", "LITERALS", "STATUSES", "TRANSPORT", "TREE_OPS", "Mutation", "apply_tree", "paths"]

# Raw JSON texts a tree node can be replaced by (orjson refuses some; the adapter must refuse the rest).
LITERALS: dict[str, str] = {
    "null": "null",
    "nan": "NaN",
    "inf": "Infinity",
    "ninf": "-Infinity",
    "big_float": "1e400",
    "tiny_float": "1e-400",
    "huge_int": "18446744073709551617",
    "u64": "18446744073709551615",
    "neg_int": "-9223372036854775809",
    "neg_one": "-1",
    "zero": "0",
    "zero_text": '"0"',
    "one_text": '"1"',
    "empty_text": '""',
    "nan_text": '"NaN"',
    "inf_text": '"Infinity"',
    "exp_text": '"1e400"',
    "bad_text": '"1e"',
    "neg_text": '"-5"',
    "true": "true",
    "false": "false",
    "list": "[]",
    "list_num": '["1", "2", "3"]',
    "dict": "{}",
    "deep": "[" * 3000 + "]" * 3000,
    "long_text": '"' + "9" * 400 + '"',
    "old_ms": "1000",
    "far_ms": "99999999999999999",
    "unicode": '"\\u0000\\ud800"',
}
TREE_OPS = (*LITERALS, "delete", "duplicate")
# Whole-body replacements (status 200 unless the mutation says otherwise).
BODIES: dict[str, bytes] = {
    "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    "empty": b"",
    "spaces": b"   \n",
    "null": b"null",
    "number": b"42",
    "string": b'"ok"',
    "list": b"[]",
    "object": b"{}",
    "deep": b"[" * 70_000 + b"]" * 70_000,
    "deep_object": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "binary": b"\xff\xfe\x00garbage\x80",
    "nan": b"NaN",
}
# Status codes with Aster-style bodies (code, message) or none.
STATUSES: dict[str, tuple[int, bytes]] = {
    "500_-1001": (500, b'{"code":-1001,"msg":"Internal error; unable to process your request."}'),
    "500_plain": (500, b"Internal Server Error"),
    "502_html": (502, b"<html>bad gateway</html>"),
    "503_-1007": (503, b'{"code":-1007,"msg":"Timeout waiting for response from backend server."}'),
    "503_empty": (503, b""),
    "504_-2013": (504, b'{"code":-2013,"msg":"Order does not exist."}'),
    "400_html": (400, b"<html>bad request</html>"),
    "400_bad_code": (400, b'{"code":"abc","msg":null}'),
    "400_huge_code": (400, b'{"code":18446744073709551617,"msg":["x"]}'),
    "401": (401, b'{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}'),
    "403": (403, b"<html>WAF</html>"),
    "418": (418, b'{"code":-1003,"msg":"banned"}'),
    "429": (429, b'{"code":-1003,"msg":"Too many requests."}'),
    "200_error": (200, b'{"code":-1000,"msg":"An unknown error occurred."}'),
    "204": (204, b""),
    "302": (302, b""),
}
TRANSPORT = ("disconnect", "truncate", "bad_length")


@dataclass(frozen=True)
class Mutation:
    """One change to the `nth` reply: `kind` is "tree", "body", "status" or "transport"; `op` names it."""

    kind: str
    op: str
    nth: int = 0
    node: int = 0  # which node of the JSON tree (index into `paths`, modulo their number)
    endpoint: str | None = None  # only replies of this endpoint ("premiumIndex") count and are changed

    def apply(self, text: str) -> tuple[int, bytes, bool]:
        """Return (status, body, keep headers) for a reply whose JSON text was `text` (status 200)."""
        if self.kind == "body":
            return 200, BODIES[self.op], True
        if self.kind == "status":
            status, body = STATUSES[self.op]
            return status, body, False
        return 200, apply_tree(text, self.op, self.node).encode(), True

    @property
    def definite_refusal(self) -> bool:
        """True when the mutated reply is a 4xx: a server saying "refused" after accepting cannot be detected."""
        return self.kind == "status" and 400 <= STATUSES[self.op][0] < 500


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node of a JSON tree, depth first (the root is `()`)."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found.extend(paths(value, (*prefix, i)))
    return found


def apply_tree(text: str, op: str, node: int) -> str:
    """Replace, delete or duplicate one node of the JSON in `text`; return the new JSON text (maybe invalid JSON)."""
    data = json.loads(text)
    every = paths(data)
    target = every[node % len(every)]
    marker = "\u0001RAW\u0001"
    if not target:
        return {"delete": "", "duplicate": text}.get(op) or LITERALS.get(op, "null")
    parent: Any = data
    for step in target[:-1]:
        parent = parent[step]
    last = target[-1]
    if op == "delete":
        del parent[last]
    elif op == "duplicate":
        if isinstance(parent, list):  # a row listed twice (duplicate ids, unsorted books)
            parent.insert(last, parent[last])
    else:
        parent[last] = marker
    return json.dumps(data).replace(json.dumps(marker), LITERALS.get(op, "null"))
