"""Closing a position from live snapshots: normal, emergency and partial exits. No venue-level close exists.

- Normal exit: every leg present and balanced → all legs closed concurrently under the close policy.
- Emergency exit: a leg gone (liquidated, closed by hand) or a severe imbalance → the survivors are flattened at
  once with the policy's emergency spec, without waiting on the missing leg.
- Partial close: a leg still open after the policy ran is finished as an emergency; a flat leg is never reopened
  (only reduce-only orders are ever sent here). If a leg still cannot be flattened the result is `CLOSE_FAILED`
  with the open exposure, an alert event fires, and the next attempt starts again from live snapshots.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs
from loguru import logger

from fundarb_core.errors import VenueError
from fundarb_core.events import Emit, Event, EventKind, null_emit
from fundarb_core.execution.order_executor import OrderExecutor
from fundarb_core.execution.specs import CloseLegSpec, OrderResult
from fundarb_core.execution.telemetry import Telemetry
from fundarb_core.model import PositionStatus
from fundarb_core.venues import PositionSnapshot

__all__ = ["CloseExecutor", "ClosePolicy", "CloseRequest", "CloseResult", "LegRef", "Urgency"]

ZERO = Decimal(0)
EMERGENCY_ROUNDS = 2  # emergency passes over legs still open after the policy ran, before CLOSE_FAILED


class Urgency(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"  # close now, but both legs are there: the policy may still go maker-first, shorter
    EMERGENCY = "emergency"  # flatten at once


@attrs.frozen
class LegRef:
    """Where a leg lives: a venue and a canonical symbol."""

    venue: str
    symbol: str


@attrs.frozen
class CloseRequest:
    """What a close policy sees: the position's legs with their live snapshots, why, and how urgently."""

    position_id: str
    snapshots: Mapping[LegRef, PositionSnapshot]
    reason: str
    urgency: Urgency
    attempt: int = 1


@runtime_checkable
class ClosePolicy(Protocol):
    """Turns a close request into leg specs. Registered through `fundarb_register_close_policies`."""

    def close_specs(self, request: CloseRequest) -> Sequence[CloseLegSpec]:
        """Specs for a normal exit, one per open leg (side and quantity from the snapshot)."""
        ...

    def emergency_spec(self, request: CloseRequest, leg: LegRef) -> CloseLegSpec:
        """The spec that flattens one surviving leg at once."""
        ...


@attrs.frozen
class CloseResult:
    position_id: str
    status: PositionStatus
    emergency: bool
    results: tuple[OrderResult, ...]
    open_exposure: Mapping[LegRef, Decimal]  # signed quantities still open (empty when closed)
    telemetry: Telemetry
    reason: str

    @property
    def closed(self) -> bool:
        return self.status is PositionStatus.CLOSED


class CloseExecutor:
    """Closes positions through an `OrderExecutor` under a `ClosePolicy`."""

    def __init__(
        self,
        orders: OrderExecutor,
        policy: ClosePolicy,
        *,
        severe_imbalance: Decimal = Decimal("0.05"),
        emit: Emit = null_emit,
    ) -> None:
        self.orders = orders
        self.policy = policy
        self.severe_imbalance = severe_imbalance
        self.emit = emit

    async def snapshots(self, legs: Sequence[LegRef]) -> tuple[dict[LegRef, PositionSnapshot], dict[LegRef, str]]:
        """Live snapshots of every leg, fetched concurrently (transient errors retried); and the legs unreachable."""

        async def one(leg: LegRef) -> PositionSnapshot:
            venue = self.orders.venues[leg.venue]
            return await self.orders.call(f"snapshot {leg}", lambda: venue.get_position_snapshot(leg.symbol))

        outcomes = await asyncio.gather(*(one(leg) for leg in legs), return_exceptions=True)
        snaps: dict[LegRef, PositionSnapshot] = {}
        errors: dict[LegRef, str] = {}
        for leg, outcome in zip(legs, outcomes, strict=True):
            if isinstance(outcome, VenueError):
                errors[leg] = str(outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                snaps[leg] = outcome
        return snaps, errors

    def is_emergency(self, snapshots: Mapping[LegRef, PositionSnapshot], urgency: Urgency) -> bool:
        """A missing leg, a severe imbalance, or an emergency request."""
        if urgency is Urgency.EMERGENCY:
            return True
        sizes = [abs(s.quantity) for s in snapshots.values()]
        if not sizes:
            return False
        if any(q == 0 for q in sizes):
            return True
        largest = max(sizes)
        return (largest - min(sizes)) / largest > self.severe_imbalance

    async def _run(self, specs: Sequence[CloseLegSpec], position_id: str) -> list[OrderResult]:
        if not specs:
            return []
        # Every close order belongs to its position (the journal and the PnL find it by this).
        specs = [attrs.evolve(spec, position_id=position_id) for spec in specs]
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self.orders.execute(spec)) for spec in specs]
        return [t.result() for t in tasks]

    async def close(
        self,
        position_id: str,
        legs: Sequence[LegRef],
        reason: str,
        urgency: Urgency = Urgency.NORMAL,
        *,
        attempt: int = 1,
    ) -> CloseResult:
        """Close every leg of a position; see the module docstring for the three paths."""
        clock = self.orders.clock
        decision_at = clock.monotonic()
        log = logger.bind(position=position_id)
        results: list[OrderResult] = []
        snaps, unreachable = await self.snapshots(legs)
        live = {leg: s for leg, s in snaps.items() if s.quantity != 0}
        if unreachable and not any(s.quantity == 0 for s in snaps.values()):
            # A leg we cannot see may still be open: closing the others would leave us naked. Wait and retry.
            exposure = {leg: s.quantity for leg, s in live.items()}
            why = "; ".join(f"{leg.venue} unreachable: {err}" for leg, err in unreachable.items())
            return self._failed(position_id, exposure, results, decision_at, reason, why, emergency=False)
        emergency = self.is_emergency(snaps, urgency) or bool(unreachable)
        if live:
            request = CloseRequest(position_id, snaps, reason, urgency, attempt)
            if emergency:
                log.warning("emergency close ({}): flattening {}", reason, ", ".join(map(str, live)))
                specs = [self.policy.emergency_spec(request, leg) for leg in live]
            else:
                specs = list(self.policy.close_specs(request))
            results += await self._run(specs, position_id)
            # Partial close: whatever is still open is finished as an emergency (flat legs are left alone).
            for round_ in range(EMERGENCY_ROUNDS + 1):
                snaps, unreachable = await self.snapshots(legs)
                live = {leg: s for leg, s in snaps.items() if s.quantity != 0}
                if not live or round_ == EMERGENCY_ROUNDS:
                    break
                emergency = True
                log.warning("legs still open after close ({}); emergency round {}", list(live), round_ + 1)
                request = CloseRequest(position_id, snaps, reason, Urgency.EMERGENCY, attempt)
                specs = [
                    attrs.evolve(
                        self.policy.emergency_spec(request, leg),
                        intent_id=f"{position_id}:close{attempt}:e{round_}:{leg.venue}",
                    )
                    for leg in live
                ]
                results += await self._run(specs, position_id)
        if unreachable:
            why = "; ".join(f"{leg.venue} unreachable: {err}" for leg, err in unreachable.items())
            exposure = {leg: s.quantity for leg, s in live.items()}
            return self._failed(position_id, exposure, results, decision_at, reason, why, emergency)
        telemetry = Telemetry.from_results(results, decision_at, clock.monotonic())
        if live:
            exposure = {leg: s.quantity for leg, s in live.items()}
            return self._failed(position_id, exposure, results, decision_at, reason, "legs still open", emergency)
        result = CloseResult(position_id, PositionStatus.CLOSED, emergency, tuple(results), {}, telemetry, reason)
        self.emit(
            Event(
                EventKind.POSITION_CLOSED,
                clock.now(),
                {"position_id": position_id, "reason": reason, "emergency": emergency, **telemetry.as_dict()},
            )
        )
        return result

    def _failed(
        self,
        position_id: str,
        exposure: Mapping[LegRef, Decimal],
        results: list[OrderResult],
        decision_at: float,
        reason: str,
        why: str,
        emergency: bool = True,
    ) -> CloseResult:
        clock = self.orders.clock
        telemetry = Telemetry.from_results(results, decision_at, clock.monotonic())
        logger.bind(position=position_id).error("close failed: {}; open exposure {}", why, dict(exposure))
        self.emit(
            Event(
                EventKind.ALERT,
                clock.now(),
                {
                    "position_id": position_id,
                    "alert": "close_failed",
                    "why": why,
                    "open_exposure": {f"{k.venue}:{k.symbol}": str(v) for k, v in exposure.items()},
                },
            )
        )
        return CloseResult(
            position_id, PositionStatus.CLOSE_FAILED, emergency, tuple(results), dict(exposure), telemetry, reason
        )
