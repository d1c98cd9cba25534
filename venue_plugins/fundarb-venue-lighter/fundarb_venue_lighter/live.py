"""Lighter's market statistics (`market_stats/all`) and the account's liquidation notices (`notification/{account}`).

Facts relied on (Lighter's WebSocket reference, apidocs.lighter.xyz/docs/websocket-reference, channels "Market Stats"
and "Notification"):

- `{"type": "subscribe", "channel": "market_stats/{MARKET_INDEX}"}` or `.../all`; pushes typed
  `update/market_stats` on channel `market_stats:{MARKET_INDEX}` carry `market_stats: {market_id, index_price,
  mark_price, open_interest, last_trade_price, current_funding_rate, funding_rate, funding_timestamp, daily_...}`
  (prices as text). For `all` the reference shows only the spot channel's form, a map from market index to the same
  object; both forms are read. How often it is pushed is not documented [?]: a mark is trusted for
  `market_stats_max_age` after it arrived on the live connection, and REST is asked otherwise.
- `{"type": "subscribe", "channel": "notification/{ACCOUNT_ID}", "auth": token}`; `subscribed/notification` then
  `update/notification` carry `notifs: [{id, created_at, updated_at, kind, account_index, content, ack, acked_at}]`;
  `kind` is `liquidation` (content `{id, is_ask, usdc_amount, size, market_index, price, timestamp, avg_price}`),
  `deleverage` (content `{id, usdc_amount, size, market_index, settlement_price, timestamp}`) or `announcement`.
  The subscription's first message lists notifications already there: those from before this venue started are
  history (reconciliation covers their positions), not news.

Every frame is decoded at the boundary (`decode`); an unreadable entry is skipped and counted, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import attrs
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.venues import LiquidationNotice
from fundarb_venue_lighter.decode import structure
from fundarb_venue_lighter.errors import MalformedReply
from fundarb_venue_lighter.records import Index, NonNeg, Pos, Stamp, Text
from fundarb_venue_lighter.streams import LighterSocket

__all__ = ["LiquidationFeed", "MarketStats", "MarketStatsStream", "Notice", "current_marks"]

Json = dict[str, Any]


@attrs.frozen
class MarketStats:
    """One market's `market_stats` entry (the fields fundarb reads)."""

    market_id: Index
    mark_price: Pos
    index_price: Pos
    open_interest: NonNeg | None = None


@attrs.frozen
class Notice:
    """A `liquidation` or `deleverage` notification's content."""

    market_index: Index
    size: Pos
    timestamp: Stamp
    avg_price: Pos | None = None
    price: Pos | None = None
    settlement_price: Pos | None = None


@attrs.frozen
class _Notification:
    id: Text
    kind: Text
    content: Any = None


class MarketStatsStream:
    """`market_stats/all` on its own connection: the latest mark and index of every market, with their age."""

    def __init__(self, url: str, clock: Clock, *, venue: str, max_age: float) -> None:
        self.clock = clock
        self.venue = venue
        self.max_age = max_age
        self.stats: dict[int, tuple[MarketStats, int, float]] = {}  # market -> (stats, connection, received)
        self.skipped = 0
        self.changed = asyncio.Event()
        self.socket = LighterSocket(url, clock, venue=venue, on_message=self._on_message, on_connected=self._subscribe)
        self._log = logger.bind(venue=venue)

    def start(self) -> None:
        self.socket.start()

    async def stop(self) -> None:
        await self.socket.stop()

    def current(self, market_id: int) -> MarketStats | None:
        """The market's stats if they arrived on the live connection within `max_age`, else None."""
        entry = self.stats.get(market_id)
        if entry is None or not self.socket.connected.is_set() or entry[1] != self.socket.connections:
            return None
        if self.clock.monotonic() - entry[2] > self.max_age:
            return None
        return entry[0]

    async def _subscribe(self) -> None:
        await self.socket.send({"type": "subscribe", "channel": "market_stats/all"})
        self.changed.set()

    async def _on_message(self, message: Json) -> None:
        if str(message.get("type", "")) not in ("subscribed/market_stats", "update/market_stats"):
            return
        body = message.get("market_stats")
        entries = [body] if isinstance(body, dict) and "market_id" in body else []
        if isinstance(body, dict) and "market_id" not in body:
            entries = list(body.values())
        now = self.clock.monotonic()
        for entry in entries:
            try:
                stats = structure(entry, MarketStats, endpoint="market_stats", venue=self.venue)
            except MalformedReply as error:
                self.skipped += 1
                self._log.warning("market_stats: an entry was left out: {}", error)
                continue
            self.stats[stats.market_id] = (stats, self.socket.connections, now)
        self.changed.set()


class LiquidationFeed:
    """`notification/{account}` (authenticated): liquidation and deleverage notices, each published once."""

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        venue: str,
        account_index: int,
        token: Callable[[bool], Awaitable[str]],
        symbol_of: Callable[[int], str | None],
        refresh_every: float,
    ) -> None:
        self.clock = clock
        self.venue = venue
        self.channel = f"notification/{account_index}"
        self.token = token
        self.symbol_of = symbol_of
        self.refresh_every = refresh_every
        # Notices from before this are history, not news (Lighter stamps them in whole seconds).
        self.since = clock.now().replace(microsecond=0)
        self.seen: set[str] = set()
        self.skipped = 0
        self.subscriptions = 0
        self._queues: set[asyncio.Queue[LiquidationNotice]] = set()
        self._refresh: asyncio.Task[None] | None = None
        self.socket = LighterSocket(url, clock, venue=venue, on_message=self._on_message, on_connected=self._subscribe)
        self._log = logger.bind(venue=venue)

    async def notices(self) -> AsyncIterator[LiquidationNotice]:
        """Every new notice from now on (the feed starts with the first subscriber)."""
        queue: asyncio.Queue[LiquidationNotice] = asyncio.Queue()
        self._queues.add(queue)
        self.start()
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)

    def start(self) -> None:
        self.socket.start()
        if self._refresh is None:
            self._refresh = asyncio.get_running_loop().create_task(self._refresh_auth())

    async def stop(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh
            self._refresh = None
        await self.socket.stop()

    async def _subscribe(self, *, force: bool = False) -> None:
        token = await self.token(force)
        if await self.socket.send({"type": "subscribe", "channel": self.channel, "auth": token}):
            self.subscriptions += 1

    async def _refresh_auth(self) -> None:
        """Subscribe again with a fresh token before the old one expires (as the account order stream does)."""
        while True:
            await self.clock.sleep(self.refresh_every)
            try:
                await self.socket.send({"type": "unsubscribe", "channel": self.channel})
                await self._subscribe(force=True)
            except MalformedReply as error:  # tried again at the next refresh; the socket stays up meanwhile
                self._log.warning("notification stream refresh failed: {}", error)

    async def _on_message(self, message: Json) -> None:
        if str(message.get("type", "")) not in ("subscribed/notification", "update/notification"):
            return
        notifs = message.get("notifs")
        for entry in notifs if isinstance(notifs, list) else []:
            try:
                notice = self._notice(entry)
            except MalformedReply as error:
                self.skipped += 1
                self._log.warning("notification: an entry was left out: {}", error)
                continue
            if notice is not None:
                self._log.warning("liquidation: {} {} @ {}", notice.symbol, notice.quantity, notice.price)
                for queue in list(self._queues):
                    queue.put_nowait(notice)

    def _notice(self, entry: Any) -> LiquidationNotice | None:
        notification = structure(entry, _Notification, endpoint="notification", venue=self.venue)
        if notification.kind not in ("liquidation", "deleverage") or notification.id in self.seen:
            return None
        content = structure(notification.content, Notice, endpoint="notification.content", venue=self.venue)
        self.seen.add(notification.id)
        symbol = self.symbol_of(content.market_index)
        price = content.avg_price or content.price or content.settlement_price
        if symbol is None or price is None or content.timestamp < self.since:
            return None
        return LiquidationNotice(symbol=symbol, quantity=content.size, price=price, at=content.timestamp)


def current_marks(stream: MarketStatsStream | None, market_ids: Mapping[int, Any]) -> dict[int, MarketStats] | None:
    """The streamed stats of every market in `market_ids`, or None unless every one is current."""
    if stream is None:
        return None
    out: dict[int, MarketStats] = {}
    for market_id in market_ids:
        stats = stream.current(market_id)
        if stats is None:
            return None
        out[market_id] = stats
    return out
