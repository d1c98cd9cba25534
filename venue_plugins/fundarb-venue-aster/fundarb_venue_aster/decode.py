"""The one decoding boundary of the adapter: bytes → JSON with limits → typed, validated wire records.

Every reply body (REST and websocket) goes through `parse`: a size limit, then orjson, which refuses nesting deeper
than 1024, `NaN`/`Infinity` literals, numbers that overflow a double and invalid UTF-8 — a reply of 70,000 nested
`[` is a `Malformed`, never a C-stack overflow. `structure` then turns the JSON into attrs records with a strict
cattrs converter: numbers must be finite decimal text (or JSON numbers) within sane bounds, never `""`, `null` or a
bool; integers must be integers; timestamps must fall between 2017 and 2100; strings must be strings; a list must be
a list; required fields must be there. What fails is a `Malformed(where, why)` naming the field (`$.bids[3][0]`), which
the transport turns into a typed venue error naming the endpoint.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, NewType, TypeVar

import cattrs
import orjson
from cattrs.cols import is_sequence, list_structure_factory

__all__ = [
    "MAX_BODY",
    "Bool",
    "Id",
    "Int",
    "Malformed",
    "Ms",
    "MsOrZero",
    "NonNeg",
    "Num",
    "Pos",
    "Rate",
    "Text",
    "parse",
    "structure",
]

T = TypeVar("T")

MAX_BODY = 32 * 1024 * 1024  # bytes; Aster's largest reply (exchangeInfo, all symbols) is well under 1 MiB
# Wire numbers beyond this magnitude are garbage, not prices or sizes (1000PEPE quantities are below 1e9).
_MAX_MAGNITUDE = Decimal("1e15")
_MAX_TEXT = 64  # characters of a number's text
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d{1,3})?")
_INTEGER = re.compile(r"-?(?:0|[1-9]\d{0,18})")
_MS_MIN = 1_483_228_800_000  # 2017-01-01: before any Binance-style futures venue existed
_MS_MAX = 4_102_444_800_000  # 2100-01-01
_INT_LIMIT = 2**63

# Field types. `Num`: any finite decimal; `Pos` > 0; `NonNeg` ≥ 0; `Rate`: a funding or fee rate (|x| < 1);
# `Int`: a signed 64-bit integer (or its text); `Ms`: a plausible epoch-milliseconds timestamp; `MsOrZero`: the
# same or 0 (Aster's "never", e.g. a flat position's updateTime); `Id`: an integer id as text; `Text`: a string.
Num = NewType("Num", Decimal)
Pos = NewType("Pos", Decimal)
NonNeg = NewType("NonNeg", Decimal)
Rate = NewType("Rate", Decimal)
Int = NewType("Int", int)
Ms = NewType("Ms", int)
MsOrZero = NewType("MsOrZero", int)
Id = NewType("Id", str)
Text = NewType("Text", str)
Bool = NewType("Bool", bool)


class Malformed(Exception):
    """A reply that cannot be trusted: `where` is the JSON path of the offending field, `why` what is wrong."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}")
        self.where = where
        self.why = why


def parse(body: bytes | str) -> Any:
    """Decode a reply body into JSON values, refusing anything too big, too deep or not JSON."""
    if len(body) > MAX_BODY:
        raise Malformed("$", f"body of {len(body)} bytes is over the {MAX_BODY}-byte limit")
    if not body or not body.strip():
        raise Malformed("$", "empty body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        head = body[:40]
        shown = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
        raise Malformed("$", f"not JSON ({exc}), starts {shown!r}") from None


# -- scalar hooks ---------------------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a number, found {value!r}")
    if isinstance(value, str):
        if len(value) > _MAX_TEXT or not _NUMBER.fullmatch(value):
            raise ValueError(f"expected a number, found {value[:_MAX_TEXT]!r}")
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"expected a number, found {value!r}") from None
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, found {value!r}")
        number = Decimal(repr(value))
    else:
        raise ValueError(f"expected a number, found {type(value).__name__}")
    if not number.is_finite() or abs(number) > _MAX_MAGNITUDE:
        raise ValueError(f"number {value!r} is out of range")
    return number


def _num(value: Any, _: Any) -> Decimal:
    return _decimal(value)


def _pos(value: Any, _: Any) -> Decimal:
    number = _decimal(value)
    if number <= 0:
        raise ValueError(f"must be positive, found {value!r}")
    return number


def _non_neg(value: Any, _: Any) -> Decimal:
    number = _decimal(value)
    if number < 0:
        raise ValueError(f"must not be negative, found {value!r}")
    return number


def _rate(value: Any, _: Any) -> Decimal:
    number = _decimal(value)
    if abs(number) >= 1:
        raise ValueError(f"rate {value!r} is not below 100 %")
    return number


def _int(value: Any, _: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, found {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value):
        number = int(value)
    else:
        raise ValueError(f"expected an integer, found {value!r}"[:120])
    if not -_INT_LIMIT <= number < _INT_LIMIT:
        raise ValueError(f"integer {value!r} is out of range")
    return number


def _ms(value: Any, _: Any) -> int:
    number = _int(value, None)
    if not _MS_MIN <= number <= _MS_MAX:
        raise ValueError(f"timestamp {value!r} ms is not between 2017 and 2100")
    return number


def _ms_or_zero(value: Any, _: Any) -> int:
    return 0 if _int(value, None) == 0 else _ms(value, None)


def _id(value: Any, _: Any) -> str:
    number = _int(value, None)
    if number < 0:
        raise ValueError(f"id must not be negative, found {value!r}")
    return str(number)


def _text(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, found {type(value).__name__}")
    if len(value) > 256:
        raise ValueError("string longer than 256 characters")
    return value


def _bool(value: Any, _: Any) -> bool:
    # Aster sends some flags as JSON booleans, others as "true"/"false" text.
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError(f"expected a boolean, found {value!r}"[:120])


def _strict_lists(tp: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    inner = list_structure_factory(tp, converter)

    def structure_list(value: Any, cl: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, found {type(value).__name__}")
        return inner(value, cl)

    return structure_list


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(detailed_validation=True)
    hooks: dict[Any, Callable[[Any, Any], Any]] = {
        Num: _num,
        Pos: _pos,
        NonNeg: _non_neg,
        Rate: _rate,
        Int: _int,
        Ms: _ms,
        MsOrZero: _ms_or_zero,
        Id: _id,
        Text: _text,
        Bool: _bool,
    }
    for tp, hook in hooks.items():
        converter.register_structure_hook(tp, hook)
    converter.register_structure_hook_factory(is_sequence, _strict_lists)
    return converter


CONVERTER = _converter()


# -- structuring ----------------------------------------------------------------------------------------------------


def _first_problem(exc: BaseException, path: str) -> tuple[str, str]:
    """The JSON path and message of the first leaf error in a cattrs exception group."""
    if isinstance(exc, cattrs.BaseValidationError):
        for sub in exc.exceptions:
            notes = [n for n in getattr(sub, "__notes__", []) if hasattr(n, "name") or hasattr(n, "index")]
            note = notes[-1] if notes else None
            step = path
            if note is not None and hasattr(note, "name"):
                step = f"{path}.{note.name}"
            elif note is not None and hasattr(note, "index"):
                step = f"{path}[{note.index}]"
            return _first_problem(sub, step)
        return path, str(exc)
    if isinstance(exc, KeyError):
        return path, f"missing field {exc}"
    return path, str(exc) or type(exc).__name__


def structure(data: Any, cls: type[T], path: str = "$") -> T:
    """Return `data` as a `cls` record, or raise `Malformed` naming the first bad field."""
    try:
        return CONVERTER.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
        where, why = _first_problem(exc, path)
        raise Malformed(where, why) from None
