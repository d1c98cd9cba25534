"""Moving funds between venues: transfer handlers (routes) and the service that drives them.

A transfer handler is registered with `register(kind, ConfigCls, factory)` from
`fundarb_register_transfer_handlers`; a config's `[transfers.<route>] kind = "..."` builds one route with
`factory(config, context)`. A handler is a **resumable state machine**:

    def serves(self, from_venue: str, to_venue: str, asset: str) -> bool
    async def advance(self, transfer: TransferRecord, *, approvals: int) -> TransferStep

`advance` looks at the stored transfer (its state says how far it got) and takes the next step, idempotently:
called twice for the same state it must not move funds twice (use `transfer.id` or `idempotency_key` as the
venue-side id). It returns the state reached, or the same state with `wait_until` (in flight: ask again then) or
`approval` (an operator must approve first). The service stores every step before asking for the next one, so a
crash anywhere resumes from the last stored state.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
from loguru import logger

from fundarb_core.actions.handler import ActionContext, ActionFailed, AwaitApproval, Checkpoint, RetryLater, Wait
from fundarb_core.errors import ConfigError
from fundarb_core.model.records import TransferRecord, TransferState

if TYPE_CHECKING:
    from fundarb_core.store import Store

__all__ = ["TransferHandler", "TransferService", "TransferStep"]

T = TransferState
MAX_STEPS = 16  # a route has at most this many steps in one call; more means a handler that does not progress


@attrs.frozen
class TransferStep:
    """Where a handler's step left the transfer."""

    state: TransferState
    reference: str | None = None  # the route's id for the movement (a tx hash, a withdrawal id)
    error: str | None = None  # why it failed (with state FAILED)
    wait_until: datetime | None = None  # in flight: nothing to do before then
    approval: str | None = None  # an operator must approve before the next step: what they approve


@runtime_checkable
class TransferHandler(Protocol):
    def serves(self, from_venue: str, to_venue: str, asset: str) -> bool: ...

    async def advance(self, transfer: TransferRecord, *, approvals: int) -> TransferStep: ...


class TransferService:
    """The configured routes, and the loop that moves a stored transfer on through its handler."""

    def __init__(self, store: Store, routes: Mapping[str, TransferHandler], checkpoint: Checkpoint) -> None:
        self.store = store
        self.routes = dict(routes)
        self._checkpoint = checkpoint

    @classmethod
    def from_context(cls, context: ActionContext) -> TransferService:
        routes: dict[str, TransferHandler] = {}
        for name, section in context.config.transfers.items():
            registration = context.plugins.registry.get("transfer_handlers", section.kind)
            routes[name] = registration.factory(section.config, context)
        return cls(context.store, routes, context.checkpoint)

    def route_for(self, from_venue: str, to_venue: str, asset: str, route: str | None = None) -> str:
        """The route to use: the one named, else the first configured route that serves the pair."""
        if route is not None:
            if route not in self.routes:
                known = ", ".join(sorted(self.routes)) or "none configured"
                raise ActionFailed(f"transfer route {route!r} is not configured (routes: {known})")
            if not self.routes[route].serves(from_venue, to_venue, asset):
                raise ActionFailed(f"transfer route {route!r} does not move {asset} from {from_venue} to {to_venue}")
            return route
        for name, handler in self.routes.items():
            if handler.serves(from_venue, to_venue, asset):
                return name
        if not self.routes:
            raise ActionFailed("no transfer route is configured: add a [transfers.<name>] section")
        raise ActionFailed(f"no configured transfer route moves {asset} from {from_venue} to {to_venue}")

    async def drive(self, transfer: TransferRecord, *, approvals: int) -> TransferRecord | Wait | AwaitApproval:
        """Advance `transfer` as far as it goes now. Returns the final record, or why it stopped."""
        handler = self.routes.get(transfer.route)
        if handler is None:
            raise ConfigError(
                [f"transfers.{transfer.route}: transfer {transfer.id} uses this route, which is no longer configured"]
            )
        for _ in range(MAX_STEPS):
            if transfer.state.final:
                return transfer
            before = transfer.state
            step = await handler.advance(transfer, approvals=approvals)
            if step.state is not before or (step.reference and step.reference != transfer.reference):
                transfer = await self.store.transfers.set_state(
                    transfer.id, step.state, reference=step.reference, error=step.error
                )
                logger.bind(transfer=transfer.id).info(
                    "transfer {} {} {} → {}: {}",
                    transfer.amount,
                    transfer.asset,
                    transfer.from_venue,
                    transfer.to_venue,
                    transfer.state.value,
                )
                await self._checkpoint(f"transfer:{transfer.state.value}")
            if step.approval is not None:
                return AwaitApproval(step.approval)
            if step.wait_until is not None:
                return Wait(step.wait_until, f"transfer {transfer.state.value}")
            if step.state is before and not before.final:
                raise RetryLater(f"transfer route {transfer.route!r} made no progress from {transfer.state.value}")
        raise RetryLater(f"transfer route {transfer.route!r} took more than {MAX_STEPS} steps")


def describe(transfer: TransferRecord) -> dict[str, Any]:
    return {
        "transfer_id": transfer.id,
        "route": transfer.route,
        "from_venue": transfer.from_venue,
        "to_venue": transfer.to_venue,
        "asset": transfer.asset,
        "amount": transfer.amount,
        "state": transfer.state.value,
        "reference": transfer.reference,
    }
