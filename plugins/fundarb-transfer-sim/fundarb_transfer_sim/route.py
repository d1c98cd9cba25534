"""The sim route: a resumable state machine over the sim venues' keyed withdrawals and deposits."""

from __future__ import annotations

import random
from decimal import Decimal

from fundarb_core.actions import ActionContext, ActionFailed, TransferStep
from fundarb_core.errors import VenueRejected
from fundarb_core.model.records import TransferRecord, TransferState
from fundarb_core.venues.sim import SimVenue, stable_seed
from fundarb_transfer_sim.config import SimTransferConfig

__all__ = ["SimTransferRoute"]

T = TransferState


class SimTransferRoute:
    """requested → submitted → withdrawn → in_flight (for `delay`) → deposited → confirmed."""

    def __init__(self, config: SimTransferConfig, context: ActionContext) -> None:
        self.config = config
        self.context = context

    def _sim(self, name: str) -> SimVenue | None:
        venue = self.context.venues.get(name)
        if getattr(venue, "kind", None) != "sim" or not hasattr(venue, "withdraw"):
            return None  # a sim venue (or a wrapper of one, as tests use): keyed withdrawals and deposits
        if self.config.venues and name not in self.config.venues:
            return None
        return venue  # type: ignore[return-value]

    def _venue(self, name: str) -> SimVenue:
        venue = self._sim(name)
        if venue is None:
            raise ActionFailed(f"the sim transfer route does not serve venue {name!r}")
        return venue

    def serves(self, from_venue: str, to_venue: str, asset: str) -> bool:
        return self._sim(from_venue) is not None and self._sim(to_venue) is not None

    def _fails(self, transfer: TransferRecord) -> bool:
        if self.config.fail_probability == 0:
            return False
        draw = random.Random(stable_seed(self.config.seed, "transfer", transfer.idempotency_key)).random()
        return Decimal(repr(draw)) < self.config.fail_probability

    async def advance(self, transfer: TransferRecord, *, approvals: int) -> TransferStep:
        now = self.context.clock.now()
        reference = f"sim-{transfer.id[:12]}"
        if transfer.state in (T.REQUESTED, T.AWAITING_APPROVAL):
            source, target = self._sim(transfer.from_venue), self._sim(transfer.to_venue)
            if source is None or target is None:  # before anything moves: never strand funds in flight
                missing = transfer.from_venue if source is None else transfer.to_venue
                return TransferStep(T.FAILED, error=f"the sim transfer route does not serve venue {missing!r}")
            if self._fails(transfer):
                return TransferStep(T.FAILED, error="simulated failure: the source venue refused the withdrawal")
            # The intent is stored (submitted) before the withdrawal: from here the transfer cannot be cancelled.
            return TransferStep(T.SUBMITTED, reference=reference)
        if transfer.state is T.SUBMITTED:
            source = self._venue(transfer.from_venue)
            if "withdrawn" not in source.transfers.get(transfer.id, {}):  # not done before a crash
                try:
                    source.withdraw(transfer.id, transfer.amount)
                except VenueRejected as exc:
                    return TransferStep(T.FAILED, error=str(exc))  # refused: nothing left the source
            return TransferStep(T.WITHDRAWN, reference=reference)
        if transfer.state is T.WITHDRAWN:
            return TransferStep(T.IN_FLIGHT, wait_until=now + self.config.delay)
        if transfer.state is T.IN_FLIGHT:
            arrives = transfer.updated_at + self.config.delay
            if now < arrives:
                return TransferStep(T.IN_FLIGHT, wait_until=arrives)
            self._venue(transfer.to_venue).deposit(transfer.id, transfer.amount)
            return TransferStep(T.DEPOSITED)
        if transfer.state is T.DEPOSITED:
            return TransferStep(T.CONFIRMED)
        return TransferStep(transfer.state)
