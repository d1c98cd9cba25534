"""The monitor: live snapshots of every leg, what a risk manager sees of a position, and its marks for the store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from fundarb_core.execution import LegRef, VenueGateway
from fundarb_core.model._evolve import evolve
from fundarb_core.model.records import PositionRecord
from fundarb_core.strategy.market import Market
from fundarb_core.strategy.risk import PositionView
from fundarb_core.strategy.signal import SpreadSignal
from fundarb_core.venues import PositionSnapshot

__all__ = ["Monitor"]

ZERO = Decimal(0)
Pair = tuple[str, str, str]


class Monitor:
    """Snapshots legs in bulk once per tick (where venues announce it), else per position."""

    def __init__(self, gateway: VenueGateway, market: Market, signal: SpreadSignal | None = None) -> None:
        self.gateway = gateway
        self.market = market
        self.signal = signal
        # this tick's bulk snapshots by (venue, symbol)
        self._cached: dict[tuple[str, str], PositionSnapshot] = {}

    async def prefetch(self, positions: list[PositionRecord]) -> None:
        """One bulk request per venue for every leg on it; each cached snapshot is used once."""
        wanted: dict[str, set[str]] = {}
        for p in positions:
            for venue_name in (p.long_venue, p.short_venue):
                wanted.setdefault(venue_name, set()).add(p.symbol)
        self._cached = await self.gateway.bulk_snapshots(wanted)

    async def snapshots(self, position: PositionRecord) -> dict[str, PositionSnapshot] | None:
        """Both legs' snapshots by venue, or None when a venue cannot be seen now."""
        long_venue, short_venue, symbol = position.long_venue, position.short_venue, position.symbol
        cached = self._cached
        if cached:
            first, second = cached.pop((long_venue, symbol), None), cached.pop((short_venue, symbol), None)  # used once
            if first is not None and second is not None:
                return {long_venue: first, short_venue: second}
            if first is not None:  # only one was fetched: both go live
                cached[(long_venue, symbol)] = first
            if second is not None:
                cached[(short_venue, symbol)] = second
        legs = [LegRef(long_venue, symbol), LegRef(short_venue, symbol)]
        snaps, unreachable = await self.gateway.snapshots(legs)
        if unreachable:
            return None
        return {leg.venue: snap for leg, snap in snaps.items()}

    def view(
        self, position: PositionRecord, snaps: Mapping[str, PositionSnapshot], best: set[Pair], now: datetime
    ) -> PositionView | None:
        """What the risk manager sees of `position` now (None without both venues' funding rates)."""
        symbol, long_venue, short_venue = position.symbol, position.long_venue, position.short_venue
        current = self.market.spread(symbol, long_venue, short_venue)
        if current is None:
            return None
        rates = self.market.rates
        return PositionView(
            position,
            now,
            position.entry_spread or ZERO,
            current,
            {long_venue: rates[long_venue][symbol], short_venue: rates[short_venue][symbol]},
            dict(snaps),
            current if (symbol, long_venue, short_venue) in best else None,
            self.signal.spread(symbol, long_venue, short_venue) if self.signal is not None else None,
        )

    def with_marks(self, position: PositionRecord, snaps: Mapping[str, PositionSnapshot]) -> PositionRecord:
        """The position with this tick's marks, funding accrued, liquidation distance and current spread."""
        state = position.state.update(
            marks={v: s.mark_price for v, s in snaps.items()},
            funding_accrued={v: s.funding_accrued for v, s in snaps.items()},
            liquidation_distance={v: s.liquidation_distance() for v, s in snaps.items()},
            unrealized_pnl=sum((s.unrealized_pnl for s in snaps.values()), ZERO),
            current_spread=self.market.spread(position.symbol, position.long_venue, position.short_venue),
        )
        return evolve(position, state=state)
