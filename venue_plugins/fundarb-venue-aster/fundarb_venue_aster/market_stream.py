"""Aster's public market streams: best bid and ask (`<s>@bookTicker`) and marks with funding (`<s>@markPrice@1s`).

Facts relied on (Aster's API docs, repository asterdex/api-docs, `V3(Recommended)/EN/aster-finance-futures-api-v3.md`,
section "Websocket Market Streams"; the V1 page says the same):

- combined streams at `/stream?streams=<a>/<b>/...`; every event is wrapped `{"stream": <name>, "data": <payload>}`;
  stream names are lowercase (`btcusdt@bookTicker`);
- "A single connection is only valid for 24 hours": the stream reconnects by itself before that
  (`market_stream_lifetime`), and at once whenever the server closes it;
- the server sends a ping frame every 5 minutes and disconnects a connection that sends no pong within 15 minutes:
  aiohttp answers pings (`autoping`), and its own heartbeat finds a silent connection;
- at most 10 incoming messages per second per connection (this client sends at most one `SUBSCRIBE` per
  `SUBSCRIBE_GAP` seconds, each naming every stream waiting) and at most 200 streams per connection (`MAX_STREAMS`;
  streams past it are not subscribed and their symbols keep using REST);
- live subscription: `{"method": "SUBSCRIBE", "params": [names], "id": n}` answered `{"result": null, "id": n}`;
- `<s>@bookTicker` payload `{e: "bookTicker", u (update id), E, T, s, b, B, a, A}`, real time: pushed on every
  change of the best bid or ask;
- `<s>@markPrice@1s` payload `{e: "markPriceUpdate", E, s, p (mark), i (index), P, r (funding rate), T (next funding
  time)}` every second; `!markPrice@arr@1s` is the same for all symbols as a list.

Freshness: a book ticker is current while the connection that brought it is up and alive (a message within
`market_stream_max_age`; the marks arrive every second), because the stream pushes every change; a mark is current
for `market_stream_max_age` after it arrived. What is not current is None, and the venue asks REST instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import aiohttp
import attrs
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_venue_aster.config import AsterConfig
from fundarb_venue_aster.decode import Int, Malformed, Ms, MsOrZero, NonNeg, Pos, Rate, Text, parse
from fundarb_venue_aster.records import read

__all__ = [
    "ALL_MARKS",
    "MAX_STREAMS",
    "SUBSCRIBE_GAP",
    "MarketStream",
    "WsBookTicker",
    "WsMarkPrice",
    "book_stream",
    "mark_stream",
]

MAX_STREAMS = 200  # Aster: "A single connection can listen to a maximum of 200 streams"
SUBSCRIBE_GAP = 0.25  # seconds between SUBSCRIBE messages: 4 a second at most, of the 10 Aster allows
ALL_MARKS = "!markPrice@arr@1s"


def book_stream(market: str) -> str:
    return f"{market.lower()}@bookTicker"


def mark_stream(market: str) -> str:
    return f"{market.lower()}@markPrice@1s"


@attrs.frozen
class WsBookTicker:
    """`<s>@bookTicker`: the best bid and ask of one symbol."""

    s: Text
    b: Pos
    B: NonNeg
    a: Pos
    A: NonNeg
    u: Int | None = None
    E: Ms | None = None
    T: Ms | None = None

    def check(self) -> None:
        if self.b >= self.a:
            raise Malformed("$", f"crossed or locked book: bid {self.b} >= ask {self.a}")


@attrs.frozen
class WsMarkPrice:
    """`<s>@markPrice@1s`: mark, index, funding rate and next funding time of one symbol."""

    s: Text
    p: Pos
    i: Pos
    r: Rate
    T: MsOrZero = MsOrZero(0)
    E: Ms | None = None


class MarketStream:
    """One combined market-stream connection, kept open while any stream is wanted; a cache of what it brought."""

    def __init__(
        self, name: str, config: AsterConfig, session: Callable[[], aiohttp.ClientSession], clock: Clock
    ) -> None:
        self.config = config
        self.clock = clock
        self._session = session
        self.streams: dict[str, None] = {}  # every stream wanted, in the order asked
        self.live: set[str] = set()  # streams of the current connection (in its URL or subscribed since)
        self.books: dict[str, tuple[WsBookTicker, int]] = {}  # venue symbol -> (event, connection generation)
        self.marks: dict[str, tuple[WsMarkPrice, int, float]] = {}  # venue symbol -> (event, generation, received)
        self.generation = 0
        self.connects = 0
        self.skipped = 0  # unreadable events left out
        self.last_message = float("-inf")  # clock.monotonic() of the last message of the current connection
        self.connected = asyncio.Event()
        self.changed = asyncio.Event()  # set at every message, connect and disconnect (for waiters and tests)
        self.refused: set[str] = set()  # streams beyond MAX_STREAMS
        self._wake = asyncio.Event()
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._log = logger.bind(venue=name)
        self.name = name

    # -- what callers use --------------------------------------------------------------------------------------

    def want(self, *names: str) -> None:
        """Subscribe to `names` (now if connected, else at the next connection); start the stream if needed."""
        new = [n for n in names if n not in self.streams and n not in self.refused]
        if not new:
            return
        room = MAX_STREAMS - len(self.streams)
        if room < len(new):
            self.refused.update(new[max(room, 0) :])
            self._log.warning("market stream: {} streams past Aster's {} per connection use REST", new[room:], room)
            new = new[: max(room, 0)]
        for n in new:
            self.streams[n] = None
        self._wake.set()
        with contextlib.suppress(RuntimeError):  # no running loop: starts at the next call inside one
            self.start()

    def alive(self) -> bool:
        return self.connected.is_set() and self.clock.monotonic() - self.last_message <= self._max_age

    @property
    def _max_age(self) -> float:
        return self.config.market_stream_max_age.total_seconds()

    def book(self, market: str) -> WsBookTicker | None:
        """The current best bid and ask of `market`, or None if the stream cannot vouch for it."""
        entry = self.books.get(market)
        if entry is None or entry[1] != self.generation or not self.alive():
            return None
        return entry[0]

    def mark(self, market: str) -> WsMarkPrice | None:
        """The mark and funding of `market` if they arrived within `market_stream_max_age`, else None."""
        entry = self.marks.get(market)
        if entry is None or entry[1] != self.generation or not self.alive():
            return None
        if self.clock.monotonic() - entry[2] > self._max_age:
            return None
        return entry[0]

    # -- life cycle --------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"aster-market-stream:{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.connected.clear()

    async def _run(self) -> None:
        delay = self.config.reconnect_initial.total_seconds()
        while True:
            while not self.streams:
                self._wake.clear()
                await self._wake.wait()
            try:
                await self._connection()
                delay = self.config.reconnect_initial.total_seconds()  # retired at its lifetime: reconnect now
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever broke the connection, the stream must come back
                why = f"{type(exc).__name__}: {exc}"
                self._log.warning("market stream down ({}); reconnecting in {:.2f}s", why, delay)
            finally:
                self.connected.clear()
                self.changed.set()
            await self.clock.sleep(delay)
            delay = min(delay * 2, self.config.reconnect_max.total_seconds())

    async def _connection(self) -> None:
        names = list(self.streams)
        url = f"{self.config.stream_url}/stream?streams={'/'.join(names)}"
        retired = False
        async with self._session().ws_connect(url, heartbeat=60.0, autoping=True) as ws:
            self.generation += 1
            self.connects += 1
            self.live = set(names)
            self.last_message = self.clock.monotonic()
            self.connected.set()
            self.changed.set()
            self._log.info("market stream connected: {} streams (connection {})", len(names), self.connects)

            async def retire() -> None:
                nonlocal retired
                await self.clock.sleep(self.config.market_stream_lifetime)
                retired = True
                await ws.close()

            helpers = [
                asyncio.get_running_loop().create_task(self._subscriber(ws)),
                asyncio.get_running_loop().create_task(retire()),
            ]
            try:
                async for message in ws:
                    if message.type is aiohttp.WSMsgType.TEXT:
                        self.last_message = self.clock.monotonic()
                        self._on_text(message.data)
                        self.changed.set()
                    elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                        break
            finally:
                for helper in helpers:
                    helper.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)
        if retired:
            self._log.info("market stream reached its lifetime; reconnecting")
            return
        raise aiohttp.ServerDisconnectedError("market stream closed by the server")

    async def _subscriber(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Send one SUBSCRIBE for every stream wanted since the connection opened, at most one per SUBSCRIBE_GAP."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            waiting = [n for n in self.streams if n not in self.live]
            if waiting:
                await ws.send_json({"method": "SUBSCRIBE", "params": waiting, "id": next(self._ids)})
                self.live.update(waiting)
                await self.clock.sleep(SUBSCRIBE_GAP)

    # -- messages ----------------------------------------------------------------------------------------------

    def _on_text(self, text: str) -> None:
        try:
            message = parse(text)
        except Malformed as exc:
            self.skipped += 1
            self._log.warning("market stream: unreadable message ({})", exc)
            return
        if not isinstance(message, dict):
            self.skipped += 1
            return
        if "stream" not in message:
            if message.get("result", True) is not None or "error" in message or "code" in message:
                self._log.warning("market stream: Aster answered {}", str(message)[:200])
            return  # a SUBSCRIBE acknowledgement
        data = message.get("data")
        for event in data if isinstance(data, list) else [data]:
            try:
                self._on_event(event)
            except Malformed as exc:
                self.skipped += 1
                self._log.warning("market stream: {} left out ({})", message.get("stream"), exc)

    def _on_event(self, event: Any) -> None:
        kind = event.get("e") if isinstance(event, dict) else None
        if kind == "bookTicker":
            book = read(event, WsBookTicker)
            known = self.books.get(book.s)
            if known is not None and known[1] == self.generation and (known[0].u or 0) > (book.u or 0):
                return  # an older update arriving late
            self.books[book.s] = (book, self.generation)
        elif kind == "markPriceUpdate":
            mark = read(event, WsMarkPrice)
            self.marks[mark.s] = (mark, self.generation, self.clock.monotonic())
        else:
            raise Malformed("$.e", f"unexpected event type {kind!r}")
