#!/usr/bin/env python3
"""The cost of settling funding for 1,000 open positions in the simulator, in µs per position.

    .venv/bin/python benchmarks/sim_funding.py [--quick]

A sim venue trades the 12 symbols of the simulator's catalogue, so 1,000 positions live on 84 sim venues sharing
one price world (83 × 12 + 4). The clock starts ten seconds before a funding time (08:00 UTC). Every venue then
processes one price step with no funding in it (the baseline: marks and the liquidation check of each position),
and then the step that crosses 08:00, which also settles funding for every position. The difference between the
two, per position, is the cost of a settlement; the total is also shown.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fundarb_core.clock import SimClock
from fundarb_core.model import OrderStatus, Side
from fundarb_core.venues import VenueContext
from fundarb_core.venues.sim import CATALOGUE, SimVenue, SimVenueConfig, build_sim_venue

POSITIONS = 1_000
FUNDING_AT = datetime(2026, 1, 1, 8, tzinfo=UTC)


async def open_positions(clock: SimClock) -> list[SimVenue]:
    """Open POSITIONS positions, 12 per venue, alternating long and short; return the venues."""
    context = VenueContext(clock)
    symbols = list(CATALOGUE)
    venues: list[SimVenue] = []
    opened = 0
    while opened < POSITIONS:
        chosen = symbols[: min(len(symbols), POSITIONS - opened)]
        config = SimVenueConfig(profile="plain", symbols=chosen, starting_balance=Decimal(1_000_000))
        venue = build_sim_venue(f"v{len(venues)}", config, context)
        for symbol in chosen:
            instrument = venue.instruments[symbol]
            side = Side.BUY if opened % 2 == 0 else Side.SELL
            bbo = await venue.fetch_bbo_prices(symbol)
            worst = instrument.round_price(bbo.ask * 2 if side is Side.BUY else bbo.bid / 2)
            quantity = instrument.min_qty_at(worst) * 10
            state = await venue.place_market_order(
                symbol, side, quantity, worst_price=worst, client_order_id=f"open-{symbol}"
            )
            assert state.status is OrderStatus.FILLED, state
            opened += 1
        venues.append(venue)
    return venues


async def one_step(clock: SimClock, venues: list[SimVenue]) -> float:
    """Move the clock one price step and let every venue process it; return the wall time, in seconds."""
    await clock.sleep(5)
    started = time.perf_counter()
    for venue in venues:
        venue.sync()
    return time.perf_counter() - started


async def settle(clock: SimClock) -> tuple[float, float]:
    """(wall time of a step without funding, wall time of the step that settles funding) for all positions."""
    venues = await open_positions(clock)
    await clock.sleep_until(FUNDING_AT - timedelta(seconds=10))
    for venue in venues:
        venue.sync()
    baseline = await one_step(clock, venues)  # 07:59:50 → 07:59:55: marks and liquidation checks only
    settled = await one_step(clock, venues)  # 07:59:55 → 08:00:00: the same, plus funding for every position
    payments = sum(len(v.payments) for v in venues)
    if payments != POSITIONS:
        raise RuntimeError(f"expected {POSITIONS} funding payments, found {payments}")
    return baseline, settled


def main(quick: bool = False) -> None:
    rounds = 3 if quick else 7
    results = []
    for _ in range(rounds):
        clock = SimClock(FUNDING_AT - timedelta(minutes=1))
        results.append(asyncio.run(clock.run(settle(clock))))
    baseline = statistics.median(b for b, _ in results)
    settled = statistics.median(s for _, s in results)
    per_position = (settled - baseline) / POSITIONS * 1e6
    print(
        f"sim funding: {per_position:.1f} µs per position settled ({POSITIONS:,} positions on "
        f"{-(-POSITIONS // len(CATALOGUE))} venues: step with funding {settled * 1e3:.1f} ms, without "
        f"{baseline * 1e3:.1f} ms; median of {rounds})"
    )


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
