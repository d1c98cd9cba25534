"""The opener: turns ranked opportunities into positions, within the limits on count, legs and exposure.

Before it opens, it reads both legs' books and judges the pair again on executable prices (the long leg's ask
against the short leg's bid, the half-spreads crossed): the price gap and the cost the scan assumed become what
the books say. A pair closed less than `[strategy] entry_hold` ago is opened again (by the scan or a plan's
`pair = "best"` reopen) only when its carry over the hold pays twice its round trip: the one just paid to close it
and the one to open it again.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal

import attrs
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.config import StrategyConfig
from fundarb_core.errors import VenueError
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
        self.closed_pairs: dict[tuple[str, str, str], datetime] = {}  # recently closed pairs, when
        self._seen_closed: set[str] = set()

    async def _sync_closed(self) -> None:
        """Note the pairs the book closed since the last look (the bot clears `book.closed` each tick)."""
        now = self.clock.now()
        for position_id in list(self.book.closed):
            if position_id in self._seen_closed:
                continue
            self._seen_closed.add(position_id)
            record = await self.store.positions.get(position_id)
            if record is not None:
                self.closed_pairs[(record.symbol, record.long_venue, record.short_venue)] = now
        hold = self.config.hold
        self.closed_pairs = {p: at for p, at in self.closed_pairs.items() if now - at < hold}
        if len(self._seen_closed) > 10_000:
            self._seen_closed = set(self.book.closed)

    def _reopen_pays(self, opp: Opportunity) -> bool:
        """A recently closed pair only when its carry over the hold pays two round trips."""
        if opp.pair not in self.closed_pairs:
            return True
        return opp.spread * self.scanner.hold_hours >= 2 * opp.cost

    async def confirm(self, opp: Opportunity, *, chosen: bool = False) -> Opportunity | None:
        """The opportunity judged again on both legs' books now, or None when it no longer clears the bar."""
        books = {}
        for venue in (opp.long_venue, opp.short_venue):
            try:
                books[venue] = await self.market.gateway.bbo(venue, opp.symbol, retry=False)
            except VenueError as exc:
                logger.bind(venue=venue, symbol=opp.symbol).info("no book to confirm the entry: {}", exc)
                return None
        checked = self.scanner.evaluate(
            opp.symbol, opp.long_venue, opp.short_venue, self.market.rates, self.clock.now(), books
        )
        if checked is None or checked.net_apr < self.config.min_net_apr:
            return None
        if not chosen and not self._reopen_pays(checked):
            return None
        return checked

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
        await self._sync_closed()
        if not opportunities:
            return []
        open_positions = await self.store.positions.list_open()
        # A symbol may still be traded on several disjoint venue pairs at once.
        busy = legs_in_use(open_positions)
        exposure = venue_exposure(open_positions)
        reserved = await self.reserved_slots()
        opened: list[str] = []
        for opp in opportunities:
            if len(opened) >= cfg.max_new_per_tick or len(open_positions) + len(opened) + reserved >= cfg.max_positions:
                break
            if self.sizer.admissible(opp, busy, exposure) is None or not self._reopen_pays(opp):
                continue
            confirmed = await self.confirm(opp)
            qty = self.sizer.admissible(confirmed, busy, exposure) if confirmed is not None else None
            if confirmed is None or qty is None:
                continue
            opp = confirmed
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
            if self.scanner.signal is not None:  # the fresh quotes count (a reopen may come before any tick's scan)
                now = self.clock.now()
                for venue, rates in self.market.rates.items():
                    self.scanner.signal.observe(venue, rates, now)
            open_positions = await self.store.positions.list_open()
            if len(open_positions) >= self.config.max_positions:
                return f"already {len(open_positions)} open positions (strategy.max_positions)"
            busy = legs_in_use(open_positions)
            exposure = venue_exposure(open_positions)
            await self._sync_closed()
            for opp in self.scanner.scan(self.market.rates, self.clock.now()):
                if (pair is not None and opp.pair != pair) or (exclude is not None and opp.pair == exclude):
                    continue
                if pair is None and not self._reopen_pays(opp):
                    continue  # the pair just closed: not for the price of a round trip for nothing
                if self.sizer.admissible(opp, busy, exposure, size_usd) is None:
                    continue
                confirmed = await self.confirm(opp, chosen=pair is not None)
                qty = self.sizer.admissible(confirmed, busy, exposure, size_usd) if confirmed is not None else None
                if confirmed is None or qty is None:
                    continue
                await self.open(confirmed, qty, position_id=position_id)
                return await self.book.reload(position_id)
            if pair is not None:
                return f"{' '.join(pair)} is not an opportunity now (or its legs or limits are taken)"
            return "no opportunity qualifies now"
