"""The action-handler contract: what a handler receives, what it may return or raise, and what it can reach.

A handler is registered with `register(action_type, DetailsCls, factory)` from `fundarb_register_action_types`;
`factory(context: ActionContext)` returns an object with

    async def run(self, action: RunningAction) -> Mapping | Wait | AwaitApproval | None

- return a mapping (or None): the action **succeeded**, with that result (JSON-ready: Decimals become text);
- return `Wait(until)`: not done, nothing wrong: run me again (same attempt) at `until` — a transfer in flight;
- return `AwaitApproval(note)`: an operator must run `fundarb actions approve ID` before I run again;
- raise `RetryLater` (or a transient `VenueError`): try again after a backoff, up to `actions.max_attempts`;
- raise `ActionFailed` (or anything else): the action **failed** with that message; an alert fires.

A handler must be idempotent: after a crash it is called again for the same action with `action.resumed` set and
whatever it saved with `action.save(...)` in `action.state`. Derive every external id (client order ids,
transfer keys, position ids) from `action.id`, so that calling it again adopts what the first call did instead of
doing it twice. A handler may also offer `batch_key(action)` and `run_batch(actions)`: ready actions with the same
key (inside `actions.batch_window`) then run as one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from fundarb_core.actions.outcomes import ActionFailed, AwaitApproval, Outcome, RetryLater, Wait
from fundarb_core.actions.ports import ClosePort, OpenPort, ReducePort, TransferPort
from fundarb_core.clock import Clock
from fundarb_core.execution import VenueGateway
from fundarb_core.model.records import ActionRecord
from fundarb_core.positions import EventRecorder

if TYPE_CHECKING:
    from fundarb_core.config import Config
    from fundarb_core.plugins import Plugins
    from fundarb_core.store import Store
    from fundarb_core.venues import Venue

__all__ = [
    "ActionContext",
    "ActionFailed",
    "ActionHandler",
    "AwaitApproval",
    "BatchHandler",
    "Checkpoint",
    "Outcome",
    "RetryLater",
    "RunningAction",
    "Wait",
]


Checkpoint = Callable[[str], Awaitable[None]]


async def _no_checkpoint(label: str) -> None:
    return None


@attrs.define
class ActionContext:
    """What handlers can reach: the store, the clock, the config, and small typed ports (`fundarb_core.actions.ports`)
    for what a handler may do — close, reduce, open, transfer. A port the running process does not offer is None.

    `events` records an event (store, then observers); `gateway` reaches venues with retries; `checkpoint(label)`
    marks a step boundary (a no-op in production; tests crash the process there).
    """

    clock: Clock
    store: Store
    venues: Mapping[str, Venue]
    config: Config
    plugins: Plugins
    closer: ClosePort | None = None
    reducer: ReducePort | None = None
    opener: OpenPort | None = None
    transfers: TransferPort | None = None
    gateway: VenueGateway | None = None
    recorder: EventRecorder | None = None
    checkpoint: Checkpoint = _no_checkpoint

    @property
    def events(self) -> EventRecorder:
        """The event recorder (one is made on first use when none was given)."""
        if self.recorder is None:
            self.recorder = EventRecorder(self.store, self.clock, self.plugins.emit)
        return self.recorder

    @property
    def venue_gateway(self) -> VenueGateway:
        """The venue gateway (one over `venues` is made on first use when none was given)."""
        if self.gateway is None:
            self.gateway = VenueGateway(self.venues, self.clock)
        return self.gateway


@attrs.define
class RunningAction:
    """One action being run: its journal record, its validated details, and a way to save progress."""

    record: ActionRecord
    details: Any
    context: ActionContext
    resumed: bool = False  # a previous run of this attempt was interrupted: reconcile before acting

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def position_id(self) -> str | None:
        return self.record.position_id

    @property
    def reason(self) -> str:
        return self.record.reason or ""

    @property
    def attempt(self) -> int:
        return self.record.attempts

    @property
    def state(self) -> Mapping[str, Any]:
        """What earlier runs saved with `save` (plus the runner's own keys: `approvals`, `batch`)."""
        return self.record.state or {}

    @property
    def approvals(self) -> int:
        return int(self.state.get("approvals", 0))

    async def save(self, **state: Any) -> None:
        """Checkpoint progress durably (merged into `state`) before doing the next external thing."""
        self.record = await self.context.store.actions.save_state(self.id, state)

    async def checkpoint(self, label: str) -> None:
        await self.context.checkpoint(f"{self.record.action_type}:{label}")


@runtime_checkable
class ActionHandler(Protocol):
    async def run(self, action: RunningAction) -> Outcome: ...


@runtime_checkable
class BatchHandler(ActionHandler, Protocol):
    """A handler whose ready actions with the same key are run together."""

    def batch_key(self, action: RunningAction) -> Hashable | None: ...

    async def run_batch(self, actions: Sequence[RunningAction]) -> Outcome: ...
