#!/usr/bin/env python3
"""Orders per second through the simulated venue: place a market order, let it fill, read the position snapshot.

    .venv/bin/python benchmarks/sim_orders.py [--quick]

One sim venue (profile `plain`: no simulated latency) on a SimClock, one second of simulated time between orders
(so the venue also processes a price step every fifth order, with a position open). Orders alternate buy and sell,
so the position stays small. The figure is the cost of the simulator itself: what a backtest pays per order.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from decimal import Decimal

from fundarb_core.clock import SimClock
from fundarb_core.model import OrderStatus, Side
from fundarb_core.venues import VenueContext
from fundarb_core.venues.sim import SimVenueConfig, build_sim_venue


async def cycles(clock: SimClock, count: int) -> float:
    """Run `count` place → fill → snapshot cycles; return the wall time they took, in seconds."""
    venue = build_sim_venue("bench", SimVenueConfig(profile="plain", symbols=["BTC"]), VenueContext(clock))
    instrument = venue.instruments["BTC"]
    quantity = instrument.min_qty_at(Decimal(100_000))
    started = time.perf_counter()
    for n in range(count):
        side = Side.BUY if n % 2 == 0 else Side.SELL
        bbo = await venue.fetch_bbo_prices("BTC")
        worst = instrument.round_price(bbo.ask * Decimal("1.01") if side is Side.BUY else bbo.bid * Decimal("0.99"))
        state = await venue.place_market_order("BTC", side, quantity, worst_price=worst, client_order_id=f"b{n}")
        assert state.status is OrderStatus.FILLED, state
        await venue.get_position_snapshot("BTC")
        await clock.sleep(1)
    return time.perf_counter() - started


def main(quick: bool = False) -> None:
    count, rounds = (500, 3) if quick else (5_000, 5)
    walls = []
    for _ in range(rounds):
        clock = SimClock()
        walls.append(asyncio.run(clock.run(cycles(clock, count))))
    wall = statistics.median(walls)
    print(
        f"sim orders: {count / wall:,.0f} orders/s ({wall / count * 1e6:.0f} µs per BBO → market order → fill → "
        f"snapshot, median of {rounds} runs of {count})"
    )


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
