"""`market_stats/all` (marks for snapshots and funding rates) and `notification/{account}` (liquidation notices)
against the fake's websocket: streamed while current, REST otherwise; reconnects resubscribe; each notice once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from fundarb_venue_lighter.live import MarketStatsStream
from fundarb_venue_lighter.testing import FakeLighter
from fundarb_venue_lighter.venue import LighterVenue

from fundarb_core.model import Side

from .conftest import ACCOUNT

WAIT = 5.0  # seconds: a bound on a local socket, never expected to be reached
ETH = 0  # the fake's ETH market index


async def until(event: asyncio.Event, condition: Callable[[], object]) -> None:
    """Wait (at most WAIT seconds) until `condition` holds, re-checking whenever `event` is set."""

    async def watch() -> None:
        while not condition():
            event.clear()
            await event.wait()

    await asyncio.wait_for(watch(), WAIT)


def stats_of(venue: LighterVenue) -> MarketStatsStream:
    stream = venue._market_stats
    assert stream is not None, "the venue never started market_stats"
    return stream


async def test_snapshot_marks_come_from_market_stats_once_current(
    fake: FakeLighter, make_venue: Callable[..., LighterVenue]
) -> None:
    venue = make_venue(market_streams=True)
    await venue.place_market_order("ETH", Side.SELL, Decimal("0.1"), worst_price=Decimal(2900), client_order_id="e")
    first = await venue.get_position_snapshots(["ETH"])  # REST marks, and the stream starts
    assert first["ETH"].mark_price == fake.exchange.mark(ETH)
    rest = fake.requests.get("orderBookDetails", 0)
    stream = stats_of(venue)
    await until(stream.changed, lambda: stream.current(ETH) is not None)

    await fake.move_mid(ETH, Decimal("3012.34"))  # pushes market_stats with the new mark
    await until(stream.changed, lambda: (s := stream.current(ETH)) is not None and s.mark_price == Decimal("3012.34"))
    snaps = await venue.get_position_snapshots(["ETH"])
    single = await venue.get_position_snapshot("ETH")
    rates = await venue.fetch_funding_rates(["ETH"])
    assert snaps["ETH"].mark_price == single.mark_price == rates["ETH"].mark_price == Decimal("3012.34")
    assert snaps["ETH"].quantity == Decimal("-0.1")
    assert fake.requests.get("orderBookDetails", 0) == rest  # no REST mark read once streamed


async def test_stale_or_dropped_market_stats_fall_back_to_rest(
    fake: FakeLighter, make_venue: Callable[..., LighterVenue]
) -> None:
    venue = make_venue(market_streams=True)
    await venue.fetch_funding_rates(["ETH"])
    stream = stats_of(venue)
    await until(stream.changed, lambda: stream.current(ETH) is not None)
    rest = fake.requests.get("orderBookDetails", 0)

    stream.max_age = -1.0  # everything received is now older than the bound
    await venue.fetch_funding_rates(["ETH"])
    assert fake.requests.get("orderBookDetails", 0) == rest + 1
    stream.max_age = 60.0

    fake.stats_interval = None
    connections = stream.socket.connections
    await fake.drop_websockets()
    await until(stream.changed, lambda: stream.socket.connections > connections)
    await until(stream.changed, lambda: stream.current(ETH) is not None)  # resubscribed: a fresh snapshot came
    await venue.fetch_funding_rates(["ETH"])
    assert fake.requests.get("orderBookDetails", 0) == rest + 1


async def test_market_stats_entries_that_cannot_be_read_are_skipped(
    fake: FakeLighter, make_venue: Callable[..., LighterVenue]
) -> None:
    venue = make_venue(market_streams=True)
    await venue.fetch_funding_rates(["ETH"])
    stream = stats_of(venue)
    await until(stream.changed, lambda: stream.current(ETH) is not None)
    await fake.send_raw(
        '{"type":"update/market_stats","channel":"market_stats:all","market_stats":{"0":{"market_id":0,'
        '"mark_price":"NaN","index_price":"1"},"1":{"market_id":1,"mark_price":"61000","index_price":"61000"}}}'
    )
    await until(stream.changed, lambda: stream.skipped == 1)
    eth = stream.current(ETH)
    assert eth is not None
    assert eth.mark_price == fake.exchange.mark(ETH)  # the bad entry did not replace the good one
    btc = stream.current(1)
    assert btc is not None
    assert btc.mark_price == Decimal(61000)


async def test_a_liquidation_is_noticed_once_from_the_notification_channel(
    fake: FakeLighter, make_venue: Callable[..., LighterVenue]
) -> None:
    venue = make_venue()
    assert venue.capabilities.liquidation_stream
    await fake.notify(ACCOUNT, "liquidation", {  # history: before the venue started, not news
        "id": "old", "is_ask": True, "usdc_amount": "1", "size": "0.5", "market_index": 0, "price": "3000",
        "timestamp": 1_700_000_000, "avg_price": "3000",
    })  # fmt: skip
    await venue.place_market_order("ETH", Side.BUY, Decimal("0.2"), worst_price=Decimal(3100), client_order_id="l")
    notices = venue.liquidations()
    waiting = asyncio.ensure_future(anext(notices))
    feed = venue._liquidation_feed
    assert feed is not None
    await until(feed.socket.connected, lambda: feed.subscriptions == 1)
    await fake.notify(ACCOUNT, "announcement", {"title": "t", "content": "c", "created_at": 1})
    await fake.send_raw('{"type":"update/notification","channel":"notification:7","notifs":[{"id":"x","kind":'
                        '"liquidation","content":{"market_index":0,"size":"-1","timestamp":1}}]}')  # fmt: skip
    closed = await fake.liquidate(ACCOUNT, ETH)
    notice = await asyncio.wait_for(waiting, WAIT)
    assert (notice.symbol, notice.quantity, notice.price) == ("ETH", closed, fake.exchange.mark(ETH))
    assert feed.skipped == 1

    await fake.drop_websockets()  # the resubscription lists the notification again: it is not news twice
    await until(feed.socket.connected, lambda: feed.subscriptions == 2)
    await fake.notify(ACCOUNT, "deleverage", {
        "id": "d", "usdc_amount": "1", "size": "0.3", "market_index": 0, "settlement_price": "2990",
        "timestamp": 4_000_000_000,
    })  # fmt: skip
    again = await asyncio.wait_for(anext(notices), WAIT)
    assert (again.quantity, again.price) == (Decimal("0.3"), Decimal(2990))
    await notices.aclose()
