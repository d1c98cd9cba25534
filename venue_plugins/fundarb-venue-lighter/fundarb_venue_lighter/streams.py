"""Lighter's websocket: one connection with subscriptions, ping/pong, reconnection with backoff.

Messages: the server greets with `{"type": "connected"}`; a client subscribes with
`{"type": "subscribe", "channel": "order_book/0"}` (plus `"auth"` for account channels); pushes name the channel
with a colon (`"order_book:0"`) and have types `subscribed/<channel kind>` then `update/<channel kind>`; a server
`{"type": "ping"}` is answered `{"type": "pong"}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import aiohttp
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.venues import BookLevel, OrderBook
from fundarb_venue_lighter.wire import dec

if TYPE_CHECKING:
    from fundarb_venue_lighter.venue import LighterVenue

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
                        message = json.loads(frame.data, parse_float=Decimal)
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
            except (aiohttp.ClientError, ConnectionError, TimeoutError, ValueError) as error:
                self.log.warning("websocket {} dropped: {}", self.url, type(error).__name__)
            finally:
                self._ws = None
                self.connected.clear()
            await self.clock.sleep(delay)
            delay = min(delay * 2, self.max_backoff)


class AccountOrderStream:
    """The account's order channel (`account_all_orders/{account}`, authenticated), feeding the venue.

    The auth token is replaced before it expires by subscribing again with a fresh one; after every (re)connection
    the venue reconciles live orders by REST.
    """

    def __init__(self, venue: LighterVenue) -> None:
        self.venue = venue
        self.channel = f"account_all_orders/{venue.config.account_index}"
        self.socket = LighterSocket(
            venue.config.resolved_ws_url(),
            venue.clock,
            venue=venue.name,
            on_message=self._on_message,
            on_connected=self._on_connected,
        )
        self._refresh: asyncio.Task[None] | None = None
        self.subscriptions = 0

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
        token = await self.venue.auth_token(force=force)
        if await self.socket.send({"type": "subscribe", "channel": self.channel, "auth": token}):
            self.subscriptions += 1

    async def _on_connected(self) -> None:
        await self._subscribe()
        await self.venue.reconcile()

    async def _refresh_auth(self) -> None:
        ttl = self.venue.config.auth_token_ttl.total_seconds()
        while True:
            await self.venue.clock.sleep(ttl * 0.8)
            await self.socket.send({"type": "unsubscribe", "channel": self.channel})
            await self._subscribe(force=True)
            await self.venue.reconcile()

    async def _on_message(self, message: Json) -> None:
        kind = str(message.get("type", ""))
        if not kind.endswith("account_all_orders"):
            return
        orders = message.get("orders") or {}
        flat = [o for group in orders.values() for o in group] if isinstance(orders, dict) else list(orders)
        await self.venue.on_account_orders(flat)


class BookTracker:
    """One market's book from a snapshot and deltas; each delta's `begin_nonce` must equal the last `nonce`."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.nonce: int | None = None
        self.gaps = 0

    def snapshot(self, book: Json) -> None:
        self.bids = {dec(level["price"]): dec(level["size"]) for level in book.get("bids", [])}
        self.asks = {dec(level["price"]): dec(level["size"]) for level in book.get("asks", [])}
        self.bids = {p: q for p, q in self.bids.items() if q > 0}
        self.asks = {p: q for p, q in self.asks.items() if q > 0}
        self.nonce = int(book["nonce"]) if "nonce" in book else None

    def update(self, delta: Json) -> bool:
        """Apply a delta; return False (and forget the book) on a nonce gap: the caller resubscribes."""
        if self.nonce is None or int(delta.get("begin_nonce", -1)) != self.nonce:
            self.gaps += 1
            self.nonce = None
            self.bids, self.asks = {}, {}
            return False
        for side, levels in ((self.bids, delta.get("bids", [])), (self.asks, delta.get("asks", []))):
            for level in levels:
                price, size = dec(level["price"]), dec(level["size"])
                if size == 0:
                    side.pop(price, None)  # size "0" deletes the level
                else:
                    side[price] = size
        self.nonce = int(delta["nonce"])
        return True

    def book(self, symbol: str, at: Any, depth: int) -> OrderBook:
        bids = tuple(BookLevel(p, self.bids[p]) for p in sorted(self.bids, reverse=True)[:depth])
        asks = tuple(BookLevel(p, self.asks[p]) for p in sorted(self.asks)[:depth])
        return OrderBook(symbol=symbol, bids=bids, asks=asks, at=at)


class OrderBookStream:
    """`order_book/{market}` as a queue of consistent `OrderBook`s; a nonce gap resubscribes for a new snapshot."""

    def __init__(self, venue: LighterVenue, symbol: str, market_id: int, depth: int) -> None:
        self.venue = venue
        self.symbol = symbol
        self.channel = f"order_book/{market_id}"
        self.depth = depth
        self.tracker = BookTracker()
        self.queue: asyncio.Queue[OrderBook] = asyncio.Queue()
        self.resubscribes = 0
        self.socket = LighterSocket(
            venue.config.resolved_ws_url(),
            venue.clock,
            venue=venue.name,
            on_message=self._on_message,
            on_connected=self._on_connected,
        )

    async def _on_connected(self) -> None:
        self.tracker = BookTracker() if self.tracker.nonce is None else self.tracker
        self.tracker.nonce = None  # a new connection starts from its snapshot
        await self.socket.send({"type": "subscribe", "channel": self.channel})

    async def _on_message(self, message: Json) -> None:
        kind = str(message.get("type", ""))
        book = message.get("order_book", message)
        if kind == "subscribed/order_book":
            self.tracker.snapshot(book)
        elif kind == "update/order_book":
            if not self.tracker.update(book):
                self.resubscribes += 1
                await self.socket.send({"type": "unsubscribe", "channel": self.channel})
                await self.socket.send({"type": "subscribe", "channel": self.channel})
                return
        else:
            return
        if self.tracker.bids and self.tracker.asks:
            self.queue.put_nowait(self.tracker.book(self.symbol, self.venue.clock.now(), self.depth))
