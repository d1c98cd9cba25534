"""Where execution records order intents before sending them (the store implements this)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from fundarb_core.model import TimeInForce
from fundarb_core.venues import OrderState

if TYPE_CHECKING:
    from fundarb_core.execution.specs import OrderSpec

__all__ = ["NULL_JOURNAL", "NullJournal", "OrderJournal"]


class OrderJournal(Protocol):
    """Durable record of orders: the intent is written before the order is sent."""

    async def record_intent(
        self, spec: OrderSpec, client_order_id: str, *, market: bool, price: Decimal, time_in_force: TimeInForce
    ) -> bool | None:
        """Write the intent (before the order is sent); `price` is the limit or a market order's worst price.

        True when it was journalled before (an execution resumed after a restart): the order may have reached the
        venue then, and the executor asks the venue for it before sending anything (a venue may take a client id
        again once its first order is done). False or None: a new intent.
        """
        ...

    async def record_state(self, state: OrderState) -> None: ...


class NullJournal:
    """Records nothing (tests, benchmarks)."""

    async def record_intent(
        self, spec: OrderSpec, client_order_id: str, *, market: bool, price: Decimal, time_in_force: TimeInForce
    ) -> None:
        return None

    async def record_state(self, state: OrderState) -> None:
        return None


NULL_JOURNAL = NullJournal()
