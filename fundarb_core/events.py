"""Events the bot emits to observers (`fundarb_on_event`): what happened, when, with its data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

__all__ = ["Emit", "Event", "EventKind", "null_emit"]


class EventKind:
    """Event kinds the core emits (plugins may emit their own)."""

    ORDER = "order"
    POSITION_OPENED = "position_opened"
    POSITION_CLOSED = "position_closed"
    OPEN_FAILED = "open_failed"
    CLOSE_FAILED = "close_failed"
    ALERT = "alert"
    ACTION_DONE = "action_done"
    ACTION_PLANNED = "action_planned"
    POSITION_REDUCED = "position_reduced"
    TELEMETRY = "telemetry"


@attrs.frozen
class Event:
    kind: str
    at: datetime
    data: Mapping[str, Any] = attrs.field(factory=dict)


Emit = Callable[[Event], None]


def null_emit(event: Event) -> None:
    """An emitter that drops events (for code run without observers)."""
