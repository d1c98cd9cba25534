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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from fundarb_core.clock import Clock
from fundarb_core.errors import FundarbError
from fundarb_core.events import Emit, null_emit
from fundarb_core.model.records import ActionRecord

if TYPE_CHECKING:
    from fundarb_core.actions.transfers import TransferService
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


class ActionFailed(FundarbError):
    """The action cannot succeed; its message is recorded as the reason."""


class RetryLater(FundarbError):
    """A transient problem: run the action again after `after` (default: the runner's backoff)."""

    def __init__(self, message: str, *, after: timedelta | None = None) -> None:
        super().__init__(message)
        self.after = after


@attrs.frozen
class Wait:
    """Not finished: run again (same attempt) at `until`; `note` says what it waits for."""

    until: datetime
    note: str = ""


@attrs.frozen
class AwaitApproval:
    """Stop until an operator approves (`fundarb actions approve ID`); `note` tells them what they approve."""

    note: str


Outcome = Mapping[str, Any] | Wait | AwaitApproval | None
Checkpoint = Callable[[str], Awaitable[None]]


async def _no_checkpoint(label: str) -> None:
    return None


@attrs.define
class ActionContext:
    """What handlers can reach. `trader` is the bot (closing, opening, scanning; see `fundarb_core.app.bot.Bot`).

    `checkpoint(label)` marks a step boundary (a no-op in production; tests crash the process there).
    """

    clock: Clock
    store: Store
    venues: Mapping[str, Venue]
    config: Config
    plugins: Plugins
    trader: Any = None
    transfers: TransferService | None = None
    emit: Emit = null_emit
    checkpoint: Checkpoint = _no_checkpoint


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
