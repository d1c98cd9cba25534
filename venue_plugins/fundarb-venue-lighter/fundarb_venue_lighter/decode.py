"""The one decoding boundary: every Lighter reply (REST body, websocket frame) becomes a typed record or error.

Two steps:

1. `parse_json`: bytes → JSON values with orjson, which refuses nesting deeper than 1024 levels, `NaN` and
   `Infinity` literals, invalid UTF-8 and integers beyond 64 bits; bodies above `MAX_BODY` bytes are refused
   before parsing. (The standard library's parser recurses in C: with the recursion limit py_ecc sets on import,
   100,000, a reply of ~70,000 nested `[` overflows the C stack and the process dies with SIGSEGV.)
2. `structure`: JSON values → the attrs records of `records`, with hooks that refuse absurd values.

Either failure is a `MalformedReply` (a `VenueUnavailable`: nothing was done, a later call may succeed) naming the
endpoint and the field; nothing else escapes.
"""

from __future__ import annotations

from typing import Any, TypeVar

import cattrs
import orjson

from fundarb_venue_lighter.errors import MalformedReply
from fundarb_venue_lighter.records import converter

__all__ = ["MAX_BODY", "parse_json", "parse_object", "structure", "structure_entries"]

T = TypeVar("T")

MAX_BODY = 16 * 1024 * 1024  # bytes; the largest real reply (every market's details) is far below


def parse_json(data: bytes | str, *, endpoint: str, venue: str, status: int | None = None) -> Any:
    """Parse one reply body; refuse what is not JSON, too deep or too large (a `MalformedReply`)."""
    if len(data) > MAX_BODY:
        raise MalformedReply(f"{endpoint}: the reply is larger than {MAX_BODY} bytes", venue=venue, endpoint=endpoint)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        # orjson's message names the position, never quotes the body at length (nothing secret is echoed).
        reason = "empty" if not data.strip() else str(error).split(":", 1)[0]
        raise MalformedReply(
            f"{endpoint}: the reply is not JSON ({reason})", venue=venue, endpoint=endpoint, status=status
        ) from None


def parse_object(data: bytes | str, *, endpoint: str, venue: str, status: int | None = None) -> dict[str, Any]:
    """Parse a reply that must be a JSON object."""
    body = parse_json(data, endpoint=endpoint, venue=venue, status=status)
    if not isinstance(body, dict):
        kind = "null" if body is None else type(body).__name__
        raise MalformedReply(
            f"{endpoint}: expected a JSON object, found {kind}", venue=venue, endpoint=endpoint, status=status
        )
    return body


def _format(error: BaseException, _type: Any) -> str:
    if isinstance(error, KeyError):
        return "required field missing"
    return str(error) or type(error).__name__


def structure(value: Any, record: type[T], *, endpoint: str, venue: str) -> T:
    """Convert parsed JSON into `record`, or raise `MalformedReply` naming the first bad field."""
    try:
        return converter.structure(value, record)
    except Exception as error:  # cattrs wraps every field's failure; anything else is the same kind of fault
        lines = (
            cattrs.transform_error(error, path="reply", format_exception=_format)
            if isinstance(error, cattrs.BaseValidationError)
            else [f"{_format(error, record)} @ reply"]
        )
        first = lines[0] if lines else f"invalid {record.__name__} @ reply"
        message, _, field = first.rpartition(" @ ")
        raise MalformedReply(
            f"{endpoint}: {field or 'reply'}: {message or first}", venue=venue, endpoint=endpoint, field=field
        ) from None


def structure_entries(
    values: list[Any], record: type[T], *, endpoint: str, venue: str, skipped: list[MalformedReply] | None = None
) -> list[T]:
    """Convert each entry of a list on its own; entries that fail are left out (and appended to `skipped`).

    For listings where one bad market must not hide the others (it is then simply not tradable).
    """
    out: list[T] = []
    for position, value in enumerate(values):
        try:
            out.append(structure(value, record, endpoint=f"{endpoint}[{position}]", venue=venue))
        except MalformedReply as error:
            if skipped is not None:
                skipped.append(error)
    return out
