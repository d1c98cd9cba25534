"""The sim's funding model: the predicted rate moves, the settled rate is its time-weighted average over the
interval, the price premium follows funding, and a bias (only a bias) makes a persistent spread."""

from __future__ import annotations

import asyncio
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from fundarb_core.clock import SimClock
from fundarb_core.model import Side
from fundarb_core.venues import VenueContext
from fundarb_core.venues.sim import SimVenueConfig, SimWorld, build_sim_venue
from fundarb_core.venues.sim.world import FUNDING_STEPS, PREMIUM_HOURS, STEP

START = datetime(2026, 1, 1, tzinfo=UTC)


def _expected(world: SimWorld, venue: str, symbol: str, boundary: datetime, interval: timedelta) -> Decimal:
    """The interval's average of the instantaneous rate, summed step by step (each step weighs STEP seconds)."""
    first = max(0, world.last_step_before(boundary - interval) + 1)
    last = world.last_step_before(boundary)
    rates = [world.hourly_rate(venue, symbol, s) for s in range(first, last + 1)]
    hourly = max(-0.003, min(0.003, sum(rates) / len(rates)))
    return Decimal(repr(hourly * interval.total_seconds() / 3600)).quantize(Decimal("1e-8"))


@settings(deadline=None, max_examples=25)
@given(
    seed=st.integers(0, 10_000),
    profile=st.sampled_from(("aster-like", "lighter-like")),
    minutes=st.sampled_from((1, 2, 5, 15)),  # the same averaging as 1 h or 8 h, at a test's pace
    offset=st.integers(0, 3600),  # the world starts anywhere in the interval, off the step grid too
    micros=st.integers(0, 999_999),
)
def test_the_settled_rate_is_the_intervals_average_and_history_and_payments_agree(
    seed: int, profile: str, minutes: int, offset: int, micros: int
) -> None:
    start = START + timedelta(seconds=offset, microseconds=micros)

    async def scenario(clock: SimClock) -> None:
        config = SimVenueConfig(
            profile=profile,  # type: ignore[arg-type]
            seed=seed,
            symbols=["SOL"],
            funding_interval=timedelta(minutes=minutes),
        )
        venue = build_sim_venue("sim", config, VenueContext(clock))
        instrument = venue.instruments["SOL"]
        interval = instrument.funding_interval
        bbo = await venue.fetch_bbo_prices("SOL")
        qty = instrument.round_qty(Decimal(200) / bbo.ask) or instrument.min_qty
        await venue.place_market_order("SOL", Side.BUY, qty, worst_price=bbo.ask * 2, client_order_id="o")
        first = (await venue.fetch_funding_rates(["SOL"]))["SOL"]
        seen = {first.rate}
        while clock.now() < first.next_funding_time + interval:
            await clock.sleep(interval / 7)
            seen.add((await venue.fetch_funding_rates(["SOL"]))["SOL"].rate)
        if minutes >= 5:  # the rate moves every minute
            assert len(seen) > 2, "the predicted rate moves during the interval"
        await clock.sleep(STEP)  # the venue settles at the first price step at or after the funding time
        payments = await venue.fetch_funding_payments("SOL", start)
        history = await venue.fetch_funding_history("SOL", start, clock.now())
        assert history, "history serves the past"
        settled = {h.at: h.rate for h in history}
        assert len(payments) == 2
        assert all(settled[p.at] == p.rate for p in payments), "history says what was settled"
        for payment in payments:
            assert payment.rate == _expected(venue.world, "sim", "SOL", payment.at, interval)

    clock = SimClock(start)
    asyncio.run(clock.run(scenario(clock)))


def _gaps(bias_a: float, days: int, seed: int = 5) -> tuple[list[float], list[float]]:
    """Per minute: the funding spread a − b (bp per hour, instantaneous) and the price gap a over b (bps)."""
    world = SimWorld(seed, START)
    world.register("a", "BTC", bias_a)
    world.register("b", "BTC", 0.0)
    spread, price = [], []
    for minute in range(days * 24 * 60):
        step = minute * FUNDING_STEPS
        spread.append((world.hourly_rate("a", "BTC", step) - world.hourly_rate("b", "BTC", step)) * 10_000)
        price.append((world.venue_mid("a", "BTC", step) / world.venue_mid("b", "BTC", step) - 1) * 10_000)
    return spread, price


def test_a_venue_paying_more_funding_trades_rich_by_its_premium() -> None:
    spread, price = _gaps(0.5e-4, days=4)  # a pays 0.5 bp per hour more on average
    assert statistics.fmean(price) > 3
    # 1 bp/h more funding ↔ 8 bps of premium (the rest of the price gap is microstructure noise around it)
    assert abs(statistics.fmean(price) - PREMIUM_HOURS * statistics.fmean(spread)) < 0.3
    assert statistics.correlation(spread, price) > 0.5


def test_no_bias_means_noise_around_zero_and_a_bias_means_a_persistent_spread() -> None:
    noise, _ = _gaps(0.0, days=8)
    biased, _ = _gaps(0.5e-4, days=8)
    assert abs(statistics.fmean(noise)) < 0.1
    assert abs(statistics.fmean(biased) - 0.5) < 0.1
    assert sum(s > 0 for s in biased) / len(biased) > 0.9  # persistent: the spread keeps its sign
    assert 0.25 < sum(s > 0 for s in noise) / len(noise) < 0.75  # noise: it does not
    assert STEP * FUNDING_STEPS == 60
