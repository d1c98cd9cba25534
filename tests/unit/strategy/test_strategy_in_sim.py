"""The default strategy's decisions on the sim's funding process, hour by hour, against perfect foresight.

Decision level: the signal, the scanner with the cost model, and the exit waterfall with their defaults (what the
bot runs with `[strategy]` and `[risk_manager] kind = "combined"` left at their defaults), on the rates of a
`SimWorld`; orders are not simulated, every round trip is charged the cost model's estimate, and funding accrues at
the hour's spread. The perfect-foresight schedule (a dynamic programme over out / in one direction / in the other,
per symbol) is charged the same costs. Two venues as in the starter config: an Aster-like one (8 h funding, maker
1 bp / taker 3.5 bp) and a Lighter-like one (1 h, no fees).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from fundarb_core.config import StrategyConfig
from fundarb_core.model import PositionStatus
from fundarb_core.model.records import PositionRecord
from fundarb_core.strategy import PositionView
from fundarb_core.strategy.costs import CostModel
from fundarb_core.strategy.exits import ExitRules, Waterfall
from fundarb_core.strategy.scanner import Scanner
from fundarb_core.strategy.signal import SpreadSignal
from fundarb_core.venues import FundingRate, Instrument
from fundarb_core.venues.sim.world import STEP, SimWorld

START = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
STEPS_PER_HOUR = int(3600 / STEP)
VENUES = {"aster": (timedelta(hours=8), "0.0001", "0.00035"), "lighter": (timedelta(hours=1), "0", "0")}
SYMBOLS = ("BTC", "ETH")
WARMUP_HOURS = 48  # the bot seeds the signal from settled history; here it watches the rates this long first
DAYS = 14


def instruments() -> dict[str, dict[str, Instrument]]:
    out: dict[str, dict[str, Instrument]] = {}
    for venue, (interval, maker, taker) in VENUES.items():
        out[venue] = {
            s: Instrument(
                s,
                s,
                Decimal("0.01"),
                Decimal("0.001"),
                Decimal("0.001"),
                Decimal(5),
                Decimal(10),
                interval,
                Decimal(maker),
                Decimal(taker),
            )
            for s in SYMBOLS
        }
    return out


@attrs.define
class Outcome:
    pnl: Decimal  # funding earned minus every round trip's cost, per unit of notional
    trips: int
    cost: Decimal  # what the round trips cost
    foresight: Decimal  # the perfect-foresight schedule's net, same costs


def hourly_rates(world: SimWorld, hour: int) -> dict[str, dict[str, Decimal]]:
    step = hour * STEPS_PER_HOUR
    return {v: {s: Decimal(repr(world.hourly_rate(v, s, step))) for s in SYMBOLS} for v in VENUES}


def quotes(hourly: dict[str, dict[str, Decimal]], now: datetime) -> dict[str, dict[str, FundingRate]]:
    out: dict[str, dict[str, FundingRate]] = {}
    for venue, by_symbol in hourly.items():
        interval = VENUES[venue][0]
        hours = int(interval / HOUR)
        due = START + ((now - START) // interval + 1) * interval
        out[venue] = {s: FundingRate(s, h * hours, interval, due, Decimal(100)) for s, h in by_symbol.items()}
    return out


def run(seed: int, bias: dict[str, float]) -> Outcome:
    world = SimWorld(seed, START)
    for venue in VENUES:
        for symbol in SYMBOLS:
            world.register(venue, symbol, bias.get(venue, 0.0))
    config = StrategyConfig()
    instr = instruments()
    costs = CostModel(config, instr)
    signal = SpreadSignal(config.signal_window)
    scanner = Scanner(config, instr, signal=signal, costs=costs)
    exits = Waterfall.of(ExitRules())
    held: dict[str, tuple[PositionRecord, Decimal]] = {}  # symbol → (position, entry spread)
    pnl = spent = Decimal(0)
    trips = 0
    path: list[dict[str, dict[str, Decimal]]] = []
    for hour in range(WARMUP_HOURS + DAYS * 24):
        now = START + hour * HOUR
        hourly = hourly_rates(world, hour)
        rates = quotes(hourly, now)
        for venue in VENUES:
            signal.observe(venue, rates[venue], now)
        if hour < WARMUP_HOURS:
            continue
        path.append(hourly)
        for symbol, (position, entry) in list(held.items()):
            current = hourly[position.short_venue][symbol] - hourly[position.long_venue][symbol]
            view = PositionView(
                position, now, entry, current, {v: rates[v][symbol] for v in VENUES}, {},
                signal_spread=signal.spread(symbol, position.long_venue, position.short_venue),
            )  # fmt: skip
            if exits.should_exit(view).exit:
                del held[symbol]
        for opp in scanner.scan(rates, now):
            if opp.symbol in held:
                continue
            position = PositionRecord(
                f"p{hour}{opp.symbol}", opp.symbol, PositionStatus.OPEN, opp.long_venue, opp.short_venue,
                Decimal(1), created_at=now, updated_at=now, opened_at=now,
            )  # fmt: skip
            held[opp.symbol] = (position, opp.spread)
            trips += 1
            spent += round_trip(costs, opp.symbol, opp.long_venue, opp.short_venue)
        for symbol, (position, _) in held.items():  # this hour's funding
            pnl += hourly[position.short_venue][symbol] - hourly[position.long_venue][symbol]
    return Outcome(pnl - spent, trips, spent, foresight(path, costs))


def round_trip(costs: CostModel, symbol: str, long_venue: str, short_venue: str) -> Decimal:
    return costs.round_trip(symbol, long_venue, short_venue).total


def foresight(path: list[dict[str, dict[str, Decimal]]], costs: CostModel) -> Decimal:
    """The best schedule knowing every future rate: per symbol, out or in either direction, each entry charged."""
    total = Decimal(0)
    a, b = VENUES
    for symbol in SYMBOLS:
        directions = [(a, b), (b, a)]
        entry = [round_trip(costs, symbol, lv, sv) for lv, sv in directions]
        best = [Decimal(0), -entry[0], -entry[1]]  # value so far: out, in (long a, short b), in (long b, short a)
        for hourly in path:
            earn = [hourly[sv][symbol] - hourly[lv][symbol] for lv, sv in directions]
            out = max(best)
            best = [out] + [max(best[i + 1], out - entry[i]) + earn[i] for i in range(2)]
        total += max(best)
    return total


@pytest.mark.parametrize("seed", [1, 3])
def test_on_noise_alone_few_round_trips_and_no_loss_beyond_their_cost(seed: int) -> None:
    """No venue is biased: spreads wander between regimes (the sim's) with noise. Bound: at most one round trip per
    symbol per 5 days (4 in 14 days over two symbols), and the net is no worse than minus what they cost."""
    outcome = run(seed, {})
    assert outcome.trips <= len(SYMBOLS) * DAYS // 5, outcome
    assert outcome.pnl >= -outcome.cost, outcome


@pytest.mark.parametrize("seed", [1, 2])
def test_a_persistent_spread_is_captured_within_60_percent_of_perfect_foresight(seed: int) -> None:
    """Lighter's funding is biased up by 1 bp per hour (≈ 88 % APR, `funding_bias_bps_per_hour = 1`) on top of the
    regimes: short Lighter, long Aster pays. (Measured: 96–97 % of perfect foresight on seeds 1–4.)"""
    outcome = run(seed, {"lighter": 0.0001})
    assert outcome.foresight > 0
    assert outcome.pnl >= Decimal("0.6") * outcome.foresight, outcome
    # It stays in: no churn beyond the age limit's (one round trip per symbol per max_age, 168 h).
    assert outcome.trips <= len(SYMBOLS) * (DAYS * 24 // 168 + 1), outcome
