"""Lighter's websocket: one connection with subscriptions, ping/pong, reconnection with backoff.

Messages: the server greets with `{"type": "connected"}`; a client subscribes with
`{"type": "subscribe", "channel": "order_book/0"}` (plus `"auth"` for account channels); pushes name the channel
with a colon (`"order_book:0"`) and have types `subscribed/<channel kind>` then `update/<channel kind>`; a server
`{"type": "ping"}` is answered `{"type": "pong"}`.

Every frame goes through the decoding boundary (`decode`): a frame that is not a JSON object, or whose records
are malformed, drops the connection (the reconnection resubscribes, and the account stream reconciles by REST);
nothing a frame holds can end the stream's task. This module knows nothing of the venue: what it needs (auth
tokens, where orders go, reconciliation) is passed in, so the venue imports the streams and not the reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.errors import VenueError
from fundarb_core.venues import BookLevel, OrderBook
from fundarb_venue_lighter.decode import parse_object, structure, structure_entries
from fundarb_venue_lighter.records import Order, WsBook

__all__ = ["AccountOrderStream", "BookTracker", "LighterSocket", "OrderBookStream"]

Json = dict[str, Any]


class LighterSocket:
    """A websocket that stays connected: reconnects with exponential backoff and calls `on_connected` each time."""

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        venue: str,
        on_message: Callable[[Json], Awaitable[None]],
        on_connected: Callable[[], Awaitable[None]],
        min_backoff: float = 0.1,
        max_backoff: float = 30.0,
    ) -> None:
        self.url = url
        self.clock = clock
        self.on_message = on_message
        self.on_connected = on_connected
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.connections = 0  # how many times a connection was greeted (tests and telemetry)
        self.connected = asyncio.Event()  # set while a greeted connection is up
        self.venue = venue
        self.log = logger.bind(venue=venue)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"lighter-ws {self.url}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, message: Json) -> bool:
        """Send `message` if connected; return whether it went out (a reconnection re-subscribes anyway)."""
        ws = self._ws
        if ws is None or ws.closed:
            return False
        try:
            await ws.send_str(json.dumps(message))
        except (aiohttp.ClientError, ConnectionError):
            return False
        return True

    async def _run(self) -> None:
        delay = self.min_backoff
        self._session = aiohttp.ClientSession()
        while True:
            try:
                async with self._session.ws_connect(self.url, heartbeat=None) as ws:
                    self._ws = ws
                    async for frame in ws:
                        if frame.type is not aiohttp.WSMsgType.TEXT:
                            break
                        message = parse_object(frame.data, endpoint="websocket", venue=self.venue)
                        kind = message.get("type")
                        if kind == "ping":
                            await ws.send_str('{"type":"pong"}')
                        elif kind == "connected":
                            self.connections += 1
                            self.connected.set()
                            delay = self.min_backoff
                            await self.on_connected()
                        else:
                            await self.on_message(message)
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError, EOFError) as error:
                self.log.warning("websocket {} dropped: {}", self.url, type(error).__name__)
            except VenueError as error:  # a malformed frame: start again from a fresh subscription
                self.log.warning("websocket {} dropped after a malformed frame: {}", self.url, error)
            finally:
                self._ws = None
                self.connected.clear()
            await self.clock.sleep(delay)
            delay = min(delay * 2, self.max_backoff)


class AccountOrderStream:
    """The account's order channel (`account_all_orders/{account}`, authenticated), feeding the venue.

    `token(force)` gives an auth token, `on_orders` takes the decoded orders, `reconcile` looks up live orders by
    REST: after every (re)connection, and every `refresh_every` seconds, when the auth token is replaced by
    subscribing again with a fresh one.
    """

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        venue: str,
        account_index: int,
        token: Callable[[bool], Awaitable[str]],
        on_orders: Callable[[list[Order]], Awaitable[None]],
        reconcile: Callable[[], Awaitable[None]],
        refresh_every: float,
    ) -> None:
        self.clock = clock
        self.venue = venue
        self.channel = f"account_all_orders/{account_index}"
        self.token = token
        self.on_orders = on_orders
        self.reconcile = reconcile
        self.refresh_every = refresh_every
        self.log = logger.bind(venue=venue)
        self.socket = LighterSocket(
            url, clock, venue=venue, on_message=self._on_message, on_connected=self._on_connected
        )
        self._refresh: asyncio.Task[None] | None = None
        self.subscriptions = 0
        self.skipped = 0  # malformed orders left out of updates (REST reconciliation covers them)

    def start(self) -> None:
        self.socket.start()
        self._refresh = asyncio.create_task(self._refresh_auth())

    async def stop(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh
        await self.socket.stop()

    async def _subscribe(self, *, force: bool = False) -> None:
        token = await self.token(force)
        if await self.socket.send({"type": "subscribe", "channel": self.channel, "auth": token}):
            self.subscriptions += 1

    async def _on_connected(self) -> None:
        await self._subscribe()
        await self.reconcile()

    async def _refresh_auth(self) -> None:
        while True:
            await self.clock.sleep(self.refresh_every)
            try:
                await self.socket.send({"type": "unsubscribe", "channel": self.channel})
                await self._subscribe(force=True)
                await self.reconcile()
            except VenueError as error:  # tried again at the next refresh; the socket stays up meanwhile
                self.log.warning("account stream refresh failed: {}", error)

    async def _on_message(self, message: Json) -> None:
        kind = str(message.get("type", ""))
        if not kind.endswith("account_all_orders"):
            return
        orders = message.get("orders") or {}
        if isinstance(orders, dict):
            flat = [o for group in orders.values() if isinstance(group, list) for o in group]
        else:
            flat = orders if isinstance(orders, list) else []
        skipped: list[Any] = []
        decoded = structure_entries(flat, Order, endpoint=self.channel, venue=self.venue, skipped=skipped)
        for error in skipped:
            self.skipped += 1
            self.log.warning("account stream: a malformed order was left out: {}", error)
        await self.on_orders(decoded)


class BookTracker:
    """One market's book from a snapshot and deltas; each delta's `begin_nonce` must equal the last `nonce`."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.nonce: int | None = None
        self.gaps = 0

    def snapshot(self, book: WsBook) -> None:
        self.bids = {level.price: level.size for level in book.bids if level.size > 0}
        self.asks = {level.price: level.size for level in book.asks if level.size > 0}
        self.nonce = book.nonce

    def update(self, delta: WsBook) -> bool:
        """Apply a delta; return False (and forget the book) on a nonce gap: the caller resubscribes."""
        if self.nonce is None or delta.begin_nonce != self.nonce or delta.nonce is None:
            self.gaps += 1
            self.nonce = None
            self.bids, self.asks = {}, {}
            return False
        for side, levels in ((self.bids, delta.bids), (self.asks, delta.asks)):
            for level in levels:
                if level.size == 0:
                    side.pop(level.price, None)  # size "0" deletes the level
                else:
                    side[level.price] = level.size
        self.nonce = delta.nonce
        return True

    def crossed(self) -> bool:
        return bool(self.bids and self.asks) and max(self.bids) >= min(self.asks)

    def book(self, symbol: str, at: Any, depth: int) -> OrderBook:
        bids = tuple(BookLevel(p, self.bids[p]) for p in sorted(self.bids, reverse=True)[:depth])
        asks = tuple(BookLevel(p, self.asks[p]) for p in sorted(self.asks)[:depth])
        return OrderBook(symbol=symbol, bids=bids, asks=asks, at=at)


class OrderBookStream:
    """`order_book/{market}` as a queue of consistent `OrderBook`s; a nonce gap or a crossed book resubscribes."""

    def __init__(self, url: str, clock: Clock, *, venue: str, symbol: str, market_id: int, depth: int) -> None:
        self.clock = clock
        self.venue = venue
        self.symbol = symbol
        self.channel = f"order_book/{market_id}"
        self.depth = depth
        self.tracker = BookTracker()
        self.queue: asyncio.Queue[OrderBook] = asyncio.Queue()
        self.resubscribes = 0
        self.socket = LighterSocket(
            url, clock, venue=venue, on_message=self._on_message, on_connected=self._on_connected
        )

    async def _on_connected(self) -> None:
        self.tracker = BookTracker() if self.tracker.nonce is None else self.tracker
        self.tracker.nonce = None  # a new connection starts from its snapshot
        await self.socket.send({"type": "subscribe", "channel": self.channel})

    async def _resubscribe(self) -> None:
        self.resubscribes += 1
        self.tracker.nonce = None
        await self.socket.send({"type": "unsubscribe", "channel": self.channel})
        await self.socket.send({"type": "subscribe", "channel": self.channel})

    async def _on_message(self, message: Json) -> None:
        kind = str(message.get("type", ""))
        if kind not in ("subscribed/order_book", "update/order_book"):
            return
        book = structure(message.get("order_book", message), WsBook, endpoint=self.channel, venue=self.venue)
        if kind == "subscribed/order_book":
            self.tracker.snapshot(book)
        elif not self.tracker.update(book):
            await self._resubscribe()
            return
        if self.tracker.crossed():
            await self._resubscribe()  # never yield a crossed book
            return
        if self.tracker.bids and self.tracker.asks:
            self.queue.put_nowait(self.tracker.book(self.symbol, self.clock.now(), self.depth))
