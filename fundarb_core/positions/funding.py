"""Funding payments from the venues, stored against the open position each belongs to."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.errors import VenueError
from fundarb_core.execution import VenueGateway
from fundarb_core.model.records import PositionRecord
from fundarb_core.store import Store

__all__ = ["FundingLedger"]


class FundingLedger:
    """Reads every venue's funding payments since a cursor and stores them (idempotent by payment id)."""

    def __init__(self, store: Store, clock: Clock, gateway: VenueGateway) -> None:
        self.store = store
        self.clock = clock
        self.gateway = gateway
        self.since: datetime | None = None
        self.recorded: set[tuple[str, str]] = set()  # (venue, payment id) this process stored already

    async def record(self) -> None:
        """Store venue funding payments against the open position they belong to."""
        # Open positions only: a closing position records its funding (in `pnl`) before it is marked closed.
        positions = await self.store.positions.list_open()
        owner: dict[tuple[str, str], list[PositionRecord]] = {}
        for p in positions:
            for leg_venue in (p.long_venue, p.short_venue):
                owner.setdefault((leg_venue, p.symbol), []).append(p)
        since = self.since or min((p.created_at for p in positions), default=self.clock.now())
        batch: list[dict[str, Any]] = []
        for name in self.gateway.venues:
            try:
                payments = await self.gateway.funding_payments(name, since)
            except VenueError as exc:
                logger.bind(venue=name).warning("funding payments unavailable: {}", exc)
                continue
            for payment in payments:
                if (name, payment.payment_id) in self.recorded:
                    continue  # stored by an earlier call (the windows overlap): adding it again changes nothing
                candidates = [
                    p
                    for p in owner.get((name, payment.symbol), [])
                    if p.created_at <= payment.at  # from the first order sent: a leg may fill before the other
                    and (p.closed_at is None or payment.at <= p.closed_at)
                ]
                batch.append(
                    dict(
                        venue=name,
                        venue_payment_id=payment.payment_id,
                        symbol=payment.symbol,
                        amount=payment.amount,
                        at=payment.at,
                        rate=payment.rate,
                        position_id=candidates[0].id if candidates else None,
                    )
                )
        await self.store.funding.add_many(batch)  # one transaction for the whole call
        self.recorded.update((p["venue"], p["venue_payment_id"]) for p in batch)
        self.since = self.clock.now() - timedelta(hours=1)
