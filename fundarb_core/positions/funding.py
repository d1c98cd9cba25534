"""Funding payments from the venues, stored against the position each belongs to.

Each venue has its own read cursor. A read that succeeds moves that venue's cursor to the time the read was asked
less `OVERLAP` (settlement rows can be published a little late); a read that fails — the venue is down, in
maintenance, or its adapter could not read the whole window and raised — leaves it where it was, so the next
successful read asks again from there and recovers every payment missed meanwhile. Windows overlap on purpose:
the store keeps one row per (venue, venue payment id) (an insert that ignores a duplicate, and refuses one whose
symbol or amount differ), so reading a payment twice never counts it twice. One cursor per venue is enough: every
venue's call returns all symbols at once (Aster `income`, Lighter `positionFunding`, the simulated venue), and a venue
that cannot read its whole window raises instead of returning part of it (the `fetch_funding_payments` contract).
A read whose payments the store cannot take (locked, unreachable) leaves that venue's cursor where it was too; only
a payment stored before with other numbers (`StoreConflict`) is refused for good, the first one kept.

A payment recovered after its position closed (the venue was unreadable at the close) is still stored against that
position, and the position's realised PnL and funding are brought up to date.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.errors import StoreConflict, StoreError, VenueError
from fundarb_core.execution import VenueGateway
from fundarb_core.model import PositionStatus
from fundarb_core.model.records import PositionRecord
from fundarb_core.store import Store
from fundarb_core.venues import FundingPayment

__all__ = ["OVERLAP", "FundingLedger"]

OVERLAP = timedelta(hours=1)  # each read goes back this far past the last complete one (late-published rows)
RECENTLY_CLOSED = 200  # closed positions looked at for a recovered payment that no open position owns


class FundingLedger:
    """Reads every venue's funding payments since that venue's cursor and stores them (idempotent by payment id)."""

    def __init__(self, store: Store, clock: Clock, gateway: VenueGateway) -> None:
        self.store = store
        self.clock = clock
        self.gateway = gateway
        self.cursors: dict[str, datetime] = {}  # venue → every payment before this has been read
        self.recorded: set[tuple[str, str]] = set()  # (venue, payment id) this process stored already

    async def record(self) -> None:
        """Store venue funding payments against the position they belong to."""
        # Open positions own most payments; a closing position records its funding (in `pnl`) before it is marked
        # closed, and a payment read only later (an outage) is matched against recently closed positions.
        positions = await self.store.positions.list_open()
        owner: dict[tuple[str, str], list[PositionRecord]] = {}
        for p in positions:
            for leg_venue in (p.long_venue, p.short_venue):
                owner.setdefault((leg_venue, p.symbol), []).append(p)
        start = min((p.created_at for p in positions), default=self.clock.now())
        for name in self.gateway.venues:
            self.cursors.setdefault(name, start)
        closed: list[PositionRecord] | None = None  # read once, when first needed
        batch: list[dict[str, Any]] = []  # payments of open positions (or of none): one transaction for all venues
        moved: dict[str, datetime] = {}  # the cursors of the venues read, once their payments are stored
        stuck: set[str] = set()  # venues with a payment the store could not take now (unreachable, locked)
        for name in self.gateway.venues:
            since = self.cursors[name]
            asked = self.clock.now()
            try:
                payments = await self.gateway.funding_payments(name, since)
            except VenueError as exc:
                logger.bind(venue=name).warning(
                    "funding payments unavailable ({}); asking again from {} at the next read", exc, since
                )
                continue  # the cursor stays: what settles meanwhile is read once the venue answers
            for payment in payments:
                if (name, payment.payment_id) in self.recorded:
                    continue  # stored by an earlier call (the windows overlap): adding it again changes nothing
                holder = _holder(owner.get((name, payment.symbol), []), payment)
                if holder is None:
                    if closed is None:
                        page = await self.store.positions.page(
                            statuses=[PositionStatus.CLOSED], sort="closed_at", limit=RECENTLY_CLOSED
                        )
                        closed = page.positions
                    mine = [p for p in closed if p.symbol == payment.symbol and name in (p.long_venue, p.short_venue)]
                    holder = _holder(mine, payment)
                values: dict[str, Any] = {
                    "venue": name,
                    "venue_payment_id": payment.payment_id,
                    "symbol": payment.symbol,
                    "amount": payment.amount,
                    "at": payment.at,
                    "rate": payment.rate,
                    "position_id": holder.id if holder is not None else None,
                }
                if holder is not None and holder.status is PositionStatus.CLOSED:
                    # Rare (read after an outage): stored with the closed position's PnL brought up to date, at once.
                    if not await self._add_late(values):
                        stuck.add(name)
                else:
                    batch.append(values)
            moved[name] = max(since, asked - OVERLAP)
        try:
            await self.store.funding.add_many(batch)
            self.recorded.update((p["venue"], p["venue_payment_id"]) for p in batch)
        except StoreError:
            # A payment a venue published again with other numbers refuses the whole batch: store the others one
            # by one, so that one bad row never stops any venue's funding (or a close waiting on it).
            for values in batch:
                if await self._add_one(values) is None:
                    stuck.add(values["venue"])
        # A venue with a payment the store could not take keeps its cursor: the next read asks for it again.
        self.cursors.update((name, cursor) for name, cursor in moved.items() if name not in stuck)

    async def _add_one(self, values: dict[str, Any]) -> bool | None:
        """Store one payment; return whether it was new, or None when the store could not take it now (it is read
        and offered again). One the store refuses (stored before with other numbers) is logged and kept as first
        stored."""
        key = (values["venue"], values["venue_payment_id"])
        try:
            _, inserted = await self.store.funding.add(**values)
        except StoreConflict as exc:
            logger.bind(venue=key[0]).error("funding payment {} refused, the first one kept: {}", key[1], exc)
            inserted = False
        except StoreError as exc:
            logger.bind(venue=key[0]).warning("funding payment {} not stored now ({}); asking again", key[1], exc)
            return None
        self.recorded.add(key)
        return inserted

    async def _add_late(self, values: dict[str, Any]) -> bool:
        """A payment read after its position closed: stored, and added to the closed position's funding, net and
        realised PnL, in one transaction (a crash cannot leave one without the other)."""
        amount: Decimal = values["amount"]

        def settle(record: PositionRecord) -> PositionRecord | None:
            if record.status is not PositionStatus.CLOSED:
                return None
            state = record.state
            update = {"funding": (state.funding or Decimal(0)) + amount}
            if state.net is not None:
                update["net"] = state.net + amount
            realized = (record.realized_pnl or Decimal(0)) + amount
            return attrs.evolve(record, realized_pnl=realized, state=state.update(**update))

        key = (values["venue"], values["venue_payment_id"])
        try:
            updated = await self.store.positions.add_payment(values, settle)
        except StoreConflict as exc:
            logger.bind(venue=key[0]).error("late funding payment {} refused, the first one kept: {}", key[1], exc)
        except StoreError as exc:
            logger.bind(venue=key[0]).error("late funding payment {} not stored: {}", key[1], exc)
            return False  # not marked recorded, and its venue's cursor stays: asked again at the next read
        else:
            if updated is not None:
                logger.bind(position=updated.id).info("funding {} read after the close, added to its PnL", amount)
        self.recorded.add(key)
        return True


def _holder(candidates: list[PositionRecord], payment: FundingPayment) -> PositionRecord | None:
    for p in candidates:
        # From the first order sent (a leg may fill before the other) to the close.
        if p.created_at <= payment.at and (p.closed_at is None or payment.at <= p.closed_at):
            return p
    return None
