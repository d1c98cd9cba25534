"""The opener: turns ranked opportunities into positions, within the limits on count, legs and exposure."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import attrs

from fundarb_core.clock import Clock
from fundarb_core.config import StrategyConfig
from fundarb_core.model import PositionStatus
from fundarb_core.model.records import ActionStatus, PositionRecord
from fundarb_core.positions import OpenRequest, PositionBook
from fundarb_core.store import Store
from fundarb_core.strategy.market import Market
from fundarb_core.strategy.scanner import Opportunity, Scanner
from fundarb_core.strategy.sizing import Sizer, legs_in_use, venue_exposure

__all__ = ["Opener", "Switches"]

ZERO = Decimal(0)


@attrs.define
class Switches:
    """The operator's switches: paused (no new opens, open positions still managed) and halted (stop the loop)."""

    paused: bool = False
    halted: bool = False


class Opener:
    """Opens the scanner's best opportunities, and a plan's reopen (the `open_position` action's port)."""

    def __init__(
        self,
        config: StrategyConfig,
        store: Store,
        clock: Clock,
        market: Market,
        scanner: Scanner,
        sizer: Sizer,
        book: PositionBook,
        switches: Switches,
        *,
        plans: bool = False,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.market = market
        self.scanner = scanner
        self.sizer = sizer
        self.book = book
        self.switches = switches
        self.plans = plans  # an action runner carries out plans: keep a slot for each pending reopen
        self._lock = asyncio.Lock()  # reopens check limits and legs, then open: one at a time

    def request(self, opp: Opportunity, qty: Decimal) -> OpenRequest:
        cfg = self.config
        return OpenRequest(
            symbol=opp.symbol, long_venue=opp.long_venue, short_venue=opp.short_venue, quantity=qty, mark=opp.mark,
            entry_spread=opp.spread, net_apr=opp.net_apr, leverage=cfg.leverage,
            limit_offset_bps=cfg.limit_offset_bps, timeout=cfg.open_timeout, open_mode=cfg.open_mode,
        )  # fmt: skip

    async def open(self, opp: Opportunity, qty: Decimal, *, position_id: str | None = None) -> PositionRecord:
        """Open `qty` of `opp`; a failed entry keeps its symbol out of the ranking for the cooldown."""
        now = self.clock.now()
        details = {"opened_by_action": True} if position_id is not None else None
        record = await self.book.open(self.request(opp, qty), position_id=position_id, details=details)
        if record.status is PositionStatus.FAILED:
            self.scanner.note_failed_entry(opp.symbol, now)
        return record

    async def open_new(self, opportunities: list[Opportunity]) -> list[str]:
        """Open the best admissible opportunities this tick; return the ids opened."""
        cfg = self.config
        open_positions = await self.store.positions.list_open()
        # A symbol may still be traded on several disjoint venue pairs at once.
        busy = legs_in_use(open_positions)
        exposure = venue_exposure(open_positions)
        reserved = await self.reserved_slots()
        opened: list[str] = []
        for opp in opportunities:
            if len(opened) >= cfg.max_new_per_tick or len(open_positions) + len(opened) + reserved >= cfg.max_positions:
                break
            qty = self.sizer.admissible(opp, busy, exposure)
            if qty is None:
                continue
            busy |= {(opp.long_venue, opp.symbol), (opp.short_venue, opp.symbol)}
            position = await self.open(opp, qty)
            if position.status is PositionStatus.OPEN:
                opened.append(position.id)
                for v in (opp.long_venue, opp.short_venue):
                    exposure[v] = exposure.get(v, ZERO) + qty * opp.mark
        return opened

    async def reserved_slots(self) -> int:
        """Slots held for plans' pending reopens: the scanner does not take the place a plan will reopen into."""
        if not self.plans:
            return 0
        pending = await self.store.actions.list(
            statuses=[ActionStatus.PENDING, ActionStatus.WAITING, ActionStatus.AWAITING_APPROVAL]
        )
        return sum(1 for a in pending if a.action_type == "open_position")

    async def open_for_action(
        self,
        position_id: str,
        *,
        pair: tuple[str, str, str] | None = None,
        size_usd: Decimal | None = None,
        exclude: tuple[str, str, str] | None = None,
    ) -> PositionRecord | str:
        """Open the chosen pair, or the best opportunity now, under `position_id` (an action's reopen).

        The same limits as the scanner's opens apply. Returns the position, or why nothing was opened.
        """
        async with self._lock:
            if self.switches.paused or self.switches.halted:
                return "the bot is paused"
            await self.market.refresh()
            open_positions = await self.store.positions.list_open()
            if len(open_positions) >= self.config.max_positions:
                return f"already {len(open_positions)} open positions (strategy.max_positions)"
            busy = legs_in_use(open_positions)
            exposure = venue_exposure(open_positions)
            for opp in self.scanner.scan(self.market.rates, self.clock.now()):
                if (pair is not None and opp.pair != pair) or (exclude is not None and opp.pair == exclude):
                    continue
                qty = self.sizer.admissible(opp, busy, exposure, size_usd)
                if qty is None:
                    continue
                await self.open(opp, qty, position_id=position_id)
                return await self.book.reload(position_id)
            if pair is not None:
                return f"{' '.join(pair)} is not an opportunity now (or its legs or limits are taken)"
            return "no opportunity qualifies now"
