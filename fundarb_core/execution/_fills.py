"""What one leg's orders have filled so far, over all its attempts (the order executor's tally)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from fundarb_core.venues import OrderState

__all__ = ["Fills"]

ZERO = Decimal(0)


class Fills:
    """Fills accumulated over the attempts of one leg."""

    def __init__(self, progress: Callable[[Decimal], None] | None = None) -> None:
        self.qty = ZERO
        self.notional = ZERO
        self.fees = ZERO
        self.maker = ZERO
        self.counted: dict[str, OrderState] = {}
        self.progress = progress
        self.decision_mid: Decimal | None = None  # the mid of the first quote read

    def record(self, state: OrderState) -> None:
        """Take the latest state of an order; only its increase over what was already counted is added.

        A state that changes only the status (open → cancelled) replaces the one kept, so the final state is what
        gets journalled; a stale one (fewer fills, or not final after a final one) is ignored.
        """
        before = self.counted.get(state.client_order_id)
        if before is not None and (
            state.filled_qty < before.filled_qty or (state.filled_qty == before.filled_qty and before.final)
        ):
            return
        prev_qty = before.filled_qty if before else ZERO
        prev_notional = before.filled_qty * before.avg_price if before and before.avg_price is not None else ZERO
        notional = state.filled_qty * state.avg_price if state.avg_price is not None else ZERO
        self.qty += state.filled_qty - prev_qty
        self.notional += notional - prev_notional
        self.fees += state.fees - (before.fees if before else ZERO)
        self.maker += state.maker_qty - (before.maker_qty if before else ZERO)
        self.counted[state.client_order_id] = state
        if self.progress is not None and state.filled_qty > prev_qty:
            self.progress(self.qty)

    @property
    def avg(self) -> Decimal | None:
        return self.notional / self.qty if self.qty else None
