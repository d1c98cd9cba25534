"""Column types that keep money exact and time in UTC on every backend.

Money is stored as TEXT on SQLite *and* PostgreSQL, written in plain positional notation (`format(d, "f")`):

- it round-trips every Decimal exactly, whatever its scale or magnitude; NUMERIC(38,18) would silently round a
  value with more than 18 decimals (an average price from a division has 28 significant digits) and overflow past
  20 integer digits;
- both backends behave identically, so the code cannot come to rely on SQL arithmetic that SQLite lacks;
- PostgreSQL users can still compute in SQL with a cast: `SELECT sum(amount::numeric) FROM funding_payments`.

JSON is TEXT too (same reasons), serialised with sorted keys; Decimal and datetime values inside it become strings.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from fundarb_core.secrets import Secret, redact

__all__ = ["DecimalText", "EnumText", "JsonText", "UtcDateTime", "as_stored", "dump_json", "format_decimal"]


def format_decimal(value: object) -> str:
    """Return a Decimal as plain positional text; refuse floats and non-finite values."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be a Decimal, found {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"money must be finite, found {value}")
    return format(value, "f")


class DecimalText(TypeDecorator[Decimal]):
    """An exact Decimal stored as text."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else format_decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC (TIMESTAMPTZ on PostgreSQL, naive-UTC text on SQLite)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing to store a naive datetime ({value.isoformat()}): give it a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_default(value: object) -> object:
    if isinstance(value, Secret):
        raise TypeError("refusing to store a secret")
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def dump_json(value: object) -> str:
    """Serialise for the store: sorted keys, Decimal as text, known secrets masked."""
    return redact(json.dumps(value, default=_json_default, sort_keys=True, separators=(",", ":")))


def as_stored(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return `value` as it will read back from the store (Decimal and datetime become strings)."""
    result = json.loads(dump_json(dict(value or {})))
    assert isinstance(result, dict)
    return result


class JsonText(TypeDecorator[Any]):
    """JSON stored as text."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else dump_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class EnumText(TypeDecorator[enum.Enum]):
    """A string enum stored by value (plain VARCHAR, so new members need no migration)."""

    impl = sa.String(40)
    cache_ok = True

    def __init__(self, enum_cls: type[enum.Enum]) -> None:
        super().__init__()
        self.enum_cls = enum_cls

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        member = self.enum_cls(value)  # refuses values the enum does not know
        return str(member.value)

    def process_result_value(self, value: Any, dialect: Dialect) -> enum.Enum | None:
        return None if value is None else self.enum_cls(value)
