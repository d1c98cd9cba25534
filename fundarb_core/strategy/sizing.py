"""Sizing: how much of an opportunity to open, within the venues' grids and the configured exposure limits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from fundarb_core.config import StrategyConfig
from fundarb_core.model.records import PositionRecord
from fundarb_core.strategy.scanner import Opportunity
from fundarb_core.venues import Instrument, Rounding

__all__ = ["Sizer", "legs_in_use", "venue_exposure"]

ZERO = Decimal(0)


def legs_in_use(positions: Iterable[PositionRecord]) -> set[tuple[str, str]]:
    """(venue, symbol) pairs holding a leg: a venue nets positions per symbol, so each may carry one leg."""
    return {(v, p.symbol) for p in positions for v in (p.long_venue, p.short_venue)}


def venue_exposure(positions: Iterable[PositionRecord]) -> dict[str, Decimal]:
    """Notional per venue over `positions` (each position counts on both of its venues)."""
    exposure: dict[str, Decimal] = {}
    for p in positions:
        for venue in (p.long_venue, p.short_venue):
            exposure[venue] = exposure.get(venue, ZERO) + p.notional_usd
    return exposure


class Sizer:
    """Quantities on both venues' grids, above both minimums, within `max_position_usd` and `max_venue_usd`."""

    def __init__(self, config: StrategyConfig, instruments: Mapping[str, Mapping[str, Instrument]]) -> None:
        self.config = config
        self.instruments = instruments

    def quantity(self, opp: Opportunity, size_usd: Decimal | None = None) -> Decimal | None:
        """The quantity for `size_usd` (default: the configured size), on the coarser step; None below a minimum."""
        cfg = self.config
        long_i = self.instruments[opp.long_venue][opp.symbol]
        short_i = self.instruments[opp.short_venue][opp.symbol]
        step = max(long_i.step_size, short_i.step_size)
        size = min(size_usd or cfg.position_size_usd, cfg.max_position_usd)
        qty = (size / opp.mark / step).to_integral_value(rounding=Rounding.DOWN.value) * step
        if qty < max(long_i.min_qty_at(opp.mark), short_i.min_qty_at(opp.mark)):
            return None
        return qty

    def admissible(
        self,
        opp: Opportunity,
        busy: set[tuple[str, str]],
        exposure: Mapping[str, Decimal],
        size_usd: Decimal | None = None,
    ) -> Decimal | None:
        """The quantity to open `opp` with, or None when a leg's (venue, symbol) is taken, the size is below the
        venues' minimum, or either venue would go over `max_venue_usd`."""
        if {(opp.long_venue, opp.symbol), (opp.short_venue, opp.symbol)} & busy:
            return None
        qty = self.quantity(opp, size_usd)
        if qty is None:
            return None
        notional = qty * opp.mark
        limit = self.config.max_venue_usd
        if any(exposure.get(v, ZERO) + notional > limit for v in (opp.long_venue, opp.short_venue)):
            return None
        return qty
