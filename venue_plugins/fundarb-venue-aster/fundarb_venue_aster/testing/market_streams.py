"""The fake Aster's public market streams: `/stream?streams=a/b/...` (combined), as Aster's docs describe them.

Streams: `<s>@bookTicker` (pushed when the touch changes), `<s>@markPrice@1s` and `!markPrice@arr@1s` (every
`mark_interval` seconds). Live `SUBSCRIBE` / `UNSUBSCRIBE` / `LIST_SUBSCRIPTIONS` are answered like Aster; the limits
are enforced: stream names lowercase, at most `max_streams` per connection, at most `max_incoming` messages a second
from the client (the connection is closed past it). Tests drive it with `push_books()`, `push_marks()`, `drop()` and
`pause` (nothing is pushed while set, as on a silent connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from fundarb_venue_aster.testing.exchange import Exchange, FakeMarket, fmt

__all__ = ["FakeMarketStreams"]

_KINDS = ("bookTicker", "markPrice@1s", "markPrice")  # per symbol; the symbol part is lowercase
_ALL_MARKET = ("!markPrice@arr@1s", "!markPrice@arr")


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    streams: set[str]
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    sent_books: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    incoming: list[float] = field(default_factory=list)


class FakeMarketStreams:
    """The market-stream half of `FakeAsterServer` (it serves `/stream` through `handle`)."""

    def __init__(
        self,
        exchange: Exchange,
        now_ms: Callable[[], int],
        *,
        mark_interval: float | None = 1.0,
        book_interval: float | None = 0.02,
        max_streams: int = 200,
        max_incoming: int = 10,
    ) -> None:
        self.exchange = exchange
        self.now_ms = now_ms
        self.mark_interval = mark_interval
        self.book_interval = book_interval
        self.max_streams = max_streams
        self.max_incoming = max_incoming
        self.connections: set[_Connection] = set()
        self.opened: list[list[str]] = []  # the streams of every connection opened (in its URL)
        self.subscribed: list[list[str]] = []  # the params of every SUBSCRIBE received
        self.pause = False
        self.sent = 0  # events sent (for benchmarks and tests)
        self._update_id = 0
        self._tasks: list[asyncio.Task[None]] = []

    # -- life cycle --------------------------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.book_interval:
            self._tasks.append(loop.create_task(self._every(self.book_interval, self.push_books)))
        if self.mark_interval:
            self._tasks.append(loop.create_task(self._every(self.mark_interval, self.push_marks)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.drop()

    async def _every(self, seconds: float, push: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(seconds)
            push()

    async def drop(self) -> None:
        """Close every market-stream connection (clients must reconnect and resubscribe)."""
        for connection in list(self.connections):
            connection.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await connection.ws.close()

    # -- pushes ------------------------------------------------------------------------------------------------

    def push_books(self, *, force: bool = False) -> None:
        """Send `<s>@bookTicker` to every subscriber whose market's touch changed since it was last sent."""
        if self.pause:
            return
        for connection in list(self.connections):
            for market in self.exchange.markets.values():
                name = f"{market.symbol.lower()}@bookTicker"
                if name not in connection.streams:
                    continue
                touch = (next(market.book("bids")), next(market.book("asks")))
                if not force and connection.sent_books.get(market.symbol) == touch:
                    continue
                connection.sent_books[market.symbol] = touch
                self._send(connection, name, self._book(market, touch))

    def push_marks(self) -> None:
        """Send `<s>@markPrice@1s` (and `!markPrice@arr@1s`) to every subscriber."""
        if self.pause:
            return
        for connection in list(self.connections):
            for name in _ALL_MARKET:
                if name in connection.streams:
                    self._send(connection, name, [self._mark(m) for m in self.exchange.markets.values()])
            for market in self.exchange.markets.values():
                for name in (f"{market.symbol.lower()}@markPrice@1s", f"{market.symbol.lower()}@markPrice"):
                    if name in connection.streams:
                        self._send(connection, name, self._mark(market))

    def push_raw(self, text: str) -> None:
        """Send `text` as it is to every connection (hostile frames)."""
        for connection in list(self.connections):
            connection.queue.put_nowait(text)

    def _send(self, connection: _Connection, stream: str, data: Any) -> None:
        self.sent += 1
        connection.queue.put_nowait(json.dumps({"stream": stream, "data": data}))

    def _book(self, market: FakeMarket, touch: tuple[Any, ...]) -> dict[str, Any]:
        (bid, bid_qty), (ask, ask_qty) = touch
        self._update_id += 1
        now = self.now_ms()
        return {
            "e": "bookTicker", "u": self._update_id, "E": now, "T": now, "s": market.symbol,
            "b": fmt(bid), "B": fmt(bid_qty), "a": fmt(ask), "A": fmt(ask_qty),
        }  # fmt: skip

    def _mark(self, market: FakeMarket) -> dict[str, Any]:
        return {
            "e": "markPriceUpdate", "E": self.now_ms(), "s": market.symbol, "p": fmt(market.mark),
            "i": fmt(market.mark), "P": fmt(market.mark), "r": fmt(market.funding_rate),
            "T": self.exchange.next_funding_ms(market),
        }  # fmt: skip

    # -- the websocket -----------------------------------------------------------------------------------------

    def _refusal(self, names: list[str], current: int) -> str | None:
        for name in names:
            symbol, _, kind = name.partition("@")
            if name in _ALL_MARKET:
                continue
            if kind not in _KINDS or symbol not in self._symbols:
                return f"Invalid stream name {name!r}"
        if current + len(names) > self.max_streams:
            return f"more than {self.max_streams} streams on one connection"
        return None

    @property
    def _symbols(self) -> set[str]:
        return {m.symbol.lower() for m in self.exchange.markets.values()}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        names = [n for n in request.query.get("streams", "").split("/") if n]
        problem = "no streams given" if not names else self._refusal(names, 0)
        if problem is not None:
            return web.json_response({"code": -1121, "msg": problem}, status=400)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = _Connection(ws, set(names))
        self.connections.add(connection)
        self.opened.append(names)

        async def send() -> None:
            while (text := await connection.queue.get()) is not None:
                await ws.send_str(text)

        sender = asyncio.get_running_loop().create_task(send())
        self.push_books(force=True)
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    break
                now = time.monotonic()
                connection.incoming = [t for t in connection.incoming if now - t < 1.0] + [now]
                if len(connection.incoming) > self.max_incoming:
                    await ws.close(code=1008, message=b"too many messages")
                    break
                await self._request(connection, message.data)
        finally:
            self.connections.discard(connection)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
        return ws

    async def _request(self, connection: _Connection, text: str) -> None:
        try:
            request = json.loads(text)
            method, ident = request["method"], request.get("id")
        except (ValueError, KeyError, TypeError):
            connection.queue.put_nowait(json.dumps({"code": 3, "msg": "Invalid JSON"}))
            return
        params = request.get("params") or []
        if method == "SUBSCRIBE":
            problem = self._refusal(params, len(connection.streams - set(params)))
            if problem is not None:
                connection.queue.put_nowait(json.dumps({"code": 2, "msg": problem, "id": ident}))
                return
            self.subscribed.append(list(params))
            connection.streams.update(params)
            connection.queue.put_nowait(json.dumps({"result": None, "id": ident}))
            self.push_books()
        elif method == "UNSUBSCRIBE":
            connection.streams.difference_update(params)
            connection.queue.put_nowait(json.dumps({"result": None, "id": ident}))
        elif method == "LIST_SUBSCRIPTIONS":
            connection.queue.put_nowait(json.dumps({"result": sorted(connection.streams), "id": ident}))
        else:
            connection.queue.put_nowait(json.dumps({"code": 2, "msg": f"Invalid request: unknown variant {method}"}))
