"""Closing a position from live snapshots: normal, emergency and partial exits; and reducing both legs.

- Normal exit: every leg present and balanced → all legs closed concurrently under the close policy.
- Emergency exit: a leg gone (liquidated, closed by hand) or a severe imbalance → the survivors are flattened at
  once with the policy's emergency spec, without waiting on the missing leg.
- Partial close: a leg still open after the policy ran is finished as an emergency; a flat leg is never reopened
  (only reduce-only orders are ever sent here). If a leg still cannot be flattened the result is `CLOSE_FAILED`
  with the open exposure and why; the caller records it and the next attempt starts again from live snapshots.
- Reduction: the same quantity shed from every leg under the policy's pricing, a leg that shed less topped up at
  market so the pair stays balanced.

Policies describe what to send; the intent ids (and so the client order ids) are stamped here, from the position,
the close attempt and the action (`fundarb_core.execution.ids`).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import attrs
from loguru import logger

from fundarb_core.errors import VenueError
from fundarb_core.execution import ids
from fundarb_core.execution.gateway import LegRef, VenueGateway
from fundarb_core.execution.order_executor import OrderExecutor
from fundarb_core.execution.specs import CloseLegSpec, OrderResult
from fundarb_core.execution.telemetry import Telemetry
from fundarb_core.model import ExecutionMode, PositionStatus, Side
from fundarb_core.venues import PositionSnapshot

__all__ = [
    "CloseExecutor",
    "ClosePolicy",
    "CloseRequest",
    "CloseResult",
    "LegRef",
    "ReduceResult",
    "Urgency",
]

ZERO = Decimal(0)
EMERGENCY_ROUNDS = 2  # emergency passes over legs still open after the policy ran, before CLOSE_FAILED


class Urgency(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"  # close now, but both legs are there: the policy may still go maker-first, shorter
    EMERGENCY = "emergency"  # flatten at once


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
    """Turns a close request into leg specs. Registered through `fundarb_register_close_policies`.

    Specs carry venue, symbol, side, quantity and how to execute; not an `intent_id` (the executor stamps it, and
    ignores one a policy sets).
    """

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
    why: str = ""  # what kept a failed close from finishing

    @property
    def closed(self) -> bool:
        return self.status is PositionStatus.CLOSED


@attrs.frozen
class ReduceResult:
    """What a reduction shed per venue, and what went wrong on the way."""

    filled: Mapping[str, Decimal]
    errors: tuple[str, ...] = ()

    @property
    def even(self) -> bool:
        return len(set(self.filled.values())) <= 1


def _stamped(spec: CloseLegSpec, intent_id: str, request: CloseRequest, seen_at: float) -> CloseLegSpec:
    """`spec` with its intent (whatever the policy set), its position (every close order belongs to its position:
    the journal and the PnL find it by this) and the leg's position in the request, asked for at `seen_at`."""
    snap = request.snapshots.get(LegRef(spec.venue, spec.symbol))
    return attrs.evolve(
        spec,
        intent_id=intent_id,
        position_id=request.position_id,
        seen_quantity=None if snap is None else snap.quantity,
        seen_at=seen_at,
    )


class CloseExecutor:
    """Closes and reduces positions through an `OrderExecutor` under a `ClosePolicy`."""

    def __init__(
        self, orders: OrderExecutor, policy: ClosePolicy, *, severe_imbalance: Decimal = Decimal("0.05")
    ) -> None:
        self.orders = orders
        self.policy = policy
        self.severe_imbalance = severe_imbalance

    @property
    def gateway(self) -> VenueGateway:
        return self.orders.gateway

    async def snapshots(self, legs: Sequence[LegRef]) -> tuple[dict[LegRef, PositionSnapshot], dict[LegRef, str]]:
        """Live snapshots of every leg (see `VenueGateway.snapshots`)."""
        return await self.gateway.snapshots(legs)

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

    async def _run(
        self, specs: Sequence[CloseLegSpec], legs: Sequence[LegRef] = ()
    ) -> tuple[list[OrderResult], dict[LegRef, PositionSnapshot], dict[LegRef, str]]:
        """Execute every leg at once, then snapshot each of `legs` (the snapshots after the close): a leg with an
        order in its own task as soon as its order is done (another venue's order cannot change it), the others
        at once. Returns the results (in `specs` order), the snapshots and the legs unreachable. The first job runs
        in this task, the others in the group's tasks (one task fewer to schedule; the same concurrency); a leg
        that raises cancels the others, as any TaskGroup does (a venue error of a snapshot is not raised: the leg
        is unreachable)."""
        refs = [LegRef(spec.venue, spec.symbol) for spec in specs]
        targets: dict[LegRef, int] = {}
        for leg in refs:
            targets[leg] = targets.get(leg, 0) + 1
        traded = {spec.venue for spec in specs}
        wanted = set(legs)
        # A leg its one order closes is snapshotted right after that order; a leg on a venue with no order, at once;
        # anything else (two orders on one leg, a spec not naming the leg's symbol) after every order, as before.
        jobs: list[tuple[CloseLegSpec | None, LegRef | None]] = [
            (spec, leg if leg in wanted and targets[leg] == 1 else None) for spec, leg in zip(specs, refs, strict=True)
        ]
        jobs += [(None, leg) for leg in legs if leg.venue not in traded]
        after = [leg for leg in legs if leg.venue in traded and targets.get(leg) != 1]
        if not jobs:
            return [], {}, {}

        async def job(spec: CloseLegSpec | None, leg: LegRef | None) -> tuple[OrderResult | None, Any]:
            result = await self.orders.execute(spec) if spec is not None else None
            if leg is None:
                return result, None
            try:
                return result, await self.gateway.snapshot(leg)
            except VenueError as exc:
                return result, exc

        async with asyncio.TaskGroup() as group:
            others = [group.create_task(job(*j)) for j in jobs[1:]]
            first = await job(*jobs[0])
        results: list[OrderResult] = []
        snaps: dict[LegRef, PositionSnapshot] = {}
        unreachable: dict[LegRef, str] = {}
        for (_, ref), (result, snap) in zip(jobs, [first, *(t.result() for t in others)], strict=True):
            if result is not None:
                results.append(result)
            if ref is None:
                continue
            if isinstance(snap, VenueError):
                unreachable[ref] = str(snap)
            else:
                snaps[ref] = snap
        if after:
            late, late_unreachable = await self.snapshots(after)
            snaps.update(late)
            unreachable.update(late_unreachable)
        return results, {leg: snaps[leg] for leg in legs if leg in snaps}, unreachable

    def _normal_specs(self, request: CloseRequest, seen_at: float) -> list[CloseLegSpec]:
        return [
            _stamped(spec, ids.close_intent(request.position_id, request.attempt, spec.venue), request, seen_at)
            for spec in self.policy.close_specs(request)
        ]

    def _emergency_spec(
        self, request: CloseRequest, leg: LegRef, seen_at: float, round_: int | None = None
    ) -> CloseLegSpec:
        spec = self.policy.emergency_spec(request, leg)
        if round_ is None:
            intent = ids.close_intent(request.position_id, request.attempt, leg.venue, emergency=True)
        else:
            intent = ids.emergency_round_intent(request.position_id, request.attempt, round_, leg.venue)
        return _stamped(spec, intent, request, seen_at)

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
        results: list[OrderResult] = []
        seen_at = decision_at  # when the snapshots the specs are sized from were asked for (no later: conservative)
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
                logger.bind(position=position_id).warning(
                    "emergency close ({}): flattening {}", reason, ", ".join(map(str, live))
                )
                specs = [self._emergency_spec(request, leg, seen_at) for leg in live]
            else:
                specs = self._normal_specs(request, seen_at)
            seen_at = clock.monotonic()  # the snapshots after the orders are asked for later than this
            done, snaps, unreachable = await self._run(specs, legs)
            results += done
            # Partial close: whatever is still open is finished as an emergency (flat legs are left alone).
            for round_ in range(EMERGENCY_ROUNDS + 1):
                live = {leg: s for leg, s in snaps.items() if s.quantity != 0}
                if not live or round_ == EMERGENCY_ROUNDS:
                    break
                emergency = True
                logger.bind(position=position_id).warning(
                    "legs still open after close ({}); emergency round {}", list(live), round_ + 1
                )
                request = CloseRequest(position_id, snaps, reason, Urgency.EMERGENCY, attempt)
                specs = [self._emergency_spec(request, leg, seen_at, round_) for leg in live]
                seen_at = clock.monotonic()
                done, snaps, unreachable = await self._run(specs, legs)
                results += done
        if unreachable:
            why = "; ".join(f"{leg.venue} unreachable: {err}" for leg, err in unreachable.items())
            exposure = {leg: s.quantity for leg, s in live.items()}
            return self._failed(position_id, exposure, results, decision_at, reason, why, emergency)
        telemetry = Telemetry.from_results(results, decision_at, clock.monotonic())
        if live:
            exposure = {leg: s.quantity for leg, s in live.items()}
            return self._failed(position_id, exposure, results, decision_at, reason, "legs still open", emergency)
        return CloseResult(position_id, PositionStatus.CLOSED, emergency, tuple(results), {}, telemetry, reason)

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
        return CloseResult(
            position_id, PositionStatus.CLOSE_FAILED, emergency, tuple(results), dict(exposure), telemetry, reason, why
        )

    # -- reductions --------------------------------------------------------------------------------------------

    async def reduce(
        self,
        position_id: str,
        snapshots: Mapping[LegRef, PositionSnapshot],
        plan: Mapping[str, tuple[Side, Decimal]],
        reason: str,
        *,
        action_id: str,
    ) -> ReduceResult:
        """Shed `plan` (venue → side, quantity) from every leg at once under the policy's normal pricing; then top
        up at market a leg that shed less than another, so the pair stays balanced. Intents derive from
        `action_id`: a resumed reduction asks for the same orders instead of sending them again."""
        legs = list(snapshots)
        request = CloseRequest(position_id, snapshots, reason or "reduce", Urgency.NORMAL)
        policy_specs = {s.venue: s for s in self.policy.close_specs(request)}
        specs = []
        for leg in legs:
            side, qty = plan[leg.venue]
            spec = CloseLegSpec(venue=leg.venue, symbol=leg.symbol, side=side, quantity=qty)
            base = policy_specs.get(leg.venue)
            if base is not None:
                # The policy's pricing and timing, our quantity: the planned whole, not what is left (as a close's).
                spec = attrs.evolve(base, side=side, quantity=qty, remaining_only=False)
            specs.append(attrs.evolve(spec, intent_id=ids.reduce_intent(action_id, leg.venue), position_id=position_id))
        outcomes = await asyncio.gather(*(self.orders.execute(spec) for spec in specs), return_exceptions=True)
        filled: dict[str, Decimal] = {}
        errors: list[str] = []
        for spec, outcome in zip(specs, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome  # cancellation or a process dying: not ours to swallow
                errors.append(f"{spec.venue}: {outcome}")
                filled[spec.venue] = ZERO
            else:
                filled[spec.venue] = outcome.filled_qty
                if outcome.error and not outcome.filled_qty:
                    errors.append(f"{spec.venue}: {outcome.error}")
        if len(legs) == 2 and filled[legs[0].venue] != filled[legs[1].venue]:
            big, small = sorted(legs, key=lambda leg: filled[leg.venue], reverse=True)
            fix = CloseLegSpec(
                venue=small.venue,
                symbol=small.symbol,
                side=plan[small.venue][0],
                quantity=filled[big.venue] - filled[small.venue],
                intent_id=ids.reduce_fix_intent(action_id, small.venue),
                position_id=position_id,
                mode=ExecutionMode.MARKET_ONLY,
            )
            try:
                extra = await self.orders.execute(fix)
                filled[small.venue] += extra.filled_qty
            except Exception as exc:
                errors.append(f"{small.venue} balancing: {exc}")
        return ReduceResult(filled, tuple(errors))
