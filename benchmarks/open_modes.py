#!/usr/bin/env python3
"""Leg skew and basis cost of the open modes (`both_maker` vs `maker_hedge`) on the simulated venues.

    .venv/bin/python benchmarks/open_modes.py [--quick] [--trials N]

Each trial builds an aster-like (8 h funding, 1 / 3.5 bp fees, 2 bp spread) and a lighter-like (1 h, no fees, 3 bp
spread) sim venue on a fresh world (seed = trial), lets a random 0–6 h of market pass, then opens about 1000 USD of
one of the starter config's symbols, long where funding is lower and short where it is higher, through the
`AtomicExecutor` as the position book does (limit offset 1 bp, 30 s timeout), once per mode on the same world and
moment. Measured per open:

- basis cost: what the executed prices cost against each venue's mid at the decision, long and short leg summed
  (bp of the notional; positive = cost), and fees (bp);
- leg skew in time: between the two legs' first fills, and between their last fills (seconds);
- leg skew in quantity: the largest unhedged quantity during the open (% of the target) and the unhedged
  exposure integrated over time (seconds of the whole target unhedged).

Printed: mean and median (and p90 for the skews) per mode. Decides the `[strategy] open_mode` default.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from fundarb_core.clock import SimClock
from fundarb_core.execution import AtomicExecutor, OpenMode, OrderExecutor, OrderSpec
from fundarb_core.model import Side
from fundarb_core.venues.sim import SimVenueConfig
from fundarb_core.venues.sim.book import SimOrder
from fundarb_core.venues.sim.venue import SimVenue
from fundarb_core.venues.sim.world import SimWorld

START = datetime(2026, 1, 1, tzinfo=UTC)
SYMBOLS = ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE")  # the starter config's
NOTIONAL = Decimal(1000)


class RecordingVenue(SimVenue):
    """A sim venue that notes every fill (clock time, signed quantity)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fill_log: list[tuple[float, Decimal]] = []

    def _fill(self, order: SimOrder, qty: Decimal, price: Decimal, *, maker: bool, at: datetime) -> bool:
        before = order.filled_qty
        ok = super()._fill(order, qty, price, maker=maker, at=at)
        if ok:
            self.fill_log.append(((at - START).total_seconds(), order.side.sign * (order.filled_qty - before)))
        return ok

    def decision_mid(self, symbol: str) -> Decimal:
        self.sync()
        bids, asks = self._levels(symbol, self.last_step)
        return (bids[0].price + asks[0].price) / 2


async def one_open(clock: SimClock, trial: int, mode: OpenMode) -> dict[str, float]:
    world = SimWorld(trial, START)
    symbol = SYMBOLS[trial % len(SYMBOLS)]
    profiles: tuple[tuple[str, Literal["aster-like", "lighter-like"]], ...] = (
        ("aster", "aster-like"),
        ("lighter", "lighter-like"),
    )
    venues = {
        name: RecordingVenue(name, SimVenueConfig(profile=profile, seed=trial, symbols=[symbol]), clock, world)
        for name, profile in profiles
    }
    instruments = {name: dict(v.instruments) for name, v in venues.items()}
    orders = OrderExecutor(venues, instruments, clock)
    atomic = AtomicExecutor(orders)
    await clock.sleep(random.Random(trial).uniform(0, 6 * 3600))
    # As the strategy does: long where funding is lower (that venue trades cheaper), short where it is higher.
    now = world.step_at(clock.now())
    hourly = {name: world.hourly_rate(name, symbol, now) for name in venues}
    long_name, short_name = sorted(venues, key=lambda n: hourly[n])
    mids = {name: v.decision_mid(symbol) for name, v in venues.items()}
    step = max(i[symbol].step_size for i in instruments.values())
    qty = NOTIONAL / mids["aster"] // step * step
    specs = [
        OrderSpec(venue=name, symbol=symbol, side=side, quantity=qty, intent_id=f"t{trial}:open:{name}",
                  limit_offset_bps=Decimal(1), timeout=timedelta(seconds=30))
        for name, side in ((long_name, Side.BUY), (short_name, Side.SELL))
    ]  # fmt: skip
    decided = (clock.now() - START).total_seconds()
    try:
        result = await atomic.open(specs, mode=mode)
    finally:
        await orders.aclose()
    cost = Decimal(0)
    fees = Decimal(0)
    for name, side in ((long_name, Side.BUY), (short_name, Side.SELL)):
        venue = venues[name]
        notional = sum((o.notional for o in venue.orders.values()), Decimal(0))
        filled = sum((o.filled_qty for o in venue.orders.values()), Decimal(0))
        fees += sum((o.fees for o in venue.orders.values()), Decimal(0))
        if filled:
            avg = notional / filled
            cost += (avg - mids[name]) / mids[name] * side.sign * filled / qty
    log = sorted([(t, name, q) for name, v in venues.items() for t, q in v.fill_log], key=lambda x: (x[0], x[1]))
    firsts = {name: min((t for t, n, _ in log if n == name), default=None) for name in venues}
    lasts = {name: max((t for t, n, _ in log if n == name), default=None) for name in venues}
    held = dict.fromkeys(venues, Decimal(0))
    worst, exposure, prev_t = Decimal(0), 0.0, decided
    for t, name, q in log:
        gap = abs(held["aster"] + held["lighter"])
        exposure += float(gap / qty) * (t - prev_t)
        held[name] += q
        worst = max(worst, abs(held["aster"] + held["lighter"]))
        prev_t = t
    both = all(v is not None for v in firsts.values())
    return {
        "cost_bps": float(cost * 10_000),
        "fees_bps": float(fees / (qty * mids["aster"]) * 10_000),
        "first_skew_s": abs(firsts["aster"] - firsts["lighter"]) if both else float("nan"),  # type: ignore[operator]
        "last_skew_s": abs(lasts["aster"] - lasts["lighter"]) if both else float("nan"),  # type: ignore[operator]
        "max_unhedged_pct": float(worst / qty * 100),
        "unhedged_s": exposure,
        "ok": float(result.ok),
        "duration_s": (clock.now() - START).total_seconds() - decided,
    }


def _summary(rows: list[dict[str, float]], key: str, p90: bool = False) -> str:
    values = sorted(r[key] for r in rows if r[key] == r[key])
    if not values:
        return f"{key}: n/a"
    text = f"{key} mean {statistics.fmean(values):+.2f} median {statistics.median(values):+.2f}"
    if p90:
        text += f" p90 {values[int(0.9 * (len(values) - 1))]:+.2f}"
    return text


def main(quick: bool = False) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20 if quick else 200)
    args, _ = parser.parse_known_args()
    totals: dict[str, list[float]] = {}
    for mode in ("both_maker", "maker_hedge"):
        rows = []
        for trial in range(args.trials):
            clock = SimClock(START)
            rows.append(asyncio.run(clock.run(one_open(clock, trial, mode), limit=timedelta(days=1))))
        cost = totals[mode] = [r["cost_bps"] + r["fees_bps"] for r in rows]
        print(f"open {mode}: {args.trials} opens of ~{NOTIONAL} USD, ok {sum(r['ok'] for r in rows):.0f}")
        print("  " + _summary(rows, "cost_bps") + " · " + _summary(rows, "fees_bps")
              + f" · basis + fees mean {statistics.fmean(cost):+.2f} bp")  # fmt: skip
        print("  " + _summary(rows, "first_skew_s", True) + " · " + _summary(rows, "last_skew_s", True))
        print("  " + _summary(rows, "max_unhedged_pct", True) + " · " + _summary(rows, "unhedged_s", True)
              + " · " + _summary(rows, "duration_s"))  # fmt: skip
    diff = [h - b for h, b in zip(totals["maker_hedge"], totals["both_maker"], strict=True)]
    half = 1.96 * statistics.stdev(diff) / len(diff) ** 0.5 if len(diff) > 1 else float("nan")
    print(f"maker_hedge − both_maker, basis + fees per open (paired, same world and moment): "
          f"{statistics.fmean(diff):+.2f} ± {half:.2f} bp (95 %)")  # fmt: skip


if __name__ == "__main__":
    import sys

    main(quick="--quick" in sys.argv)
