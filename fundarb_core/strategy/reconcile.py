"""Start-up reconciliation: the store against the venues, before the first tick."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from loguru import logger

from fundarb_core.display import plain
from fundarb_core.errors import VenueError
from fundarb_core.execution import LegRef, OrderJournal, VenueGateway
from fundarb_core.model import PositionStatus
from fundarb_core.model.records import PositionRecord
from fundarb_core.store import Store
from fundarb_core.strategy.monitor import Monitor
from fundarb_core.venues import Instrument

__all__ = ["Reconciler"]


class Reconciler:
    """Settles orders left unfinished, finishes interrupted opens, and flags what does not match."""

    def __init__(
        self,
        store: Store,
        gateway: VenueGateway,
        journal: OrderJournal,
        monitor: Monitor,
        instruments: Mapping[str, Mapping[str, Instrument]],
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.journal = journal
        self.monitor = monitor
        self.instruments = instruments

    async def orders(self, only_live: bool = False) -> list[str]:
        """Ask the venues, by client order id, about every order the store has no final outcome for (`only_live`:
        only those a venue answered as open, leaving intents with no answer yet alone).

        A live order left by a crash is cancelled (nothing may rest unmanaged: it could fill later, unhedged) and
        its final state recorded, fills included. An intent the venue never saw stays as it is: the action that
        made it re-asks for the same id when it resumes.
        """
        report = []
        for order in await self.store.orders.list_unfinished(live=only_live):
            if order.venue not in self.gateway.venues:
                report.append(f"order {order.client_order_id} on {order.venue}: venue not configured")
                continue
            cid, symbol = order.client_order_id, order.symbol
            try:
                state = await self.gateway.get_order(order.venue, symbol, cid)
                if state is not None and not state.status.final:
                    state = await self.gateway.cancel_order(order.venue, symbol, cid)
            except VenueError as exc:
                report.append(f"order {cid} on {order.venue}: cannot reconcile now ({exc})")
                continue
            if state is None:
                continue
            await self.journal.record_state(state)
            report.append(f"order {cid} on {order.venue}: {state.status.value}, filled {plain(state.filled_qty)}")
        return report

    async def _adopt(self, position: PositionRecord, snaps: Mapping[str, Any], qty: str) -> str:
        """An interrupted open: failed if it left nothing, else open (the closer then balances or closes it)."""
        if all(s.quantity == 0 for s in snaps.values()):
            await self.store.positions.update(attrs.evolve(position, status=PositionStatus.FAILED))
            return f"{position.id} {position.symbol}: interrupted open left nothing; marked failed"
        legs = tuple(  # what the venues hold (the open recorded no fills before it was cut short)
            attrs.evolve(
                leg,
                filled_quantity=abs(snaps[leg.venue].quantity),
                entry_price=leg.entry_price or snaps[leg.venue].entry_price,
            )
            if leg.venue in snaps
            else leg
            for leg in position.legs
        )
        await self.store.positions.update(
            attrs.evolve(position, status=PositionStatus.OPEN, opened_at=position.created_at, legs=legs)
        )
        return f"{position.id} {position.symbol}: interrupted open adopted ({qty})"

    async def interrupted_opens(self) -> list[str]:
        """Between ticks nothing is opening: a position still `opening` had its open cut short by an error (a store
        write, a bug). Settle its orders and adopt it — or mark it failed — as a restart would, at once, so that
        its legs are watched, balanced and closed like any other position's instead of waiting for a restart."""
        opening = [p for p in await self.store.positions.list_open() if p.status is PositionStatus.OPENING]
        if not opening:
            # Between ticks no order is being worked: one still live in the store is one whose cancel went
            # unanswered (the execution gave up on it, with an alert). Ask again each tick until it is final.
            report = await self.orders(only_live=True)
            for line in report:
                logger.warning("reconcile: {}", line)
            return report
        report = await self.orders()
        for position in opening:
            snaps = await self.monitor.snapshots(position)
            if snaps is None:
                report.append(f"{position.id} {position.symbol}: a venue is unreachable; will retry")
                continue
            qty = ", ".join(f"{v} {plain(s.quantity)}" for v, s in snaps.items())
            report.append(await self._adopt(position, snaps, qty))
        for line in report:
            logger.warning("reconcile: {}", line)
        return report

    async def startup(self) -> list[str]:
        """Compare the store with the venues; returns a report (also logged)."""
        report = await self.orders()
        for position in await self.store.positions.list_open():
            snaps = await self.monitor.snapshots(position)
            if snaps is None:
                report.append(f"{position.id} {position.symbol}: a venue is unreachable; will retry")
                continue
            qty = ", ".join(f"{v} {plain(s.quantity)}" for v, s in snaps.items())
            if position.status is PositionStatus.OPENING:
                report.append(await self._adopt(position, snaps, qty))
            elif position.status is PositionStatus.CLOSING:
                report.append(f"{position.id} {position.symbol}: interrupted close will resume ({qty})")
            else:
                report.append(f"{position.id} {position.symbol}: {position.status.value} ({qty})")
        open_positions = await self.store.positions.list_open()
        known = {(v, p.symbol) for p in open_positions for v in (p.long_venue, p.short_venue)}
        for name in self.gateway.venues:
            for symbol in self.instruments[name]:
                if (name, symbol) in known:
                    continue
                try:
                    snap = await self.gateway.snapshot(LegRef(name, symbol))
                except VenueError:
                    continue
                if snap.quantity != 0:
                    report.append(f"untracked position on {name}: {symbol} {snap.quantity} (not managed by fundarb)")
        for line in report:
            logger.info("reconcile: {}", line)
        return report
