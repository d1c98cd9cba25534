"""Execution benchmarks (issues 4 and 19).

(a) framework overhead of a two-leg close with zero latency: p50 / p99 in µs of real time, against venues that answer
    at once with replies prepared beforehand, so that only what the framework adds is timed (gateway, executors,
    telemetry, the event loop's fan-outs; as in every figure here, no store: the executors' journal is the null one);
(a2) the same close on the simulated venues: the framework plus the sim's own matching and Decimal accounting, which
    on a real venue happen on the exchange's side (what a paper run or a backtest pays per close);
(b) with 50 ms injected latency on both venues (real time, WallClock): two-leg close ÷ one-leg close wall time
    (≈ 1.0 when the legs really run concurrently; 2.0 if they ran one after the other);
(c) leg skew p50 in µs (time between the two legs' first submissions, zero latency, real time).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
from fundarb_close_market_only import MarketOnlyConfig, MarketOnlyPolicy

from fundarb_core.clock import Clock, SimClock, WallClock
from fundarb_core.execution import CloseExecutor, LegRef, OrderExecutor
from fundarb_core.model import OrderStatus, OrderType, Side, TimeInForce
from fundarb_core.venues import BBO, Capabilities, OrderState, PositionSnapshot
from fundarb_core.venues.sim import FaultConfig, SimVenue, SimVenueConfig, SimWorld

QTY = Decimal("0.01")


def _venues(clock: Clock, latency_ms: int) -> dict[str, SimVenue]:
    lat = {k: timedelta(milliseconds=latency_ms) for k in ("query", "order", "market_order", "cancel")}
    world = SimWorld(1, clock.now())
    return {
        name: SimVenue(name, SimVenueConfig(profile="plain", faults=FaultConfig(latency=lat)), clock, world)
        for name in ("a", "b")
    }


async def _open(venues: dict[str, SimVenue], symbol: str) -> None:
    for name, side in (("a", Side.BUY), ("b", Side.SELL)):
        venue = venues[name]
        bbo = await venue.fetch_bbo_prices(symbol)
        worst = bbo.ask * 2 if side is Side.BUY else bbo.bid / 2
        await venue.place_market_order(
            symbol,
            side,
            QTY,
            worst_price=venue.instruments[symbol].round_price(worst),
            client_order_id=f"o{time.perf_counter_ns()}",
        )


async def _closes(clock: Clock, latency_ms: int, reps: int, legs: int) -> tuple[list[float], list[float]]:
    venues = _venues(clock, latency_ms)
    orders = OrderExecutor(venues, {n: dict(v.instruments) for n, v in venues.items()}, clock)  # type: ignore[arg-type]
    closer = CloseExecutor(orders, MarketOnlyPolicy(MarketOnlyConfig()))
    walls, skews = [], []
    for i in range(reps):
        await _open(venues, "BTC")
        refs = [LegRef("a", "BTC"), LegRef("b", "BTC")]
        if legs == 1:  # close the short by hand first: a one-leg (emergency) close of the long remains
            b = venues["b"]
            bbo = await b.fetch_bbo_prices("BTC")
            await b.place_market_order(
                "BTC", Side.BUY, QTY, worst_price=bbo.ask * 2, client_order_id=f"h{i}", reduce_only=True
            )
            refs = [LegRef("a", "BTC")]
        t0 = time.perf_counter()
        result = await closer.close(f"p{i}", refs, "bench", attempt=i)
        walls.append(time.perf_counter() - t0)
        assert result.closed
        if result.telemetry.leg_skew is not None:
            skews.append(result.telemetry.leg_skew)
    await orders.aclose()
    return walls, skews


class _Instant:
    """A venue that answers at once with replies prepared from a sim venue's (a position of `QTY`, its quote, the flat
    position after a close): the close is timed without any venue's own work. Only the order that closes the whole
    position (reduce-only, the opposite side, its size) is accepted; anything else fails the benchmark."""

    def __init__(self, sim: SimVenue, opened: PositionSnapshot, flat: PositionSnapshot, bbo: BBO) -> None:
        self.name, self.instruments = sim.name, sim.instruments
        self.capabilities = Capabilities(simulated=True)  # no streams, no bulk calls: the plain contract
        self.opened, self.flat, self.bbo = opened, flat, bbo
        self.held = opened

    async def get_position_snapshot(self, symbol: str) -> PositionSnapshot:
        return self.held

    async def fetch_bbo_prices(self, symbol: str) -> BBO:
        return self.bbo

    async def place_market_order(
        self, symbol: str, side: Side, quantity: Decimal, *, worst_price: Decimal, client_order_id: str,
        reduce_only: bool = False,
    ) -> OrderState:  # fmt: skip
        closing = Side.SELL if self.held.quantity > 0 else Side.BUY
        if not (reduce_only and side is closing and quantity == abs(self.held.quantity)):
            raise RuntimeError(f"not the close's order: {side} {quantity} reduce_only={reduce_only}")
        self.held = self.flat
        price = self.bbo.bid if side is Side.SELL else self.bbo.ask
        return OrderState(
            client_order_id, "v1", symbol, side, OrderType.MARKET, TimeInForce.IOC, quantity, None, reduce_only,
            OrderStatus.FILLED, quantity, price, Decimal(0), Decimal(0), None, self.opened.at,
        )  # fmt: skip


async def _instant_closes(clock: Clock, reps: int) -> list[float]:
    sims = _venues(clock, 0)
    await _open(sims, "BTC")
    venues = {}
    for name, sim in sims.items():
        opened, bbo = await sim.get_position_snapshot("BTC"), await sim.fetch_bbo_prices("BTC")
        flat = attrs.evolve(opened, quantity=Decimal(0), entry_price=None, unrealized_pnl=Decimal(0))
        venues[name] = _Instant(sim, opened, flat, bbo)
    orders = OrderExecutor(venues, {n: dict(v.instruments) for n, v in venues.items()}, clock)  # type: ignore[arg-type]
    closer = CloseExecutor(orders, MarketOnlyPolicy(MarketOnlyConfig()))
    walls = []
    for i in range(reps):
        for venue in venues.values():
            venue.held = venue.opened
        t0 = time.perf_counter()
        result = await closer.close(f"p{i}", [LegRef("a", "BTC"), LegRef("b", "BTC")], "bench", attempt=i)
        walls.append(time.perf_counter() - t0)
        assert result.closed
    await orders.aclose()
    return walls


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _repeated(run: Callable[[SimClock], Coroutine[Any, Any, list[float]]], repeats: int) -> list[list[float]]:
    """`repeats` runs of closes, each on a fresh simulated market; each run's wall times."""
    runs = []
    for _ in range(repeats):
        clock = SimClock()
        runs.append(asyncio.run(clock.run(run(clock))))
    return runs


def _figures(runs: list[list[float]]) -> str:
    """p50 and p99 of the run with the lowest p50 and of the median run, in µs.

    This shared 2-core machine's speed swings by up to 2× within seconds, whatever runs on it. As Python's `timeit`
    documentation puts it, the lowest figure is how fast the machine runs the code; higher ones come from other
    processes interfering. The median run is printed too, so that the spread is visible.
    """
    by_p50 = sorted(runs, key=lambda walls: _pct(walls, 0.5))
    best, middle = by_p50[0], by_p50[len(by_p50) // 2]
    return (
        f"fastest of {len(runs)} runs: p50 {_pct(best, 0.5) * 1e6:.0f} µs, p99 {_pct(best, 0.99) * 1e6:.0f} µs; "
        f"median run: p50 {_pct(middle, 0.5) * 1e6:.0f} µs, p99 {_pct(middle, 0.99) * 1e6:.0f} µs"
    )


async def _sim_closes(clock: SimClock, reps: int) -> list[float]:
    walls, _ = await _closes(clock, 0, reps, 2)
    return walls


def main(quick: bool = False) -> None:
    reps, repeats = (50, 3) if quick else (300, 7)
    runs = _repeated(lambda clock: _instant_closes(clock, reps), repeats)
    print(f"(a) two-leg close, framework overhead (venues answering at once), zero latency: {_figures(runs)}; "
          "target p50 ≤ 200 µs; before this round, back to back: p50 175–201 µs, median runs 196–221 µs")  # fmt: skip
    runs = _repeated(lambda clock: _sim_closes(clock, reps), repeats)
    print(f"(a2) the same close on the simulated venues (their matching and accounting included): {_figures(runs)}; "
          "before this round, back to back: p50 212–259 µs, median runs 283–334 µs; in issue 19, which timed "
          "this close: p50 1,779 µs, p99 2,690 µs")  # fmt: skip

    wall = WallClock()
    lat_reps = 5 if quick else 15
    two, _ = asyncio.run(_closes(wall, 50, lat_reps, 2))
    one, _ = asyncio.run(_closes(wall, 50, lat_reps, 1))
    ratio = statistics.median(two) / statistics.median(one)
    two_ms, one_ms = statistics.median(two) * 1e3, statistics.median(one) * 1e3
    print(
        f"(b) 50 ms latency: two-leg close {two_ms:.0f} ms, one-leg {one_ms:.0f} ms, ratio {ratio:.2f} (target ≤ 1.2; "
        "before this round: 253 ms, one position read more per leg)"
    )
    _, skews = asyncio.run(_closes(wall, 0, reps, 2))
    s50, s99 = _pct(skews, 0.5) * 1e6, _pct(skews, 0.99) * 1e6
    print(f"(c) leg skew, zero latency, real time: p50 {s50:.0f} µs, p99 {s99:.0f} µs")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
