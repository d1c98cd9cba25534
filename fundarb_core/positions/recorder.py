"""The one event recorder: every fact goes to the store's audit trail, then to the observers."""

from __future__ import annotations

from collections import deque

from fundarb_core.clock import Clock
from fundarb_core.events import Emit, Event, EventPayload, null_emit
from fundarb_core.store import Store

__all__ = ["EventRecorder"]


class EventRecorder:
    """Record an event payload once: append it to the store, then hand it to every `fundarb_on_event` observer.

    `notify` is for events already written in another transaction (the action journal writes an action's outcome
    and its events together). `recent` keeps the last events for the live view.
    """

    def __init__(self, store: Store, clock: Clock, emit: Emit = null_emit, *, keep: int = 50) -> None:
        self.store = store
        self.clock = clock
        self.emit = emit
        self.recent: deque[Event] = deque(maxlen=keep)

    async def __call__(self, payload: EventPayload) -> None:
        stored = await self.store.events.append(payload.KIND, payload.as_data(), position_id=payload.position_id)
        self.notify(Event.of(payload, stored.at))

    def notify(self, event: Event) -> None:
        self.recent.append(event)
        self.emit(event)

    def notify_payload(self, payload: EventPayload) -> None:
        """Tell observers about `payload`, which the caller has already stored."""
        self.notify(Event.of(payload, self.clock.now()))
