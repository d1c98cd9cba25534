"""The replay model: the intrabar price path, funding settled at the recorded times with the recorded rates and
intervals, and a gap that means no rate (the symbol is not offered), never a zero rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from fundarb_core.clock import SimClock
from fundarb_core.model import Side
from fundarb_core.venues.replay import ReplayVenueConfig
from fundarb_core.venues.replay.data import ReplayData, Series
from fundarb_core.venues.replay.venue import ReplayVenue

T0 = datetime(2025, 5, 1, tzinfo=UTC)
MS = 1000
HOUR_MS = 3_600_000


def ms(at: datetime) -> int:
    return int(at.timestamp()) * MS


def data() -> ReplayData:
    """BTC: hourly candles for 12 h; funding every hour except 04:00–06:00 (a gap). ETH: 8-hourly funding."""
    btc = Series()
    for h in range(12):
        btc.candle_at.append(ms(T0) + h * HOUR_MS)
        up = h % 2 == 0
        btc.candles.append(("100", "110", "95", "105") if up else ("105", "110", "95", "100"))
        if h not in (4, 5, 6):
            btc.funding_at.append(ms(T0) + h * HOUR_MS)
            btc.funding_rate.append(f"0.000{h + 1:02d}")
            btc.funding_interval.append(3600)
    eth = Series(funding_at=[ms(T0), ms(T0) + 8 * HOUR_MS], funding_rate=["0.0001", "-0.0002"],
                 funding_interval=[28800, 28800])  # fmt: skip
    for h in range(12):
        eth.candle_at.append(ms(T0) + h * HOUR_MS)
        eth.candles.append(("3000", "3000", "3000", "3000"))
    return ReplayData("rec", HOUR_MS, {"BTC": btc, "ETH": eth})


def venue(clock: SimClock, **kwargs: object) -> ReplayVenue:
    config = ReplayVenueConfig(maker_fee=Decimal(0), taker_fee=Decimal("0.0005"), spread_bps=Decimal(0), **kwargs)  # type: ignore[arg-type]
    return ReplayVenue("r", config, clock, data())


@pytest.mark.parametrize(
    ("minutes", "mid"),
    [(0, "100"), (10, "97.5"), (20, "95"), (30, "102.5"), (40, "110"), (50, "107.5"), (60, "105"),  # up: O L H C
     (70, "107.5"), (80, "110"), (100, "95"), (119, "99.75")],  # down: O H L C
)  # fmt: skip
def test_the_mid_follows_the_intrabar_path(minutes: int, mid: str) -> None:
    replay = venue(SimClock(T0))
    assert replay.mid_at("BTC", ms(T0) + minutes * 60 * MS) == Decimal(mid)


async def test_rates_are_the_last_settled_current_for_their_interval_and_a_gap_offers_nothing() -> None:
    clock = SimClock(T0 + timedelta(minutes=30))
    replay = venue(clock)
    rates = await clock.run(replay.fetch_funding_rates())
    assert rates["BTC"].rate == Decimal("0.00001")
    assert rates["BTC"].interval == timedelta(hours=1)
    assert rates["ETH"].rate == Decimal("0.0001")
    assert rates["ETH"].interval == timedelta(hours=8)
    assert rates["ETH"].next_funding_time == T0 + timedelta(hours=8)
    await clock.advance(timedelta(hours=4))  # 04:30, inside BTC's gap: no rate at all, not a zero rate
    rates = await clock.run(replay.fetch_funding_rates())
    assert "BTC" not in rates
    assert "ETH" in rates
    await clock.advance(timedelta(hours=3))  # 07:30: BTC's funding has resumed
    rates = await clock.run(replay.fetch_funding_rates())
    assert rates["BTC"].rate == Decimal("0.00008")
    await clock.advance(timedelta(hours=5))  # 12:30: past the candles, nothing is offered
    assert await clock.run(replay.fetch_funding_rates()) == {}


async def test_a_position_settles_at_the_recorded_times_with_the_recorded_rates() -> None:
    clock = SimClock(T0 + timedelta(minutes=30))
    replay = venue(clock)
    order = await clock.run(replay.place_market_order("BTC", Side.BUY, Decimal("1"), worst_price=Decimal(200),
                                                      client_order_id="buy-1"))  # fmt: skip
    assert order.filled_qty == 1
    await clock.advance(timedelta(hours=8))  # to 08:30
    payments = await clock.run(replay.fetch_funding_payments("BTC", T0))
    assert [p.at for p in payments] == [T0 + timedelta(hours=h) for h in (1, 2, 3, 7, 8)]  # none in the gap
    for p in payments:
        hour = int((p.at - T0).total_seconds()) // 3600
        assert p.rate == Decimal(f"0.000{hour + 1:02d}")
        assert p.mark_price == Decimal(100 if hour % 2 == 0 else 105)  # the candle's open at that time
        assert p.amount == -(p.mark_price * p.rate).quantize(Decimal("1e-8"))  # a long pays a positive rate
    assert replay.ledger.funding == sum(p.amount for p in payments)


async def test_history_methods_serve_the_record_up_to_now() -> None:
    clock = SimClock(T0 + timedelta(hours=3, minutes=5))
    replay = venue(clock)
    funding = await clock.run(replay.fetch_funding_history("BTC", T0, T0 + timedelta(days=1)))
    assert [f.at for f in funding] == [T0 + timedelta(hours=h) for h in range(4)]
    candles = await clock.run(replay.fetch_price_candles("BTC", timedelta(hours=1), T0, T0 + timedelta(days=1)))
    assert [c.at for c in candles] == [T0 + timedelta(hours=h) for h in range(3)]  # the 03:00 candle is not closed
    # A window is [start, end): its start is in, its end is out, and an empty or reversed one gives nothing.
    hour = timedelta(hours=1)
    funding = await clock.run(replay.fetch_funding_history("BTC", T0 + hour, T0 + 3 * hour))
    assert [f.at for f in funding] == [T0 + hour, T0 + 2 * hour]
    candles = await clock.run(replay.fetch_price_candles("BTC", hour, T0 + hour, T0 + 2 * hour))
    assert [c.at for c in candles] == [T0 + hour]
    assert await clock.run(replay.fetch_funding_history("BTC", T0 + 2 * hour, T0 + hour)) == []
    assert await clock.run(replay.fetch_price_candles("BTC", hour, T0 + 2 * hour, T0 + hour)) == []
