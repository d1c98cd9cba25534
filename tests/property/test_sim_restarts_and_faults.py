"""The simulated venue across restarts (persistence) and under its seeded faults.

- A venue saved to its state file and rebuilt finds its positions, orders, balance and payments unchanged, and from
  then on behaves exactly as a twin that never stopped: funding, resting fills and liquidations during the
  downtime included.
- Every fault is typed and honest: a rate limit or an outage did nothing, an ambiguous outcome did something (the
  order exists and `get_order` finds it), a maintenance window refuses everything, a dropped stream raises.

Everything runs in simulated time; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fundarb_core.clock import SimClock
from fundarb_core.convert import get_converter
from fundarb_core.errors import AmbiguousOutcome, RateLimited, VenueError, VenueRejected, VenueUnavailable
from fundarb_core.model import OrderStatus, RejectReason, Side
from fundarb_core.venues import VenueContext
from fundarb_core.venues.sim import FaultConfig, MaintenanceWindow, SimVenue, SimVenueConfig, build_sim_venue

T = TypeVar("T")
START = datetime(2026, 1, 1, tzinfo=UTC)
SYMBOLS = ["BTC", "SOL"]


def drive(scenario: Callable[[SimClock], Coroutine[Any, Any, T]], start: datetime = START) -> T:
    clock = SimClock(start)
    return asyncio.run(clock.run(scenario(clock)))


async def capture(call: Coroutine[Any, Any, T]) -> T | VenueError:
    """The call's result, or the venue error it raised."""
    try:
        return await call
    except VenueError as error:
        return error


def public(value: object) -> object:
    """The unstructured form of a value."""
    return get_converter().unstructure(value)


def state_of(venue: SimVenue) -> tuple[object, ...]:
    """What a sim venue must carry across a restart: its account, the house, orders, history and generators."""
    ledger = venue.ledger
    return (
        (ledger.cash, ledger.house_cash, ledger.positions, ledger.house_positions, ledger.leverage),
        (venue.orders, venue.resting, venue._seq),
        (venue.payments, venue.liquidation_log, venue.last_step),
        (venue.flow_rng.getstate(), venue.fault_rng.getstate()),
    )


# A small request language: ("market", symbol, side, multiple) / ("limit", symbol, side, multiple, bps behind the
# touch) / ("cancel", index) / ("wait", seconds).
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("market"), st.sampled_from(SYMBOLS), st.sampled_from(Side), st.integers(1, 20)),
        st.tuples(
            st.just("limit"), st.sampled_from(SYMBOLS), st.sampled_from(Side), st.integers(1, 20), st.integers(-1, 5)
        ),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("wait"), st.integers(1, 1200)),
    ),
    max_size=12,
)


async def play(venue: SimVenue, clock: SimClock, steps: list[tuple[Any, ...]], prefix: str) -> list[object]:
    out: list[object] = []
    for n, step in enumerate(steps):
        if step[0] in ("market", "limit"):
            symbol, side, multiple = step[1], step[2], step[3]
            instrument = venue.instruments[symbol]
            bbo = await venue.fetch_bbo_prices(symbol)
            touch = bbo.bid if side is Side.BUY else bbo.ask
            cid = f"{prefix}{n}"
            try:
                if step[0] == "market":
                    worst = instrument.round_price(touch * (1 + Decimal(side.sign) / 50))
                    size = instrument.min_qty_at(worst) * multiple
                    out.append(
                        await venue.place_market_order(symbol, side, size, worst_price=worst, client_order_id=cid)
                    )
                else:
                    price = instrument.round_price(touch * (1 - Decimal(side.sign * step[4]) / 10_000))
                    size = instrument.min_qty_at(price) * multiple
                    out.append(await venue.place_limit_order(symbol, side, size, price, client_order_id=cid))
            except VenueRejected as error:
                out.append(str(error))
        elif step[0] == "cancel" and venue.orders:
            cid = sorted(venue.orders)[step[1] % len(venue.orders)]
            out.append(await venue.cancel_order(venue.orders[cid].symbol, cid))
        elif step[0] == "wait":
            await clock.sleep(step[1])
    return out


async def view(venue: SimVenue) -> list[object]:
    """Everything the venue reports about the account."""
    records: list[object] = [public(await venue.fetch_balance())]
    records += [public(await venue.get_position_snapshot(s)) for s in SYMBOLS]
    records += [public(await venue.get_order(venue.orders[c].symbol, c)) for c in sorted(venue.orders)]
    records += [public(p) for p in await venue.fetch_funding_payments(None, START)]
    records += [public(n) for n in venue.liquidation_log]
    return records


# -- persistence -------------------------------------------------------------------------------------------------


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(("aster-like", "lighter-like")),
    before=STEPS,
    downtime=st.integers(5, 4 * 3600),
    after=STEPS,
)
def test_a_restarted_venue_ends_where_an_uninterrupted_one_does(
    profile: str, before: list[tuple[Any, ...]], downtime: int, after: list[tuple[Any, ...]]
) -> None:
    config = SimVenueConfig(
        profile=profile,  # type: ignore[arg-type]
        symbols=SYMBOLS,
        funding_interval=timedelta(minutes=30),
        maintenance_margin_ratio=Decimal("0.035"),  # at 25x (SOL's maximum) a small move liquidates
    )

    async def twin(clock: SimClock) -> list[object]:
        venue = build_sim_venue("sim", config, VenueContext(clock))
        await venue.set_leverage("SOL", Decimal(25))
        await play(venue, clock, before, "a")
        await view(venue)  # what the first life looks at before it stops
        await clock.sleep(downtime)
        await view(venue)  # what the rebuilt venue is asked first: the same calls at the same simulated times
        return [*(await play(venue, clock, after, "b")), *(await view(venue))]

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)

        async def first_life(clock: SimClock) -> tuple[datetime, tuple[object, ...]]:
            venue = build_sim_venue("sim", config, VenueContext(clock, data_dir=data_dir))
            await venue.set_leverage("SOL", Decimal(25))
            await play(venue, clock, before, "a")
            await view(venue)
            await venue.close()
            return clock.now(), state_of(venue)

        stopped, saved = drive(first_life)
        assert (data_dir / "sim" / "sim.json").is_file()

        async def rebuilt(clock: SimClock) -> list[object]:
            venue = build_sim_venue("sim", config, VenueContext(clock, data_dir=data_dir))
            assert venue.world.start == START, "the world was not re-derived from the saved start"
            # Compared before any call: a call costs simulated latency, and time passing may change things.
            assert state_of(venue) == saved, "the restarted venue lost or changed state"
            await view(venue)  # the first call replays the downtime
            return [*(await play(venue, clock, after, "b")), *(await view(venue))]

        resumed = drive(rebuilt, start=stopped + timedelta(seconds=downtime))
    assert resumed == drive(twin), "after a restart the venue diverged from one that never stopped"
    event(f"payments: {sum(1 for r in resumed if isinstance(r, dict) and 'payment_id' in r) > 0}")


def test_a_restart_replays_the_downtime() -> None:
    """Funding falls due while the bot is stopped; the restarted venue books it, as the real venue would have."""

    async def first_life(clock: SimClock, data_dir: Path) -> datetime:
        venue = build_sim_venue("sim", SimVenueConfig(profile="lighter-like"), VenueContext(clock, data_dir=data_dir))
        bbo = await venue.fetch_bbo_prices("ETH")
        await venue.place_market_order("ETH", Side.SELL, Decimal(1), worst_price=bbo.bid / 2, client_order_id="s")
        await venue.close()
        return clock.now()

    async def second_life(clock: SimClock, data_dir: Path) -> int:
        await clock.sleep(timedelta(hours=3))
        venue = build_sim_venue("sim", SimVenueConfig(profile="lighter-like"), VenueContext(clock, data_dir=data_dir))
        payments = await venue.fetch_funding_payments("ETH", START)
        assert [p.at for p in payments] == [START + timedelta(hours=h) for h in (1, 2, 3)]
        assert (await venue.get_position_snapshot("ETH")).funding_accrued == sum(p.amount for p in payments)
        return len(payments)

    with tempfile.TemporaryDirectory() as tmp:
        stopped = drive(lambda clock: first_life(clock, Path(tmp)))
        assert drive(lambda clock: second_life(clock, Path(tmp)), start=stopped) == 3


# -- faults ------------------------------------------------------------------------------------------------------

PROBABILITIES = st.sampled_from((Decimal(0), Decimal("0.2"), Decimal("0.5")))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    rate_limit=PROBABILITIES,
    unavailable=PROBABILITIES,
    ambiguous=PROBABILITIES,
    reject=PROBABILITIES,
    sides=st.lists(st.sampled_from(Side), min_size=1, max_size=10),
)
def test_every_fault_is_typed_and_honest(
    seed: int, rate_limit: Decimal, unavailable: Decimal, ambiguous: Decimal, reject: Decimal, sides: list[Side]
) -> None:
    faults = FaultConfig(
        seed=seed,
        rate_limit_probability=rate_limit,
        retry_after=timedelta(seconds=2),
        unavailable_probability=unavailable,
        ambiguous_probability=ambiguous,
        reject_probability=reject,
    )

    async def scenario(clock: SimClock) -> list[str]:
        venue = build_sim_venue("sim", SimVenueConfig(profile="aster-like", faults=faults), VenueContext(clock))
        outcomes = []
        for n, side in enumerate(sides):
            cid = f"o{n}"
            bbo = await capture(venue.fetch_bbo_prices("ETH"))
            if isinstance(bbo, BaseException):
                assert isinstance(bbo, VenueUnavailable), bbo  # a query meets only transient faults
                assert bbo.transient
                outcomes.append(type(bbo).__name__)
                continue
            worst = venue.instruments["ETH"].round_price(bbo.ask * 2 if side is Side.BUY else bbo.bid / 2)
            position = venue.ledger.position("ETH").qty
            result = await capture(
                venue.place_market_order("ETH", side, Decimal("0.01"), worst_price=worst, client_order_id=cid)
            )
            outcome = type(result).__name__
            if isinstance(result, RateLimited):
                assert (result.status, result.retry_after, result.transient) == (429, 2.0, True)
                assert cid not in venue.orders, "a rate-limited request was carried out"
            elif isinstance(result, VenueUnavailable):
                assert (result.status, result.transient) == (503, True)
                assert cid not in venue.orders, "a request that met an outage was carried out"
            elif isinstance(result, AmbiguousOutcome):
                assert result.client_order_id == cid
                assert not result.transient
                assert venue.orders[cid].status is OrderStatus.FILLED, "an ambiguous order did not reach the venue"
                assert venue.ledger.position("ETH").qty == position + side.sign * Decimal("0.01")
            elif isinstance(result, VenueRejected):
                assert result.reason == RejectReason.OTHER
                assert venue.orders[cid].status is OrderStatus.REJECTED
                assert venue.ledger.position("ETH").qty == position
            else:
                assert not isinstance(result, BaseException), result
                assert result.status is OrderStatus.FILLED
                outcome = "filled"
            outcomes.append(outcome)
            event(outcome)
        return outcomes

    first = drive(scenario)
    assert first == drive(scenario), "faults are seeded: the same seed gives the same faults"


def test_an_ambiguous_order_is_found_by_its_client_id() -> None:
    async def scenario(clock: SimClock) -> None:
        faults = FaultConfig(ambiguous_probability=Decimal(1))
        venue = build_sim_venue("sim", SimVenueConfig(faults=faults), VenueContext(clock))
        bbo = await venue.fetch_bbo_prices("BTC")
        with pytest.raises(AmbiguousOutcome) as info:
            await venue.place_limit_order("BTC", Side.BUY, Decimal("0.01"), bbo.bid, client_order_id="maybe")
        assert info.value.client_order_id == "maybe"
        found = await venue.get_order("BTC", "maybe")
        assert found is not None
        assert (found.status, found.quantity, found.price) == (OrderStatus.OPEN, Decimal("0.01"), bbo.bid)

    drive(scenario)


@pytest.mark.parametrize(
    ("faults", "error", "status"),
    [
        (FaultConfig(rate_limit_probability=Decimal(1), retry_after=timedelta(seconds=7)), RateLimited, 429),
        (FaultConfig(unavailable_probability=Decimal(1)), VenueUnavailable, 503),
    ],
    ids=["429", "503"],
)
def test_certain_faults_refuse_every_call(faults: FaultConfig, error: type[VenueError], status: int) -> None:
    async def scenario(clock: SimClock) -> None:
        venue = build_sim_venue("sim", SimVenueConfig(faults=faults), VenueContext(clock))
        calls = [
            venue.load_instruments(),
            venue.fetch_funding_rates(),
            venue.fetch_bbo_prices("BTC"),
            venue.fetch_balance(),
            venue.get_order("BTC", "x"),
            venue.place_market_order(
                "BTC", Side.BUY, Decimal("0.01"), worst_price=Decimal(90_000), client_order_id="x"
            ),
        ]
        for call in calls:
            with pytest.raises(error) as info:
                await call
            assert info.value.status == status
            if isinstance(info.value, RateLimited):
                assert info.value.retry_after == 7.0
            else:
                assert not isinstance(info.value, RateLimited)
        assert venue.orders == {}

    drive(scenario)


def test_a_maintenance_window_refuses_everything_inside_it() -> None:
    window = MaintenanceWindow(start=START + timedelta(hours=1), duration=timedelta(minutes=30))

    async def scenario(clock: SimClock) -> None:
        venue = build_sim_venue("sim", SimVenueConfig(faults=FaultConfig(maintenance=[window])), VenueContext(clock))
        bbo = await venue.fetch_bbo_prices("BTC")
        await clock.sleep_until(window.start)
        for call in (
            venue.fetch_bbo_prices("BTC"),
            venue.place_market_order("BTC", Side.BUY, Decimal("0.01"), worst_price=bbo.ask * 2, client_order_id="in"),
        ):
            with pytest.raises(VenueUnavailable) as info:
                await call
            assert (info.value.status, info.value.code, info.value.transient) == (503, "maintenance", True)
        await clock.sleep_until(window.start + window.duration)
        assert await venue.get_order("BTC", "in") is None, "an order sent during maintenance was carried out"
        fresh = await venue.fetch_bbo_prices("BTC")
        await venue.place_market_order(
            "BTC", Side.BUY, Decimal("0.01"), worst_price=fresh.ask * 2, client_order_id="out"
        )
        assert (await venue.get_position_snapshot("BTC")).quantity == Decimal("0.01")

    drive(scenario)


@pytest.mark.parametrize("stream", ["order_updates", "liquidations"])
def test_a_dropped_stream_raises_venue_unavailable(stream: str) -> None:
    async def scenario(clock: SimClock) -> timedelta:
        faults = FaultConfig(stream_disconnect_probability=Decimal(1))
        venue = build_sim_venue("sim", SimVenueConfig(profile="aster-like", faults=faults), VenueContext(clock))
        updates = getattr(venue, stream)()
        with pytest.raises(VenueUnavailable, match="stream disconnected"):
            await anext(updates)
        return clock.now() - START

    assert drive(scenario) == timedelta(seconds=5), "the stream should drop at its first poll, one step in"


def test_latency_is_simulated_time() -> None:
    latency = {"query": timedelta(milliseconds=40), "market_order": timedelta(milliseconds=250)}

    async def scenario(clock: SimClock) -> tuple[timedelta, timedelta]:
        venue = build_sim_venue("sim", SimVenueConfig(faults=FaultConfig(latency=latency)), VenueContext(clock))
        t0 = clock.now()
        bbo = await venue.fetch_bbo_prices("BTC")
        t1 = clock.now()
        await venue.place_market_order("BTC", Side.BUY, Decimal("0.01"), worst_price=bbo.ask * 2, client_order_id="o")
        return t1 - t0, clock.now() - t1

    assert drive(scenario) == (latency["query"], latency["market_order"])
