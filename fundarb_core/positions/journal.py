"""The order journal backed by the store: every intent durable before its order is sent."""

from __future__ import annotations

from decimal import Decimal

from fundarb_core.errors import StoreError
from fundarb_core.execution import OrderSpec
from fundarb_core.model import OrderType, TimeInForce
from fundarb_core.store import Store
from fundarb_core.venues import OrderState

__all__ = ["StoreJournal"]

_WRITTEN_WINDOW = 256  # orders remembered: far more than run at once


class StoreJournal:
    """The `OrderJournal` of a running bot: intents and states in the store's orders table."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # The states last written, per order (a bounded window): an execution journals a market order's state when
        # the venue answers and again when it settles; the very same state object is written once. A write that
        # failed is not remembered, so the next report of that order tries again.
        self._written: dict[str, OrderState] = {}

    async def record_intent(
        self, spec: OrderSpec, client_order_id: str, *, market: bool, price: Decimal, time_in_force: TimeInForce
    ) -> bool:
        if await self.store.orders.get(client_order_id) is not None:
            return True  # re-running an intent after a restart: the executor asks the venue before sending
        await self.store.orders.record_intent(
            client_order_id=client_order_id,
            venue=spec.venue,
            symbol=spec.symbol,
            side=spec.side,
            quantity=spec.quantity,
            price=price,
            order_type=OrderType.MARKET if market else OrderType.LIMIT,
            time_in_force=time_in_force,
            reduce_only=spec.reduce_only,
            position_id=spec.position_id,
        )
        return False

    async def journalled(self, client_order_id: str) -> bool:
        """Whether an order with this id was journalled (by this process or an earlier one)."""
        return await self.store.orders.get(client_order_id) is not None

    async def record_state(self, state: OrderState) -> None:
        cid = state.client_order_id
        if self._written.get(cid) is state:
            return
        # A stale report (an earlier state arriving after a later one) never rewrites history: the store refuses it.
        try:
            await self.store.orders.update(
                state.client_order_id,
                status=state.status,
                filled_quantity=state.filled_qty,
                avg_price=state.avg_price,
                fees=state.fees,
                venue_order_id=state.venue_order_id,
                error=state.reject_reason.value if state.reject_reason is not None else None,
            )
        except StoreError:
            return
        self._written[cid] = state
        if len(self._written) > _WRITTEN_WINDOW:
            del self._written[next(iter(self._written))]  # the oldest
