"""The replay venue checks a position's maintenance margin at every corner of the intrabar path, but skips a
candle's corners when no mark on it could breach (`ReplayVenue._may_liquidate`). The skip must never change an
outcome: with random paths, sides and maintenance ratios, a venue that checks every corner and one that skips
liquidate at the same time and mark and settle the same funding, whether candles are an hour apart, closer (a
corner after the next candle opens is priced on that one) or further (a gap: the last close carries forward)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from fundarb_core.clock import SimClock
from fundarb_core.model import Side
from fundarb_core.venues.replay import ReplayVenueConfig
from fundarb_core.venues.replay.data import ReplayData, Series
from fundarb_core.venues.replay.venue import ReplayVenue

T0 = datetime(2025, 5, 1, tzinfo=UTC)
HOUR_MS = 3_600_000
CENT = Decimal("0.01")


class EveryCorner(ReplayVenue):
    def _may_liquidate(self, symbol: str, candle: tuple[Decimal, ...]) -> bool:
        return True


def _data(moves: list[tuple[int, int, int, int]]) -> ReplayData:
    """Candles `gap` minutes apart: an hour usually, less (overlapping spans) or more (a gap) at times."""
    s = Series()
    close = Decimal(100)
    at = int(T0.timestamp()) * 1000
    for move, up, down, gap in moves:
        o = close
        close = (o * (1 + Decimal(move) / 1000)).quantize(CENT)
        high = (max(o, close) * (1 + Decimal(up) / 1000)).quantize(CENT)
        low = (min(o, close) * (1 - Decimal(down) / 1000)).quantize(CENT)
        s.candle_at.append(at)
        s.candles.append((str(o), str(high), str(low), str(close)))
        s.funding_at.append(at)
        s.funding_rate.append("0.0001")
        s.funding_interval.append(3600)
        at += gap * 60_000
    return ReplayData("rec", HOUR_MS, {"BTC": s})


async def _run(cls: type[ReplayVenue], data: ReplayData, mmr: str, side: Side,
               waits: list[int]) -> tuple[object, ...]:  # fmt: skip
    clock = SimClock(T0 + timedelta(minutes=1))
    config = ReplayVenueConfig(maker_fee=Decimal(0), taker_fee=Decimal("0.0005"), spread_bps=Decimal(0),
                               maintenance_margin_ratio=Decimal(mmr))  # fmt: skip
    venue = cls("r", config, clock, data)
    worst = Decimal(1000) if side is Side.BUY else Decimal(1)
    await clock.run(venue.place_market_order("BTC", side, Decimal(1), worst_price=worst, client_order_id="o-1"))
    for minutes in waits:
        await clock.advance(timedelta(minutes=minutes))
        await clock.run(venue.fetch_funding_payments(None, T0))  # catches the venue up to now
    return (
        [(n.at, n.price, n.quantity) for n in venue.liquidation_log],
        [(p.at, p.amount, p.mark_price) for p in venue.payments],
        venue.ledger.cash,
        venue.ledger.liquidations,
        venue.ledger.liquidation_charges,
    )


@settings(deadline=None)
@given(
    moves=st.lists(
        st.tuples(
            st.integers(-90, 90), st.integers(0, 60), st.integers(0, 60), st.sampled_from([20, 45, 60, 60, 60, 150])
        ),
        min_size=2,
        max_size=8,
    ),
    mmr=st.sampled_from(["0.01", "0.03", "0.06", "0.09"]),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    waits=st.lists(st.integers(1, 150), min_size=1, max_size=6),
)
async def test_skipping_safe_corners_changes_no_outcome(
    moves: list[tuple[int, int, int, int]], mmr: str, side: Side, waits: list[int]
) -> None:
    checked = await _run(EveryCorner, _data(moves), mmr, side, waits)
    skipped = await _run(ReplayVenue, _data(moves), mmr, side, waits)
    assert skipped == checked


async def test_a_candle_that_opens_early_prices_the_last_corners_of_the_one_before() -> None:
    """Candle A (safe all through) is followed 20 minutes later by B, which falls to 95: A's corner at 00:59:59.999
    is priced on B's path (just above 95) and liquidates the long there. A's corners are not skipped: the next
    candle opens inside its span."""
    start = int(T0.timestamp()) * 1000
    rows = [(0, ("100", "100.5", "99.5", "100")), (20, ("99.8", "99.9", "95", "96")), (80, ("96", "96", "96", "96"))]

    def data() -> ReplayData:
        s = Series()
        for minutes, candle in rows:
            s.candle_at.append(start + minutes * 60_000)
            s.candles.append(candle)
            s.funding_at.append(start + minutes * 60_000)
            s.funding_rate.append("0.0001")
            s.funding_interval.append(3600)
        return ReplayData("rec", HOUR_MS, {"BTC": s})

    checked = await _run(EveryCorner, data(), "0.09", Side.BUY, [90])
    skipped = await _run(ReplayVenue, data(), "0.09", Side.BUY, [90])
    assert skipped == checked
    assert checked[0] == [(T0 + timedelta(minutes=60) - timedelta(milliseconds=1), Decimal("95"), Decimal(1))]
