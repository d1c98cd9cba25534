"""Websocket streams against the fake: book snapshot + deltas with nonce continuity, gaps, drops, auth, ping."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fundarb_venue_lighter.decode import structure
from fundarb_venue_lighter.errors import MalformedReply
from fundarb_venue_lighter.records import WsBook
from fundarb_venue_lighter.streams import BookTracker
from fundarb_venue_lighter.testing import FakeLighter
from fundarb_venue_lighter.venue import LighterVenue

from fundarb_core.clock import SimClock
from fundarb_core.model import OrderStatus, Side
from fundarb_core.venues import OrderBook, OrderState, VenueContext

from .conftest import KEY, api_key, make_config

WAIT = 5.0  # seconds: a bound on a local socket, never expected to be reached


async def next_book(stream: AsyncIterator[OrderBook], test: Callable[[OrderBook], bool]) -> OrderBook:
    async with asyncio.timeout(WAIT):
        while True:
            book = await anext(stream)
            if test(book):
                return book


async def test_book_stream_follows_deltas_and_resubscribes_on_a_gap(fake: FakeLighter, venue: LighterVenue) -> None:
    price = Decimal("2999.99")  # a new best bid inside the spread (2999.95 / 3000.05)
    stream = venue.watch_order_book("ETH", depth=5)
    try:
        first = await next_book(stream, lambda b: True)
        assert first.bids[0].price < price
        await venue.place_limit_order("ETH", Side.BUY, Decimal("0.0100"), price, client_order_id="b1")
        book = await next_book(stream, lambda b: b.bids[0].price == price)
        assert book.bids[0].quantity == Decimal("0.0100")
        fake.gap_next(0)
        await venue.cancel_order("ETH", "b1")
        # The gapped delta is not applied; the stream resubscribes and the fresh snapshot has the level gone.
        book = await next_book(stream, lambda b: b.bids[0].price != price)
        assert book.bids == (await venue.fetch_order_book("ETH", depth=5)).bids
    finally:
        await stream.aclose()


def book(data: dict[str, Any]) -> WsBook:
    return structure(data, WsBook, endpoint="order_book/0", venue="lighter")


def test_book_tracker_refuses_a_delta_that_does_not_follow() -> None:
    tracker = BookTracker()
    tracker.snapshot(
        book({"bids": [{"price": "1.0", "size": "2"}], "asks": [{"price": "2.0", "size": "1"}], "nonce": 10})
    )
    assert tracker.update(book({"bids": [{"price": "1.0", "size": "0"}], "asks": [], "begin_nonce": 10, "nonce": 11}))
    assert tracker.bids == {}
    assert not tracker.update(
        book({"bids": [{"price": "1.5", "size": "1"}], "asks": [], "begin_nonce": 12, "nonce": 13})
    )
    assert (tracker.gaps, tracker.nonce) == (1, None)
    assert not tracker.update(book({"bids": [], "asks": [], "begin_nonce": 13, "nonce": 14}))  # until a snapshot


def test_a_malformed_book_frame_is_a_typed_error() -> None:
    with pytest.raises(MalformedReply) as info:
        book({"bids": [{"price": "NaN", "size": "1"}], "asks": [], "nonce": 1})
    assert "bids[0].price" in str(info.value)


async def test_order_stream_survives_a_drop_and_reconciles(
    fake: FakeLighter, make_venue: Callable[..., LighterVenue]
) -> None:
    maker = make_venue()
    stream = maker.order_updates()
    seen: list[OrderState] = []

    async def until(test: Callable[[OrderState], bool]) -> OrderState:
        async with asyncio.timeout(WAIT):
            while True:
                seen.append(await anext(stream))
                if test(seen[-1]):
                    return seen[-1]

    try:
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        bbo = await maker.fetch_bbo_prices("ETH")
        price = bbo.ask - Decimal("0.01")
        await maker.place_limit_order("ETH", Side.SELL, Decimal("0.0100"), price, client_order_id="mk")
        seen.append(await first)
        assert seen[-1].status is OrderStatus.OPEN
        assert maker._stream is not None
        async with asyncio.timeout(WAIT):
            await maker._stream.socket.connected.wait()
        await fake.drop_websockets()
        # While the stream is down, another account takes the order: the stream must still tell.
        fake.exchange.register_key(8, KEY, api_key()[1])
        taker = make_venue("taker", account_index=8)
        await taker.place_market_order("ETH", Side.BUY, Decimal("0.0100"), worst_price=bbo.ask, client_order_id="tk")
        done = await until(lambda s: s.client_order_id == "mk" and s.final)
        assert (done.status, done.filled_qty) == (OrderStatus.FILLED, Decimal("0.0100"))
        assert maker._stream is not None
        assert maker._stream.socket.connections >= 2  # reconnected
    finally:
        await stream.aclose()


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 70_000 + "]" * 70_000,
        "<html>502</html>",
        '{"type": "update/account_all_orders", "orders": {"1": [{"order_index": NaN}]}}',
        '{"type": "update/account_all_orders", "orders": {"1": [{"client_order_index": "x"}]}}',
        '{"type": "update/account_all_orders", "orders": "oops"}',
    ],
)
async def test_a_hostile_frame_never_ends_the_order_stream(fake: FakeLighter, venue: LighterVenue, frame: str) -> None:
    stream = venue.order_updates()
    first = asyncio.ensure_future(anext(stream))
    try:
        await asyncio.sleep(0)  # the generator starts and opens the stream
        assert venue._stream is not None
        async with asyncio.timeout(WAIT):
            await venue._stream.socket.connected.wait()
        await fake.send_raw(frame)
        await venue.place_limit_order("BTC", Side.BUY, Decimal("0.001"), Decimal("59000.0"), client_order_id="h")
        async with asyncio.timeout(WAIT):
            state = await first
        assert (state.client_order_id, state.status) == ("h", OrderStatus.OPEN)
        assert venue._stream._refresh is not None
        task = venue._stream.socket._task
        assert task is not None
        assert not task.done()
    finally:
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await stream.aclose()


async def test_account_channel_needs_a_valid_auth_token(fake: FakeLighter) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.ws_connect(fake.ws_url) as ws:
        assert (await ws.receive_json())["type"] == "connected"
        await ws.send_json({"type": "subscribe", "channel": "account_all_orders/7", "auth": "1:7:3:00"})  # expired
        assert (await ws.receive_json())["type"] == "error"
        await fake.ping_all()
        assert (await ws.receive_json())["type"] == "ping"


async def test_ping_is_answered_pong(fake: FakeLighter, venue: LighterVenue) -> None:
    stream = venue.order_updates()
    task = asyncio.ensure_future(anext(stream))
    try:
        await asyncio.sleep(0)  # the generator starts and opens the stream
        assert venue._stream is not None
        async with asyncio.timeout(WAIT):
            await venue._stream.socket.connected.wait()
            await fake.ping_all()
            await fake.pong_received.wait()
        assert fake.pongs == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await stream.aclose()


async def test_auth_token_is_renewed_before_it_expires(fake: FakeLighter) -> None:
    clock = SimClock()
    venue = LighterVenue("lighter", make_config(fake, auth_token_ttl=timedelta(hours=1)), VenueContext(clock))
    try:
        first = await venue.auth_token()
        await clock.advance(timedelta(minutes=40))
        assert await venue.auth_token() == first  # 20 minutes left: still good
        await clock.advance(timedelta(minutes=9))
        second = await venue.auth_token()  # 11 minutes left (< 1/5 of an hour): renewed
        assert second != first
        assert int(second.split(":")[0]) > int(first.split(":")[0])
        assert second.split(":")[1:3] == ["7", "3"]
    finally:
        await venue.close()
