"""Events: one typed payload class per kind of fact, and the `Event` envelope observers receive.

Each fact the bot learns is recorded once — in the store's audit trail, then handed to every `fundarb_on_event`
observer — by the one event recorder (`fundarb_core.positions.EventRecorder`). Layers below it (execution, actions)
receive a `Record` callable and never write events themselves.

An observer gets an `Event`: `kind` (the payload's `KIND`), `at` (clock time), `data` (the payload as a JSON-ready
mapping, exactly what the store keeps) and `payload` (the typed object; `None` only for an event a plugin built by
hand). Decimals in `data` are strings, datetimes ISO 8601. The kinds and their fields are listed in
docs/plugins/hooks.md; a test checks that list against the classes here.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import attrs

__all__ = [
    "PAYLOADS",
    "ActionDone",
    "ActionPlanned",
    "Alert",
    "CloseFailed",
    "Emit",
    "Event",
    "EventKind",
    "EventPayload",
    "OpenFailed",
    "OperatorCommand",
    "OrderDone",
    "PositionClosed",
    "PositionOpened",
    "PositionReduced",
    "Record",
    "Severity",
    "null_emit",
    "null_record",
]


class EventKind:
    """Event kinds the core records (plugins may define their own payload classes with other kinds)."""

    ORDER = "order"
    POSITION_OPENED = "position_opened"
    POSITION_CLOSED = "position_closed"
    OPEN_FAILED = "open_failed"
    CLOSE_FAILED = "close_failed"
    ALERT = "alert"
    ACTION_DONE = "action_done"
    ACTION_PLANNED = "action_planned"
    POSITION_REDUCED = "position_reduced"
    OPERATOR = "operator"


class Severity(enum.StrEnum):
    """How much a person should care: `info` (routine), `warning` (look soon), `critical` (act now)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@attrs.frozen(kw_only=True)
class EventPayload:
    """Base of every event payload. `KIND` names the kind; `SEVERITY` is the default severity."""

    KIND: ClassVar[str] = ""
    SEVERITY: ClassVar[Severity] = Severity.INFO

    position_id: str | None = None

    @property
    def severity(self) -> Severity:
        return self.SEVERITY

    def as_data(self) -> dict[str, Any]:
        """The payload as a JSON-ready mapping (what the store keeps and `Event.data` shows)."""
        data: dict[str, Any] = _jsonable(attrs.asdict(self, recurse=False))
        data["severity"] = self.severity.value
        return data


@attrs.frozen(kw_only=True)
class OrderDone(EventPayload):
    """One order intent's execution finished (every order sent for it is final or reported stuck)."""

    KIND: ClassVar[str] = EventKind.ORDER

    venue: str
    symbol: str
    side: str
    intent_id: str
    client_order_ids: tuple[str, ...] = ()
    quantity: Decimal
    filled: Decimal
    avg_price: Decimal | None = None
    fees: Decimal = Decimal(0)
    maker_qty: Decimal = Decimal(0)
    reduce_only: bool = False
    error: str | None = None


@attrs.frozen(kw_only=True)
class PositionOpened(EventPayload):
    """Both legs of a position are open (a partly filled open is hedged or rolled back first)."""

    KIND: ClassVar[str] = EventKind.POSITION_OPENED

    symbol: str
    long: str
    short: str
    qty: Decimal
    notional_usd: Decimal
    net_apr: Decimal | None = None
    telemetry: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class OpenFailed(EventPayload):
    """An open left nothing (refused, not filled, or rolled back)."""

    KIND: ClassVar[str] = EventKind.OPEN_FAILED
    SEVERITY: ClassVar[Severity] = Severity.WARNING

    symbol: str
    long: str
    short: str
    qty: Decimal = Decimal(0)
    error: str | None = None
    telemetry: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class PositionClosed(EventPayload):
    """Both legs are flat; PnL is realised."""

    KIND: ClassVar[str] = EventKind.POSITION_CLOSED

    symbol: str
    long: str
    short: str
    reason: str
    emergency: bool = False
    price_pnl: Decimal
    funding: Decimal
    fees: Decimal
    net: Decimal
    telemetry: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.emergency else Severity.INFO


@attrs.frozen(kw_only=True)
class CloseFailed(EventPayload):
    """A close attempt returned with a leg still open; the next tick retries."""

    KIND: ClassVar[str] = EventKind.CLOSE_FAILED
    SEVERITY: ClassVar[Severity] = Severity.CRITICAL

    symbol: str
    reason: str
    why: str
    open_exposure: Mapping[str, Decimal] = attrs.field(factory=dict)  # "venue:symbol" → signed quantity


@attrs.frozen(kw_only=True)
class PositionReduced(EventPayload):
    """Part of both legs was shed (a `reduce_size` action)."""

    KIND: ClassVar[str] = EventKind.POSITION_REDUCED

    symbol: str
    shed: Mapping[str, Decimal]  # venue → quantity shed
    level: str | None = None
    action_id: str | None = None


@attrs.frozen(kw_only=True)
class Alert(EventPayload):
    """Something an operator should know; `alert` is a stable code (e.g. `transfer_stuck`), `message` prose.

    `details` are flattened into `data` beside the fields (`data["why"]`, `data["open_exposure"]`, ...).
    """

    KIND: ClassVar[str] = EventKind.ALERT

    alert: str
    message: str = ""
    level: Severity = Severity.WARNING
    action_id: str | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def severity(self) -> Severity:
        return self.level

    def as_data(self) -> dict[str, Any]:
        data = super().as_data()
        details = data.pop("details")
        data.pop("level")
        return {**details, **data}


@attrs.frozen(kw_only=True)
class ActionPlanned(EventPayload):
    """A plan was journalled after an exit (or a reduce decision)."""

    KIND: ClassVar[str] = EventKind.ACTION_PLANNED

    plan_id: str
    actions: tuple[Mapping[str, Any], ...]  # {"id", "type", "depends_on"} per action, in plan order


@attrs.frozen(kw_only=True)
class ActionDone(EventPayload):
    """An action reached a final status: `succeeded`, `failed` or `cancelled`."""

    KIND: ClassVar[str] = EventKind.ACTION_DONE

    action_id: str
    action_type: str
    status: str
    attempts: int = 0
    error: str | None = None
    result: Mapping[str, Any] | None = None

    @property
    def severity(self) -> Severity:
        return Severity.INFO if self.status == "succeeded" else Severity.WARNING


@attrs.frozen(kw_only=True)
class OperatorCommand(EventPayload):
    """An operator's command reached the bot (pause, resume, halt, approve, cancel, close)."""

    KIND: ClassVar[str] = EventKind.OPERATOR

    command: str
    action_id: str | None = None
    reason: str | None = None


PAYLOADS: tuple[type[EventPayload], ...] = (
    OrderDone,
    PositionOpened,
    OpenFailed,
    PositionClosed,
    CloseFailed,
    PositionReduced,
    Alert,
    ActionPlanned,
    ActionDone,
    OperatorCommand,
)


@attrs.frozen
class Event:
    """What observers receive: the kind, the clock time, the JSON-ready data and the typed payload."""

    kind: str
    at: datetime
    data: Mapping[str, Any] = attrs.field(factory=dict)
    payload: EventPayload | None = attrs.field(default=None, eq=False)

    @classmethod
    def of(cls, payload: EventPayload, at: datetime) -> Event:
        return cls(payload.KIND, at, payload.as_data(), payload)


Emit = Callable[[Event], None]
Record = Callable[[EventPayload], Awaitable[None]]


def null_emit(event: Event) -> None:
    """An emitter that drops events (for code run without observers)."""


async def null_record(payload: EventPayload) -> None:
    """A recorder that drops events (for execution code run without a store)."""
