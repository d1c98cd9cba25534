"""What the bot keeps about a position beyond its legs: typed fields, stored as JSON (`positions.state`).

Written by the positions layer (open, close, reduce) and the monitor (marks each tick); read by risk managers, the
kill switch, reports and the CLI. Keys this version does not know (written by a newer one, or by hand) are kept in
`extra` and written back unchanged: nothing is lost on a round trip.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from fundarb_core.model._evolve import checks_fields_alone, evolve

__all__ = ["PositionState", "Reduction"]


def _decimal(value: Any) -> Decimal | None:
    if value is None or value in ("", "None"):  # "None": an unknown value as the earlier monitor wrote it
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected a number, found {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"expected a number, found {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite number, found {value!r}")
    return number


def _decimals(value: Any) -> dict[str, Decimal | None]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a table of numbers, found {value!r}")
    return {str(k): _decimal(v) for k, v in value.items()}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@attrs.frozen
class Reduction:
    """One partial reduction: what was shed per venue, the threshold that asked for it, the action that did it."""

    shed: Mapping[str, Decimal] = attrs.field(factory=dict)
    level: str | None = None
    action_id: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Reduction:
        if not isinstance(data, Mapping):
            raise ValueError(f"a reduction is a table, found {data!r}")
        shed = {k: v for k, v in _decimals(data.get("shed") or {}).items() if v is not None}
        return cls(shed, _text(data.get("level")), _text(data.get("action_id")))

    def to_json(self) -> dict[str, Any]:
        return {"shed": {k: str(v) for k, v in self.shed.items()}, "level": self.level, "action_id": self.action_id}


# field name -> (reader from JSON, writer to JSON); the order is the order of `as_dict`.
_DEC = (_decimal, lambda v: None if v is None else str(v))
_DECS = (_decimals, lambda v: {k: (None if x is None else str(x)) for k, x in v.items()})
_CODECS: dict[str, tuple[Any, Any]] = {
    "net_apr": _DEC,
    "opened_by_action": (bool, bool),
    "close_attempt": (int, int),
    "urgency": (_text, _text),
    "emergency": (lambda v: None if v is None else bool(v), lambda v: v),
    "reductions": (
        lambda v: tuple(Reduction.from_json(r) for r in (v or [])),
        lambda v: [r.to_json() for r in v],
    ),
    "open_exposure": _DECS,
    "marks": _DECS,
    "funding_accrued": _DECS,
    "liquidation_distance": _DECS,
    "unrealized_pnl": _DEC,
    "current_spread": _DEC,
    "price_pnl": _DEC,
    "funding": _DEC,
    "fees": _DEC,
    "net": _DEC,
}


@checks_fields_alone  # (see `fundarb_core.model._evolve`): the monitor updates it every tick
@attrs.frozen(kw_only=True)
class PositionState(Mapping[str, Any]):
    """A position's typed state. Also a read-only mapping of its JSON form (the fields that are set, and `extra`),
    which is what `PositionRecord.details` shows to code written against the earlier untyped bag."""

    net_apr: Decimal | None = None  # the opportunity's net APR at entry
    opened_by_action: bool = False  # opened by a plan's reopen, not by the scanner
    close_attempt: int = 0  # the close attempt under way or last made (client order ids derive from it)
    urgency: str | None = None  # of the close under way
    emergency: bool | None = None  # the close went the emergency path
    reductions: tuple[Reduction, ...] = ()
    open_exposure: Mapping[str, Decimal | None] = attrs.field(factory=dict)  # "venue:symbol" → qty, failed close
    marks: Mapping[str, Decimal | None] = attrs.field(factory=dict)  # venue → mark price, this tick
    funding_accrued: Mapping[str, Decimal | None] = attrs.field(factory=dict)
    liquidation_distance: Mapping[str, Decimal | None] = attrs.field(factory=dict)
    unrealized_pnl: Decimal | None = None
    current_spread: Decimal | None = None  # hourly, short − long
    price_pnl: Decimal | None = None  # realised at close
    funding: Decimal | None = None
    fees: Decimal | None = None
    net: Decimal | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> PositionState:
        """Read the stored JSON form (or an earlier untyped details bag); unknown keys go to `extra`.

        Raises `ValueError` naming the key when a known key holds something of the wrong kind.
        """
        if data is None:
            return cls()
        if isinstance(data, PositionState):
            return data
        known: dict[str, Any] = {}
        extra: dict[str, Any] = dict(data.get("extra") or {}) if isinstance(data.get("extra"), Mapping) else {}
        for key, value in data.items():
            if key == "extra":
                continue
            codec = _CODECS.get(key)
            if codec is None:
                extra[key] = value
                continue
            try:
                known[key] = codec[0](value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"position state {key}: {exc}") from None
        return cls(**known, extra=extra)

    def to_json(self) -> dict[str, Any]:
        """The JSON form: every field that differs from its default, then `extra` under its own key."""
        out: dict[str, Any] = {}
        defaults = _DEFAULTS
        for key, (_, write) in _CODECS.items():
            value = getattr(self, key)
            if value != getattr(defaults, key):
                out[key] = write(value)
        if self.extra:
            out["extra"] = dict(self.extra)
        return out

    def as_dict(self) -> dict[str, Any]:
        """The flat view: set fields and `extra` keys side by side (the earlier details bag's shape)."""
        out = self.to_json()
        extra = out.pop("extra", {})
        return {**extra, **out}

    def update(self, **changes: Any) -> PositionState:
        """A copy with `changes` (typed fields by name; unknown names go to `extra`)."""
        fields = {k: v for k, v in changes.items() if k in _CODECS}
        rest = {k: v for k, v in changes.items() if k not in _CODECS}
        return evolve(self, **fields, extra={**self.extra, **rest} if rest else self.extra)

    # -- the read-only mapping view ----------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())


_DEFAULTS = PositionState()
