"""The fake Lighter's websocket (`/stream`): subscriptions, snapshots, book deltas with nonce continuity, pings.

`FakeStream` is the websocket half of `FakeLighter` (a mixin: it reads the fake's exchange and sockets).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from fundarb_venue_lighter.testing import shapes
from fundarb_venue_lighter.testing.exchange import FakeExchange, MarketSpec, TxError

__all__ = ["FakeStream", "now_ms"]

Json = dict[str, Any]


def now_ms() -> int:
    return int(time.time() * 1000)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(type(value).__name__)


class FakeStream:
    """Websocket channels `order_book/{m}`, `market_stats/{m}|all`, `account_all/{a}`, `account_all_orders/{a}`,
    `account_orders/{m}/{a}`, `notification/{a}`.

    `market_stats/all` pushes a map from market index to each market's stats (the form Lighter's reference shows for
    `spot_market_stats/all`); `push_market_stats()` sends every subscriber the current stats (the server also does
    every `stats_interval` seconds). `notify(account, kind, content)` adds a notification and pushes it.
    """

    exchange: FakeExchange
    ping_interval: float | None
    pongs: int
    pong_received: asyncio.Event
    _sockets: set[web.WebSocketResponse]
    _subs: dict[web.WebSocketResponse, set[str]]
    _book_nonce: dict[int, int]
    _book_sent: dict[tuple[web.WebSocketResponse, int], tuple[dict[str, str], dict[str, str]]]
    _gap_next: set[int]
    _seq: Any
    _notifs: dict[int, list[Json]]

    # -- websocket ---------------------------------------------------------------------------------------------

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        self._subs[ws] = set()
        await ws.send_str(json.dumps({"type": "connected", "session_id": str(next(self._seq))}))
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    break
                await self._on_ws(ws, json.loads(frame.data))
        finally:
            self._sockets.discard(ws)
            self._subs.pop(ws, None)
            for key in [k for k in self._book_sent if k[0] is ws]:
                del self._book_sent[key]
        return ws

    async def _on_ws(self, ws: web.WebSocketResponse, message: Json) -> None:
        kind = message.get("type")
        if kind == "pong":
            self.pongs += 1
            self.pong_received.set()
            return
        if kind == "ping":
            await ws.send_str('{"type":"pong"}')
            return
        channel = str(message.get("channel", ""))
        if kind == "unsubscribe":
            self._subs[ws].discard(channel)
            await ws.send_str(json.dumps({"type": "unsubscribed", "channel": channel.replace("/", ":")}))
            return
        if kind != "subscribe":
            await ws.send_str(json.dumps({"type": "error", "message": f"unknown message type {kind!r}"}))
            return
        parts = channel.split("/")
        try:
            if parts[0] in ("account_all_orders", "account_orders", "notification"):
                self.exchange.check_auth(message.get("auth"), int(parts[-1]), now_ms())
        except TxError as error:
            await ws.send_str(json.dumps({"type": "error", "code": error.code, "message": error.message}))
            return
        self._subs[ws].add(channel)
        await self._snapshot(ws, channel)

    async def _snapshot(self, ws: web.WebSocketResponse, channel: str) -> None:
        parts = channel.split("/")
        push = channel.replace("/", ":")
        if parts[0] == "order_book":
            market_id = int(parts[1])
            bids, asks = self._levels(market_id)
            nonce = self._book_nonce.setdefault(market_id, 1)
            self._book_sent[(ws, market_id)] = (bids, asks)
            book = {"code": 0, "asks": _as_list(asks), "bids": _as_list(bids), "offset": nonce, "nonce": nonce}
            await ws.send_str(json.dumps({"type": "subscribed/order_book", "channel": push, "order_book": book}))
        elif parts[0] == "market_stats":
            await self._send_stats(ws, parts[1], push, "subscribed/market_stats")
        elif parts[0] == "notification":
            notifs = self._notifs.get(int(parts[1]), [])
            await ws.send_str(json.dumps({"type": "subscribed/notification", "channel": push, "notifs": notifs}))
        elif parts[0] in ("account_all_orders", "account_orders"):
            await ws.send_str(
                json.dumps(
                    {"type": f"subscribed/{parts[0]}", "channel": push, "orders": self._account_orders(int(parts[-1]))},
                    default=_default,
                )
            )
        elif parts[0] == "account_all":
            acct = self.exchange.account(int(parts[1]), now_ms())
            body = shapes.account(acct, self.exchange)
            await ws.send_str(
                json.dumps(
                    {
                        "type": "subscribed/account_all",
                        "channel": push,
                        "account": acct.index,
                        "positions": {str(p["market_id"]): p for p in body["positions"]},
                        "trades": {},
                        "funding_histories": {},
                    },
                    default=_default,
                )
            )

    async def _send_stats(self, ws: web.WebSocketResponse, which: str, push: str, kind: str) -> None:
        specs = [m for m in self.exchange.markets.values() if which in ("all", str(m.market_id))]
        if which == "all":
            body: Json = {str(spec.market_id): self._stats(spec) for spec in specs}
            await ws.send_str(json.dumps({"type": kind, "channel": push, "market_stats": body}))
        for spec in specs if which != "all" else []:
            await ws.send_str(json.dumps({"type": kind, "channel": push, "market_stats": self._stats(spec)}))

    async def push_market_stats(self) -> None:
        """Send every `market_stats` subscriber the current stats."""
        for ws, channels in list(self._subs.items()):
            for channel in list(channels):
                parts = channel.split("/")
                if parts[0] == "market_stats":
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await self._send_stats(ws, parts[1], channel.replace("/", ":"), "update/market_stats")

    async def notify(self, account: int, kind: str, content: Json) -> None:
        """Add a notification (`liquidation`, `deleverage`, `announcement`) and push it to the account's channel."""
        stamp = f"{now_ms()}"
        notif = {
            "id": f"notif_{next(self._seq)}", "created_at": stamp, "updated_at": stamp, "kind": kind,
            "account_index": account, "content": content, "ack": False, "acked_at": None,
        }  # fmt: skip
        self._notifs.setdefault(account, []).append(notif)
        for ws, channels in list(self._subs.items()):
            if f"notification/{account}" in channels:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    message = {"type": "update/notification", "channel": f"notification:{account}", "notifs": [notif]}
                    await ws.send_str(json.dumps(message))

    async def _stats_pusher(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.push_market_stats()

    def _stats(self, spec: MarketSpec) -> Json:
        mark = format(self.exchange.mark(spec.market_id), "f")
        rate = format(spec.hourly_rate * 100, "f")  # [?] percent per hour
        next_hour = (now_ms() // 3_600_000 + 1) * 3_600_000
        return {
            "market_id": spec.market_id,
            "index_price": mark,
            "mark_price": mark,
            "open_interest": "0",
            "last_trade_price": mark,
            "current_funding_rate": rate,
            "funding_rate": rate,
            "funding_timestamp": next_hour,
            "daily_base_token_volume": 0,
            "daily_quote_token_volume": 0,
            "daily_price_low": 0,
            "daily_price_high": 0,
            "daily_price_change": 0,
        }

    def _account_orders(self, account: int) -> dict[str, list[Json]]:
        acct = self.exchange.account(account, now_ms())
        grouped: dict[str, list[Json]] = {}
        for o in acct.orders.values():
            grouped.setdefault(str(o.market_id), []).append(shapes.order(o, self.exchange.markets[o.market_id]))
        return grouped

    def _levels(self, market_id: int) -> tuple[dict[str, str], dict[str, str]]:
        bids = {format(p, "f"): format(q, "f") for p, q in self.exchange.aggregated(market_id, False)}
        asks = {format(p, "f"): format(q, "f") for p, q in self.exchange.aggregated(market_id, True)}
        return bids, asks

    async def _broadcast(self) -> None:
        """Push book deltas (with nonce continuity) and account order updates to every subscriber."""
        for ws, channels in list(self._subs.items()):
            for channel in list(channels):
                parts = channel.split("/")
                push = channel.replace("/", ":")
                with contextlib.suppress(ConnectionError, RuntimeError):
                    if parts[0] == "order_book":
                        await self._book_delta(ws, int(parts[1]), push)
                    elif parts[0] == "market_stats":
                        await self._send_stats(ws, parts[1], push, "update/market_stats")
                    elif parts[0] in ("account_all_orders", "account_orders"):
                        await ws.send_str(
                            json.dumps(
                                {
                                    "type": f"update/{parts[0]}",
                                    "channel": push,
                                    "orders": self._account_orders(int(parts[-1])),
                                },
                                default=_default,
                            )
                        )

    async def _book_delta(self, ws: web.WebSocketResponse, market_id: int, push: str) -> None:
        bids, asks = self._levels(market_id)
        old_bids, old_asks = self._book_sent.get((ws, market_id), ({}, {}))
        delta_bids = _diff(old_bids, bids)
        delta_asks = _diff(old_asks, asks)
        if not delta_bids and not delta_asks:
            return
        begin = self._book_nonce.get(market_id, 1)
        if market_id in self._gap_next:
            self._gap_next.discard(market_id)
            begin += 1  # a gap: this delta does not follow the last one
        nonce = begin + 1
        self._book_nonce[market_id] = nonce
        self._book_sent[(ws, market_id)] = (bids, asks)
        book = {
            "code": 0,
            "asks": delta_asks,
            "bids": delta_bids,
            "offset": nonce,
            "nonce": nonce,
            "begin_nonce": begin,
        }
        await ws.send_str(json.dumps({"type": "update/order_book", "channel": push, "order_book": book}))

    async def _pinger(self) -> None:
        assert self.ping_interval
        while True:
            await asyncio.sleep(self.ping_interval)
            await self.ping_all()

    async def ping_all(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str('{"type":"ping"}')

    async def drop_websockets(self) -> None:
        """Close every websocket (clients must reconnect and reconcile)."""
        for ws in list(self._sockets):
            await ws.close()

    async def send_raw(self, text: str) -> None:
        """Send `text` as a frame to every websocket (tests of hostile frames)."""
        for ws in list(self._sockets):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(text)


def _as_list(levels: dict[str, str]) -> list[Json]:
    return [{"price": p, "size": s} for p, s in levels.items()]


def _diff(old: dict[str, str], new: dict[str, str]) -> list[Json]:
    changed = [{"price": p, "size": s} for p, s in new.items() if old.get(p) != s]
    removed = [{"price": p, "size": "0"} for p in old if p not in new]
    return changed + removed
