"""What the durable store returns: frozen attrs records with Decimal money and timezone-aware UTC datetimes.

Records are plain values. The store builds them from rows and never hands out ORM objects; to change a position,
`attrs.evolve` the record you read and pass it back (its `version` is checked, see `PositionRepository.update`).
Free-form `details`/`data` mappings hold JSON-ready values (Decimal and datetime are stored as strings).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from fundarb_core.model._enums import ExitReason, OrderStatus, OrderType, PositionStatus, Side, TimeInForce
from fundarb_core.model._evolve import checks_fields_alone
from fundarb_core.model.state import PositionState

__all__ = [
    "OPEN_POSITION_STATUSES",
    "ActionRecord",
    "ActionStatus",
    "ControlCommand",
    "ControlRecord",
    "EventRecord",
    "FillRecord",
    "FundingPaymentRecord",
    "LeaseRecord",
    "LegRecord",
    "OrderRecord",
    "PlannedAction",
    "PositionRecord",
    "TelemetryRecord",
    "TransferRecord",
    "TransferState",
]

OPEN_POSITION_STATUSES = frozenset(
    {PositionStatus.OPENING, PositionStatus.OPEN, PositionStatus.CLOSING, PositionStatus.CLOSE_FAILED}
)


class ActionStatus(enum.StrEnum):
    """Where a journalled action stands."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    AWAITING_APPROVAL = "awaiting_approval"
    WAITING = "waiting"  # started; its handler waits for time or the outside world (a transfer in flight)

    @property
    def final(self) -> bool:
        """True when the action will not run again."""
        return self in (ActionStatus.SUCCEEDED, ActionStatus.FAILED, ActionStatus.CANCELLED)


class TransferState(enum.StrEnum):
    """A transfer between venues, as far as its route needs: requested (initiated) → awaiting_approval → submitted
    → withdrawn → in_flight → deposited → confirmed (credited); or failed / cancelled. A route skips the steps it
    does not have, never goes back, and cannot be cancelled once funds have left the source venue."""

    REQUESTED = "requested"
    AWAITING_APPROVAL = "awaiting_approval"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    IN_FLIGHT = "in_flight"
    DEPOSITED = "deposited"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (TransferState.CONFIRMED, TransferState.FAILED, TransferState.CANCELLED)


class ControlCommand(enum.StrEnum):
    """An operator's command to a running bot."""

    PAUSE = "pause"  # stop opening; keep monitoring and closing
    RESUME = "resume"
    HALT = "halt"  # stop the bot after the current step


# -- validators ------------------------------------------------------------------------------------------------


def _decimal(_: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{attribute.name} must be a Decimal, found {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"{attribute.name} must be finite, found {value}")


def _utc(_: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{attribute.name} must be a datetime, found {type(value).__name__} {value!r}")
    if value.utcoffset() != timedelta(0):
        raise ValueError(f"{attribute.name} must be timezone-aware UTC, found {value.isoformat()}")


def _to_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value  # the validator reports naive values
    return value.astimezone(UTC)


def _money(*, optional: bool = False, **kwargs: Any) -> Any:
    """Declare a Decimal field (refuses floats and non-finite values); `optional` also allows None."""
    validator = attrs.validators.optional(_decimal) if optional else _decimal
    return attrs.field(validator=validator, **kwargs)


def _timestamp(*, optional: bool = False, **kwargs: Any) -> Any:
    """Declare a datetime field: timezone-aware, normalised to UTC; `optional` also allows None."""
    validator = attrs.validators.optional(_utc) if optional else _utc
    return attrs.field(converter=_to_utc, validator=validator, **kwargs)


def _legs(value: Iterable[LegRecord]) -> tuple[LegRecord, ...]:
    return tuple(value)


def _ids(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"expected a sequence of ids, found the string {value!r}")
    return tuple(value)


def _details(**kwargs: Any) -> Any:
    return attrs.field(factory=dict, converter=dict, hash=False, **kwargs)


def _state(value: PositionState | Mapping[str, Any] | None) -> PositionState:
    return PositionState.from_json(value)


# -- records ---------------------------------------------------------------------------------------------------


@attrs.frozen
class LegRecord:
    """One side of a position on one venue. `side` is the opening side (BUY for the long leg)."""

    id: str
    position_id: str
    venue: str
    side: Side
    quantity: Decimal = _money()  # target size
    filled_quantity: Decimal = _money(default=Decimal(0))
    entry_price: Decimal | None = _money(optional=True, default=None)
    exit_price: Decimal | None = _money(optional=True, default=None)
    fees: Decimal = _money(default=Decimal(0))
    funding: Decimal = _money(default=Decimal(0))  # + received, − paid


@checks_fields_alone  # (see `fundarb_core.model._evolve`): the monitor copies positions every tick
@attrs.frozen
class PositionRecord:
    """A delta-neutral pair. `version` increases by one on every stored update (optimistic concurrency)."""

    id: str
    symbol: str
    status: PositionStatus
    long_venue: str
    short_venue: str
    notional_usd: Decimal = _money()
    version: int = 1
    legs: tuple[LegRecord, ...] = attrs.field(default=(), converter=_legs)
    created_at: datetime = _timestamp(kw_only=True)
    updated_at: datetime = _timestamp(kw_only=True)
    opened_at: datetime | None = _timestamp(optional=True, default=None, kw_only=True)
    closed_at: datetime | None = _timestamp(optional=True, default=None, kw_only=True)
    exit_reason: ExitReason | None = attrs.field(default=None, kw_only=True)
    entry_spread: Decimal | None = _money(optional=True, default=None, kw_only=True)
    realized_pnl: Decimal | None = _money(optional=True, default=None, kw_only=True)
    state: PositionState = attrs.field(factory=PositionState, converter=_state, hash=False, kw_only=True)

    @property
    def details(self) -> Mapping[str, Any]:
        """The state as a flat dict of JSON values (the earlier untyped bag's shape), for reading; a copy."""
        return self.state.as_dict()

    @property
    def is_open(self) -> bool:
        """True until the position is closed or its open failed."""
        return self.status in OPEN_POSITION_STATUSES

    def leg(self, venue: str) -> LegRecord:
        """Return the leg on `venue`."""
        for leg in self.legs:
            if leg.venue == venue:
                return leg
        raise KeyError(f"position {self.id} has no leg on {venue!r}")


@attrs.frozen
class OrderRecord:
    """An order intent and what became of it.

    `status` is None while only the intent is recorded: the order may or may not have reached the venue, so a
    restart reconciles it by `client_order_id` before sending anything.
    """

    id: str
    client_order_id: str
    venue: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal = _money()
    price: Decimal | None = _money(optional=True)  # limit price, or a market order's worst acceptable price
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    attempt: int = 0
    status: OrderStatus | None = None
    filled_quantity: Decimal = _money(default=Decimal(0))
    avg_price: Decimal | None = _money(optional=True, default=None)
    fees: Decimal = _money(default=Decimal(0))
    venue_order_id: str | None = None
    error: str | None = None
    position_id: str | None = None
    leg_id: str | None = None
    action_id: str | None = None
    created_at: datetime = _timestamp(kw_only=True)
    updated_at: datetime = _timestamp(kw_only=True)

    @property
    def finished(self) -> bool:
        """True when the venue reported a final status."""
        return self.status is not None and self.status.final


@attrs.frozen
class FillRecord:
    """One execution reported by a venue; unique by (venue, venue_fill_id)."""

    id: int
    venue: str
    venue_fill_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal = _money()
    price: Decimal = _money()
    fee: Decimal = _money()
    at: datetime = _timestamp()
    liquidity: str | None = None  # "maker" / "taker" where the venue says
    position_id: str | None = None


@attrs.frozen
class FundingPaymentRecord:
    """A funding payment as the venue reported it; `amount` is + received, − paid."""

    id: int
    venue: str
    venue_payment_id: str
    symbol: str
    amount: Decimal = _money()
    at: datetime = _timestamp()
    rate: Decimal | None = _money(optional=True, default=None)
    position_id: str | None = None


@attrs.frozen
class PlannedAction:
    """An action to journal as part of a plan. `depends_on` names actions (of any plan) that must succeed first."""

    action_type: str
    details: Mapping[str, Any] = _details()
    position_id: str | None = None
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    urgency: int = 0  # higher runs sooner
    id: str | None = None  # chosen by the store when None
    reason: str | None = None  # why the plan was made (the exit reason)


@attrs.frozen
class ActionRecord:
    """A journalled action."""

    id: str
    plan_id: str
    seq: int  # position within its plan
    action_type: str
    status: ActionStatus
    details: Mapping[str, Any] = _details()
    position_id: str | None = None
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    urgency: int = 0
    attempts: int = 0
    error: str | None = None
    result: Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    claimed_by: str | None = None
    reason: str | None = None
    state: Mapping[str, Any] | None = attrs.field(default=None, hash=False)  # the handler's checkpoint (resume)
    created_at: datetime = _timestamp(kw_only=True)
    updated_at: datetime = _timestamp(kw_only=True)
    started_at: datetime | None = _timestamp(optional=True, default=None, kw_only=True)
    finished_at: datetime | None = _timestamp(optional=True, default=None, kw_only=True)
    not_before: datetime | None = _timestamp(optional=True, default=None, kw_only=True)  # backoff or a wait


@attrs.frozen
class TransferRecord:
    """A movement of funds between venues, unique by `idempotency_key`."""

    id: str
    idempotency_key: str
    route: str  # the transfer handler's name
    from_venue: str
    to_venue: str
    asset: str
    amount: Decimal = _money()
    state: TransferState = TransferState.REQUESTED
    reference: str | None = None  # the handler's or venue's id for the movement
    error: str | None = None
    action_id: str | None = None
    created_at: datetime = _timestamp(kw_only=True)
    updated_at: datetime = _timestamp(kw_only=True)


@attrs.frozen
class EventRecord:
    """One entry of the append-only audit trail."""

    id: int
    kind: str
    at: datetime = _timestamp()
    position_id: str | None = None
    data: Mapping[str, Any] = _details()


@attrs.frozen
class TelemetryRecord:
    """One measurement (latency, leg skew, slippage in bps, ...), stored with its position and order."""

    id: int
    name: str
    value: Decimal = _money()
    at: datetime = _timestamp()
    position_id: str | None = None
    client_order_id: str | None = None
    data: Mapping[str, Any] = _details()


@attrs.frozen
class ControlRecord:
    """An operator's command; the bot consumes each one once."""

    id: int
    command: ControlCommand
    issued_at: datetime = _timestamp()
    issued_by: str = ""
    reason: str | None = None
    consumed: bool = False
    consumed_at: datetime | None = _timestamp(optional=True, default=None)


@attrs.frozen
class LeaseRecord:
    """Who holds the store and until when; `host`, `pid` and `process_started` (epoch seconds) name its process."""

    owner: str
    acquired_at: datetime = _timestamp()
    renewed_at: datetime = _timestamp()
    expires_at: datetime = _timestamp()
    host: str | None = None
    pid: int | None = None
    process_started: float | None = None
