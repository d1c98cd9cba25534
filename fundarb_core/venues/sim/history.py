"""The sim venue's history: the funding it settled and the mark-price candles of its own world.

History is the past only: it starts at the world's start and ends at the venue's current time (the world is
computed lazily and deterministically, so the future exists, but serving it would let a backtest see ahead).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from fundarb_core.venues._types import FundingHistoryEntry, PriceCandle
from fundarb_core.venues.sim.world import STEP

if TYPE_CHECKING:
    from fundarb_core.venues.sim._market import SimMarket as SimVenue

__all__ = ["funding_history", "price_candles"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _window(venue: SimVenue, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Clip `[start, end)` to what has happened on this venue: from the world's start up to now."""
    return max(start, venue.world.start), min(end, venue.clock.now() + timedelta(microseconds=1))


def _grid_after(moment: datetime, every: timedelta, *, inclusive: bool) -> datetime:
    """The first multiple of `every` since the Unix epoch at (inclusive) or after `moment`."""
    seconds = every.total_seconds()
    elapsed = (moment - EPOCH).total_seconds()
    n = int(elapsed // seconds)
    at = EPOCH + timedelta(seconds=n * seconds)
    if at < moment or (at == moment and not inclusive):
        at += every
    return at


def funding_history(venue: SimVenue, symbol: str, start: datetime, end: datetime) -> list[FundingHistoryEntry]:
    """Every rate the venue settled at `start <= at < end`, oldest first, at the rate it charged positions."""
    instrument = venue._instrument_or_reject(symbol)
    interval = instrument.funding_interval
    lo, hi = _window(venue, start, end)
    out = []
    at = _grid_after(lo, interval, inclusive=True)
    while at < hi:
        # The rate charged at a boundary is the one reported the last step before it (as `_settle_funding` does):
        # the average of the instantaneous rate over the interval.
        step = max(venue.world.last_step_before(at), 0)
        rate = venue.world.funding_rate(venue.name, symbol, step, interval)
        out.append(FundingHistoryEntry(symbol=symbol, at=at, rate=rate, interval=interval))
        at += interval
    return out


def price_candles(
    venue: SimVenue, symbol: str, resolution: timedelta, start: datetime, end: datetime
) -> list[PriceCandle]:
    """Mark-price candles opening at `start <= at < end` (complete ones only), oldest first."""
    venue._instrument_or_reject(symbol)
    if resolution.total_seconds() < STEP or resolution.total_seconds() % STEP:
        raise ValueError(f"resolution must be a multiple of {STEP:g} s, found {resolution}")
    lo, hi = _window(venue, start, end)
    out = []
    at = _grid_after(lo, resolution, inclusive=True)
    world = venue.world
    while at + resolution <= hi:
        first = world.step_at(at)
        last = world.step_at(at + resolution) - 1
        marks = [venue.mark(symbol, step) for step in range(first, last + 1)]
        out.append(
            PriceCandle(
                symbol=symbol,
                at=at,
                resolution=resolution,
                open=marks[0],
                high=max(marks),
                low=min(marks),
                close=marks[-1],
                volume=Decimal(0),
                kind="mark",
            )
        )
        at += resolution
    return out
