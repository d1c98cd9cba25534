"""The transfer-route contract: the tests every transfer handler (route) runs against itself.

A route plugin proves it is a resumable, idempotent state machine by subclassing `TransferRouteContract` in its
tests and providing a `rig` fixture: the route under test, on a `SimClock`, with two venues whose balances the suite
can read::

    from fundarb_core.testing.transfers import TransferRig, TransferRouteContract

    class TestAcmeRoute(TransferRouteContract):
        @pytest.fixture
        def rig(self):
            clock = SimClock()
            ...                                   # venues (fakes or sim venues) and the route
            return TransferRig(clock=clock, route=route, balance=lambda venue: ..., approvals_needed=0)

The suite drives transfers the way `TransferService` does — each step's state stored (here: kept) before the next
is asked for, waits slept through in simulated time, approvals given when asked — and checks that:

- a transfer completes: `confirmed`, the amount left the source once and reached the target once;
- states only move forward (`fundarb_core.store.TRANSITIONS`) and never to `cancelled` (only an operator cancels,
  and only before submission);
- no funds move while the stored state is still cancellable (`requested`, `awaiting_approval`): a route stores
  `submitted` before asking a venue to move anything;
- asking the route again at any stored state (a crash lost its answer) never moves funds twice;
- a stale record (read before a later step) moves nothing;
- nothing moves while an approval the route asked for has not been given.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

import attrs
import pytest

from fundarb_core.actions.transfers import TransferHandler, TransferStep
from fundarb_core.clock import SimClock
from fundarb_core.model.records import TransferRecord, TransferState
from fundarb_core.store._transfers import CANCELLABLE, TRANSITIONS

__all__ = ["TransferRig", "TransferRouteContract"]

T = TransferState
MAX_STEPS = 40


@attrs.define
class TransferRig:
    """The route under test and what the suite needs around it."""

    clock: SimClock
    route: TransferHandler
    balance: Callable[[str], Decimal]  # what a venue holds now, in the transfer's asset
    from_venue: str = "alpha"
    to_venue: str = "beta"
    amount: Decimal = Decimal(100)
    asset: str = "USD"
    route_name: str = "route"
    approvals_needed: int = 0  # approvals the route asks for at this amount


@attrs.define
class Drive:
    """One transfer driven to its end, with what the suite saw."""

    record: TransferRecord
    states: list[TransferState] = attrs.field(factory=list)
    approvals: int = 0
    asked_approval: int = 0


class TransferRouteContract:
    """Subclass with a `rig` fixture (see the module docstring). Every test carries the `transfer_contract` marker."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.transfer_contract]

    @pytest.fixture
    def rig(self) -> TransferRig:
        raise NotImplementedError("a TransferRouteContract subclass provides the `rig` fixture")

    # -- the driver ------------------------------------------------------------------------------------------

    @staticmethod
    def new_transfer(rig: TransferRig) -> TransferRecord:
        now = rig.clock.now()
        tid = uuid.uuid4().hex
        return TransferRecord(
            tid, f"contract-{tid}", rig.route_name, rig.from_venue, rig.to_venue, rig.asset, rig.amount,
            created_at=now, updated_at=now,
        )  # fmt: skip

    @staticmethod
    def store(record: TransferRecord, step: TransferStep, rig: TransferRig) -> TransferRecord:
        """What `TransferService` stores for a step: the state (checked against TRANSITIONS) and reference."""
        if step.state is not record.state:
            assert step.state in TRANSITIONS[record.state], (
                f"{record.state.value} → {step.state.value} is not a forward move"
            )
            return attrs.evolve(
                record,
                state=step.state,
                reference=step.reference or record.reference,
                error=step.error,
                updated_at=rig.clock.now(),
            )
        if step.reference and step.reference != record.reference:
            return attrs.evolve(record, reference=step.reference)
        return record

    async def drive(self, rig: TransferRig, *, redrive: int = 0, approve: bool = True) -> Drive:
        """Drive a new transfer to its end (or until it waits for an approval when `approve` is False).

        `redrive`: at every stored state, ask the route that many extra times first and drop the answers, as if
        a crash had lost them.
        """
        seen = Drive(self.new_transfer(rig))
        for _ in range(MAX_STEPS):
            record = seen.record
            if record.state.final:
                return seen
            seen.states.append(record.state)
            held = (rig.balance(rig.from_venue), rig.balance(rig.to_venue))
            for _ in range(redrive):
                await rig.route.advance(record, approvals=seen.approvals)
            step = await rig.route.advance(record, approvals=seen.approvals)
            if record.state in CANCELLABLE:
                assert (rig.balance(rig.from_venue), rig.balance(rig.to_venue)) == held, (
                    f"funds moved while the stored state was {record.state.value} (still cancellable): "
                    "store `submitted` first, then move funds"
                )
            assert step.state is not T.CANCELLED, "a route never cancels a transfer"
            seen.record = self.store(record, step, rig)
            if step.approval is not None:
                seen.asked_approval += 1
                if not approve:
                    return seen
                seen.approvals += 1
            elif step.wait_until is not None:
                assert step.wait_until > rig.clock.now() or seen.record.state is not record.state
                await rig.clock.sleep_until(step.wait_until)
            elif seen.record is record:
                raise AssertionError(f"the route made no progress from {record.state.value}")
        raise AssertionError(f"the transfer did not end in {MAX_STEPS} steps: {seen.states}")

    def run(self, rig: TransferRig, coro: Any) -> Any:
        return asyncio.run(rig.clock.run(coro))

    # -- the tests -------------------------------------------------------------------------------------------

    def test_a_transfer_completes_and_moves_the_amount_once(self, rig: TransferRig) -> None:
        source, target = rig.balance(rig.from_venue), rig.balance(rig.to_venue)
        seen = self.run(rig, self.drive(rig))
        assert seen.record.state is T.CONFIRMED, f"ended {seen.record.state.value}: {seen.record.error}"
        assert rig.balance(rig.from_venue) == source - rig.amount
        assert rig.balance(rig.to_venue) == target + rig.amount
        assert seen.asked_approval == rig.approvals_needed

    def test_asking_again_at_every_state_never_moves_funds_twice(self, rig: TransferRig) -> None:
        source, target = rig.balance(rig.from_venue), rig.balance(rig.to_venue)
        seen = self.run(rig, self.drive(rig, redrive=2))
        assert seen.record.state is T.CONFIRMED
        assert rig.balance(rig.from_venue) == source - rig.amount
        assert rig.balance(rig.to_venue) == target + rig.amount

    def test_a_stale_record_moves_nothing(self, rig: TransferRig) -> None:
        async def go() -> Drive:
            seen = await self.drive(rig)
            before = rig.balance(rig.from_venue), rig.balance(rig.to_venue)
            for state in seen.states:  # each state the transfer passed, as a process that read it then sees it
                stale = attrs.evolve(seen.record, state=state)
                await rig.route.advance(stale, approvals=seen.approvals)
            assert (rig.balance(rig.from_venue), rig.balance(rig.to_venue)) == before
            return seen

        assert self.run(rig, go()).record.state is T.CONFIRMED

    def test_nothing_moves_before_an_approval_it_asked_for(self, rig: TransferRig) -> None:
        if rig.approvals_needed == 0:
            pytest.skip("this route asks for no approval at this amount")
        source, target = rig.balance(rig.from_venue), rig.balance(rig.to_venue)
        seen = self.run(rig, self.drive(rig, approve=False))
        assert seen.asked_approval == 1
        assert seen.record.state in (T.REQUESTED, T.AWAITING_APPROVAL)
        assert (rig.balance(rig.from_venue), rig.balance(rig.to_venue)) == (source, target)
