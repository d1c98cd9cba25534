"""The manual route: requested → awaiting_approval → submitted → withdrawn → confirmed, each step after an
operator's approval."""

from __future__ import annotations

from fundarb_core.actions import ActionContext, TransferStep
from fundarb_core.errors import VenueRejected
from fundarb_core.model.records import TransferRecord, TransferState
from fundarb_core.venues.sim import SimVenue
from fundarb_transfer_manual.config import ManualTransferConfig

__all__ = ["ManualTransferRoute"]

T = TransferState


class ManualTransferRoute:
    """Tracks a transfer an operator makes by hand; approvals are counted by the action journal."""

    def __init__(self, config: ManualTransferConfig, context: ActionContext) -> None:
        self.config = config
        self.context = context

    def serves(self, from_venue: str, to_venue: str, asset: str) -> bool:
        return True  # an operator can move anything anywhere

    def _needs_approval(self, transfer: TransferRecord) -> bool:
        return transfer.amount > self.config.approval_limit

    def _sims(self, transfer: TransferRecord) -> tuple[SimVenue, SimVenue] | None:
        source = self.context.venues.get(transfer.from_venue)
        target = self.context.venues.get(transfer.to_venue)
        if all(getattr(v, "kind", None) == "sim" and hasattr(v, "withdraw") for v in (source, target)):
            return source, target  # type: ignore[return-value]
        return None

    async def advance(self, transfer: TransferRecord, *, approvals: int) -> TransferStep:
        what = f"{transfer.amount} {transfer.asset} from {transfer.from_venue} to {transfer.to_venue}"
        gated = self._needs_approval(transfer)
        sims = self._sims(transfer)
        if transfer.state is T.REQUESTED:
            if gated and approvals < 1:
                return TransferStep(T.AWAITING_APPROVAL, approval=f"send {what}, then approve")
            return TransferStep(T.SUBMITTED, reference="manual")
        if transfer.state is T.AWAITING_APPROVAL:
            if approvals < 1:
                return TransferStep(T.AWAITING_APPROVAL, approval=f"send {what}, then approve")
            # The operator sent it: stored as submitted first, so the step cannot be cancelled any more.
            return TransferStep(T.SUBMITTED, reference="manual")
        if transfer.state is T.SUBMITTED:
            return self._withdrawn(transfer, sims)
        if transfer.state is T.WITHDRAWN:
            if gated and approvals < 2:
                return TransferStep(T.WITHDRAWN, approval=f"approve once {what} is credited on {transfer.to_venue}")
            if sims is not None:
                sims[1].deposit(transfer.id, transfer.amount)
            return TransferStep(T.CONFIRMED)
        return TransferStep(transfer.state)

    def _withdrawn(self, transfer: TransferRecord, sims: tuple[SimVenue, SimVenue] | None) -> TransferStep:
        if sims is not None:  # paper trading: the approved step moves the sim balance (once, by transfer id)
            try:
                sims[0].withdraw(transfer.id, transfer.amount)
            except VenueRejected as exc:
                return TransferStep(T.FAILED, error=str(exc))
        return TransferStep(T.WITHDRAWN, reference="manual")
