"""What an action handler may do, as small typed ports passed in its `ActionContext` — never the Bot.

- `ClosePort`: close a stored position (the bot's close: CLOSING with its attempt before any order, the close
  policy, emergency rounds, PnL). Implemented by `fundarb_core.positions.PositionBook`.
- `ReducePort`: see a position's legs, shed part of both, record the reduction once. Also the `PositionBook`.
- `OpenPort`: open a new position now — a chosen pair or the best opportunity — under the scanner's limits.
  Implemented by the strategy's opener (`fundarb_core.strategy.opener.Opener`).
- `TransferPort`: request and drive transfers between venues (`fundarb_core.actions.transfers.TransferService`).

A third-party handler that needs one of these reads it from the context and fails clearly (`ActionFailed`) when the
running process does not offer it (a CLI tool without a bot, say).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol, runtime_checkable

from fundarb_core.actions.outcomes import AwaitApproval, Wait
from fundarb_core.execution import LegRef, ReduceResult, Urgency
from fundarb_core.model import ExitReason, Side
from fundarb_core.model.records import PositionRecord, TransferRecord
from fundarb_core.venues import PositionSnapshot

__all__ = ["ClosePort", "OpenPort", "ReducePort", "TransferPort"]


@runtime_checkable
class ClosePort(Protocol):
    async def close_by_id(self, position_id: str, reason: ExitReason, urgency: Urgency) -> PositionRecord:
        """Close both legs of the stored position; return it as it is after the attempt (CLOSED or not)."""
        ...


@runtime_checkable
class ReducePort(Protocol):
    async def reload(self, position_id: str) -> PositionRecord: ...

    async def snapshots(self, position: PositionRecord) -> tuple[dict[LegRef, PositionSnapshot], list[str]]:
        """Live snapshots of both legs, and the venues that cannot be seen now."""
        ...

    def step(self, position: PositionRecord) -> Decimal:
        """The coarser of the two venues' quantity steps."""
        ...

    async def shed(
        self,
        position: PositionRecord,
        snapshots: Mapping[LegRef, PositionSnapshot],
        plan: Mapping[str, tuple[Side, Decimal]],
        reason: str,
        *,
        action_id: str,
    ) -> ReduceResult:
        """Send the reduction (venue → side, quantity) with intents derived from `action_id`."""
        ...

    async def record_reduction(
        self, position_id: str, shed: Mapping[str, Decimal], *, level: str | None = None, action_id: str | None = None
    ) -> PositionRecord:
        """Store what was shed, once per `action_id`."""
        ...


@runtime_checkable
class OpenPort(Protocol):
    async def open_for_action(
        self,
        position_id: str,
        *,
        pair: tuple[str, str, str] | None = None,
        size_usd: Decimal | None = None,
        exclude: tuple[str, str, str] | None = None,
    ) -> PositionRecord | str:
        """Open the chosen pair, or the best opportunity now, under `position_id`; or say why nothing opened."""
        ...


@runtime_checkable
class TransferPort(Protocol):
    def route_for(self, from_venue: str, to_venue: str, asset: str, route: str | None = None) -> str: ...

    async def drive(self, transfer: TransferRecord, *, approvals: int) -> TransferRecord | Wait | AwaitApproval:
        """Take the transfer's next steps: the record when it settled or failed, else when to look again."""
        ...
