"""The fake Lighter server: Lighter's REST endpoints and websocket channels over a `FakeExchange`.

    python -m fundarb_venue_lighter.testing.fake_server --host 127.0.0.1 --port 8700 \\
        --balance 10000 --seed 1 --api-key 7:3:0x<public key>

Served: `GET /api/v1/{orderBooks, orderBookDetails, orderBookOrders, recentTrades, funding-rates, fundings,
markPriceCandles, account, accountActiveOrders, accountInactiveOrders, positionFunding, nextNonce, apikeys}`,
`POST /api/v1/sendTx` and `sendTxBatch`, and `/stream` (`fake_stream`). Faults are switched on through
`FakeLighter.faults` (in process) or `POST /fake/faults` (JSON); `POST /fake/{funding,liquidate,drop_ws,gap}` act
(a liquidation also pushes a `liquidation` notification).
History (`fundings`, `markPriceCandles`) is seeded and deterministic (`testing.history`), served with Lighter's
page limits (750 settlements, 500 candles) and a rate limit (`Faults.history_per_minute`). Tests may rewrite any
REST reply through `FakeLighter.mutate` (the fuzz suite does).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from fundarb_venue_lighter.testing import history, shapes
from fundarb_venue_lighter.testing.exchange import DEFAULT_MARKETS, FakeExchange, MarketSpec, TxError
from fundarb_venue_lighter.testing.fake_stream import FakeStream, now_ms

__all__ = ["FakeLighter", "Faults", "main"]

Json = dict[str, Any]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(type(value).__name__)


def _json(body: Json, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, default=_default), status=status, content_type="application/json", headers=headers
    )


@dataclass
class Faults:
    """Fault injection. Counters decrement as they fire; sets and flags stay until changed."""

    latency: float = 0.0  # seconds added before every REST answer
    send_latency: float = 0.0  # seconds added after executing a sendTx, before answering
    rate_limit_next: int = 0  # answer the next N REST requests 429
    retry_after: float = 1.0
    unavailable_next: int = 0  # answer the next N REST requests 503 (maintenance)
    drop_reply_tx_types: set[int] = field(default_factory=set)  # execute sendTx, then drop the connection
    drop_reply_next: int = 0  # the same for the next N sendTx of any type
    invalid_nonce_next: int = 0  # answer the next N sendTx "invalid nonce" whatever their nonce
    timeout_before_next: int = 0  # drop the next N sendTx *before* executing them (nothing done)
    history_per_minute: int | None = 60  # history requests (fundings, candles) a wall-clock minute; then 429


class FakeLighter(FakeStream):
    """A running fake: `await fake.start()` then `fake.url` / `fake.ws_url`; `await fake.stop()`."""

    def __init__(
        self,
        markets: tuple[MarketSpec, ...] = DEFAULT_MARKETS,
        *,
        balance: Decimal = Decimal(10_000),
        seed: int = 0,
        ping_interval: float | None = None,
        stats_interval: float | None = 1.0,
    ) -> None:
        self.exchange = FakeExchange(markets, balance=balance, seed=seed)
        self.seed = seed
        self.faults = Faults()
        # Rewrites a REST reply before it leaves: (endpoint, request, reply) -> reply. The fuzz suite sets it.
        self.mutate: Callable[[str, web.Request, web.Response], Awaitable[web.StreamResponse]] | None = None
        self._history_window: tuple[int, int] = (0, 0)  # (minute, requests in it)
        self.ping_interval = ping_interval
        self.stats_interval = stats_interval  # seconds between `market_stats` pushes (None: only when asked)
        self._notifs: dict[int, list[Json]] = {}
        self.requests: dict[str, int] = {}
        self.sent_txs: list[Json] = []  # every tx_info the fake executed (decoded)
        self.pongs = 0
        self.pong_received = asyncio.Event()
        self._sockets: set[web.WebSocketResponse] = set()
        self._subs: dict[web.WebSocketResponse, set[str]] = {}
        self._book_nonce: dict[int, int] = {}
        self._book_sent: dict[tuple[web.WebSocketResponse, int], tuple[dict[str, str], dict[str, str]]] = {}
        self._gap_next: set[int] = set()
        self._orders_version: dict[int, int] = {}
        self._seq = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.host = "127.0.0.1"
        self.port = 0

    # -- life --------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/stream"

    def app(self) -> web.Application:
        app = web.Application()
        get = {
            "orderBooks": self._order_books,
            "orderBookDetails": self._order_book_details,
            "orderBookOrders": self._order_book_orders,
            "recentTrades": self._recent_trades,
            "funding-rates": self._funding_rates,
            "fundings": self._fundings,
            "markPriceCandles": self._mark_price_candles,
            "account": self._account,
            "accountActiveOrders": self._active_orders,
            "accountInactiveOrders": self._inactive_orders,
            "positionFunding": self._position_funding,
            "nextNonce": self._next_nonce,
            "apikeys": self._apikeys,
        }
        for name, handler in get.items():
            app.router.add_get(f"/api/v1/{name}", self._wrap(name, handler))
        app.router.add_post("/api/v1/sendTx", self._wrap("sendTx", self._send_tx))
        app.router.add_post("/api/v1/sendTxBatch", self._wrap("sendTxBatch", self._send_tx_batch))
        app.router.add_get("/stream", self._stream)
        app.router.add_post("/fake/{action}", self._control)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeLighter:
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        assert sockets, "the fake's listening socket is not open"
        self.host, self.port = host, sockets[0].getsockname()[1]
        if self.ping_interval:
            self._spawn(self._pinger())
        if self.stats_interval:
            self._spawn(self._stats_pusher(self.stats_interval))
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- REST plumbing -----------------------------------------------------------------------------------------

    def _wrap(self, name: str, handler: Any) -> Any:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            self.requests[name] = self.requests.get(name, 0) + 1
            if self.faults.latency:
                await asyncio.sleep(self.faults.latency)
            if self.faults.unavailable_next > 0:
                self.faults.unavailable_next -= 1
                return _json({"code": 503, "message": "service under maintenance"}, status=503)
            if self.faults.rate_limit_next > 0:
                self.faults.rate_limit_next -= 1
                return _json(
                    {"code": 23000, "message": "too many requests"},
                    status=429,
                    headers={"Retry-After": str(self.faults.retry_after)},
                )
            if name in ("fundings", "markPriceCandles") and self._history_limited():
                retry = 60 - time.time() % 60
                return _json(
                    {"code": 23000, "message": "too many requests"},
                    status=429,
                    headers={"Retry-After": f"{retry:.3f}"},
                )
            try:
                result: web.StreamResponse = await handler(request)
            except TxError as error:
                result = _json({"code": error.code, "message": error.message}, status=error.status)
            except (KeyError, ValueError) as error:
                result = _json({"code": 20001, "message": f"invalid param: {error}"}, status=400)
            if self.mutate is not None and isinstance(result, web.Response):
                result = await self.mutate(name, request, result)
            return result

        return wrapped

    def _history_limited(self) -> bool:
        limit = self.faults.history_per_minute
        if limit is None:
            return False
        minute = int(time.time() // 60)
        seen, count = self._history_window
        count = count + 1 if seen == minute else 1
        self._history_window = (minute, count)
        return count > limit

    def _auth(self, request: web.Request, account: int) -> None:
        token = request.headers.get("authorization") or request.query.get("auth")
        self.exchange.check_auth(token, account, now_ms())

    def _market(self, request: web.Request) -> MarketSpec:
        market = self.exchange.markets.get(int(request.query["market_id"]))
        if market is None:
            raise TxError(21602, "invalid market index")
        return market

    # -- public endpoints --------------------------------------------------------------------------------------

    async def _order_books(self, request: web.Request) -> web.Response:
        books = [shapes.order_book(m, self.exchange) for m in self.exchange.markets.values()]
        return _json({"code": 200, "order_books": books})

    async def _order_book_details(self, request: web.Request) -> web.Response:
        markets = [self._market(request)] if "market_id" in request.query else list(self.exchange.markets.values())
        details = [shapes.order_book_detail(m, self.exchange) for m in markets]
        return _json({"code": 200, "order_book_details": details, "spot_order_book_details": []})

    async def _order_book_orders(self, request: web.Request) -> web.Response:
        spec = self._market(request)
        limit = min(int(request.query.get("limit", "250")), 250)
        sides = {}
        for name, is_ask in (("asks", True), ("bids", False)):
            entries = []
            for price, size, order in self.exchange.book(spec.market_id, is_ask)[:limit]:
                if order is None:
                    entries.append(
                        {
                            "order_index": 0,
                            "order_id": "0",
                            "owner_account_index": 1,
                            "initial_base_amount": format(Decimal(size).scaleb(-spec.size_decimals), "f"),
                            "remaining_base_amount": format(Decimal(size).scaleb(-spec.size_decimals), "f"),
                            "price": format(Decimal(price).scaleb(-spec.price_decimals), "f"),
                            "order_expiry": -1,
                            "transaction_time": 0,
                        }
                    )
                else:
                    entries.append(shapes.simple_order(order, spec))
            sides[name] = entries
        return _json(
            {
                "code": 200,
                "total_asks": len(sides["asks"]),
                "asks": sides["asks"],
                "total_bids": len(sides["bids"]),
                "bids": sides["bids"],
            }
        )

    async def _recent_trades(self, request: web.Request) -> web.Response:
        return _json({"code": 200, "trades": []})

    async def _funding_rates(self, request: web.Request) -> web.Response:
        rates = []
        for spec in self.exchange.markets.values():
            # [?] as the reference reads it: a fraction normalised to 8 hours.
            rates.append(
                {
                    "market_id": spec.market_id,
                    "exchange": "lighter",
                    "symbol": spec.symbol,
                    "rate": float(spec.hourly_rate * 8),
                }
            )
            rates.append({"market_id": spec.market_id, "exchange": "binance", "symbol": spec.symbol, "rate": 0.0001})
        return _json({"code": 200, "funding_rates": rates})

    async def _fundings(self, request: web.Request) -> web.Response:
        spec = self._market(request)
        if request.query.get("resolution") != "1h":
            raise TxError(20001, "invalid param: resolution (the fake serves 1h)")
        start, end = int(request.query["start_timestamp"]), int(request.query["end_timestamp"])
        count = int(request.query["count_back"])
        rows = history.fundings_page(
            self.seed, spec, self.exchange.mark(spec.market_id), start, end, count, now_ms() // 1000
        )
        return _json({"code": 200, "resolution": "1h", "fundings": rows})

    async def _mark_price_candles(self, request: web.Request) -> web.Response:
        spec = self._market(request)
        resolution = request.query["resolution"]
        if resolution not in history.RESOLUTION_SECONDS:
            raise TxError(20001, f"invalid param: resolution {resolution!r}")
        start, end = int(request.query["start_timestamp"]), int(request.query["end_timestamp"])
        count = int(request.query["count_back"])
        rows = history.candles_page(self.seed, spec, resolution, start, end, count, now_ms() // 1000)
        return _json({"code": 200, "r": resolution, "c": rows})

    async def _next_nonce(self, request: web.Request) -> web.Response:
        account, key = int(request.query["account_index"]), int(request.query["api_key_index"])
        return _json({"code": 200, "nonce": self.exchange.next_nonce(account, key)})

    async def _apikeys(self, request: web.Request) -> web.Response:
        account = int(request.query["account_index"])
        wanted = request.query.get("api_key_index")
        keys = [
            {
                "account_index": a,
                "api_key_index": k,
                "nonce": self.exchange.next_nonce(a, k),
                "public_key": pub,
                "transaction_time": 0,
            }
            for (a, k), pub in sorted(self.exchange.api_keys.items())
            if a == account and (wanted is None or int(wanted) in (k, 255))
        ]
        return _json({"code": 200, "api_keys": keys})

    async def _account(self, request: web.Request) -> web.Response:
        if request.query.get("by") != "index":
            raise TxError(20001, "only by=index is served by the fake")
        acct = self.exchange.account(int(request.query["value"]), now_ms())
        return _json({"code": 200, "total": 1, "accounts": [shapes.account(acct, self.exchange)], "next_cursor": ""})

    # -- private endpoints -------------------------------------------------------------------------------------

    def _orders(self, request: web.Request, active: bool) -> list[Json]:
        account = int(request.query["account_index"])
        self._auth(request, account)
        acct = self.exchange.account(account, now_ms())
        market = int(request.query["market_id"]) if "market_id" in request.query else None
        orders = [
            o
            for o in acct.orders.values()
            if (market is None or o.market_id == market) and ((o.status == "open") == active)
        ]
        orders.sort(key=lambda o: o.order_index, reverse=not active)  # inactive: newest first
        return [shapes.order(o, self.exchange.markets[o.market_id]) for o in orders]

    async def _active_orders(self, request: web.Request) -> web.Response:
        return _json({"code": 200, "orders": self._orders(request, True)})

    async def _inactive_orders(self, request: web.Request) -> web.Response:
        orders = self._orders(request, False)
        limit = min(int(request.query.get("limit", "100")), 100)
        start = int(request.query.get("cursor") or 0)
        page = orders[start : start + limit]
        cursor = str(start + limit) if start + limit < len(orders) else ""
        return _json({"code": 200, "orders": page, "next_cursor": cursor})

    async def _position_funding(self, request: web.Request) -> web.Response:
        account = int(request.query["account_index"])
        self._auth(request, account)
        acct = self.exchange.account(account, now_ms())
        markets = {int(m) for m in request.query.get("market_ids", "").split(",") if m}
        since = int(request.query.get("start_timestamp", "0"))
        since = since // 1000 if since > 10**11 else since
        entries = [f for f in acct.fundings if (not markets or f["market_id"] in markets) and f["timestamp"] >= since]
        limit = min(int(request.query.get("limit", "100")), 100)
        start = int(request.query.get("cursor") or 0)
        page = [{**f, "discount": "0"} for f in entries[start : start + limit]]
        cursor = str(start + limit) if start + limit < len(entries) else None
        return _json({"code": 200, "position_fundings": page, "next_cursor": cursor})

    # -- transactions ------------------------------------------------------------------------------------------

    async def _send_tx(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        tx_type, tx_info = int(str(form["tx_type"])), str(form["tx_info"])
        faults = self.faults
        if faults.timeout_before_next > 0:
            faults.timeout_before_next -= 1
            return self._drop(request)
        if faults.invalid_nonce_next > 0:
            faults.invalid_nonce_next -= 1
            raise TxError(21104, "invalid nonce")
        tx_hash = self._execute(tx_type, tx_info)
        if faults.send_latency:
            await asyncio.sleep(faults.send_latency)
        if tx_type in faults.drop_reply_tx_types or faults.drop_reply_next > 0:
            faults.drop_reply_next = max(0, faults.drop_reply_next - 1)
            return self._drop(request)
        return _json(
            {
                "code": 200,
                "tx_hash": tx_hash,
                "predicted_execution_time_ms": now_ms() + 200,
                "volume_quota_remaining": 1_000_000,
            }
        )

    def _execute(self, tx_type: int, tx_info: str) -> str:
        tx_hash = self.exchange.send_tx(tx_type, tx_info, now_ms())
        self.sent_txs.append({"type": tx_type, **json.loads(tx_info)})
        self._spawn(self._broadcast())
        return tx_hash

    def _drop(self, request: web.Request) -> web.StreamResponse:
        """Close the connection without answering: the client cannot know what happened."""
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=499)

    async def _send_tx_batch(self, request: web.Request) -> web.Response:
        form = await request.post()
        types, infos = json.loads(str(form["tx_types"])), json.loads(str(form["tx_infos"]))
        if len(types) != len(infos) or not 1 <= len(types) <= 50:
            raise TxError(21501, "invalid batch")
        hashes = [self._execute(int(t), str(i)) for t, i in zip(types, infos, strict=True)]
        return _json(
            {
                "code": 200,
                "tx_hash": hashes,
                "predicted_execution_time_ms": now_ms() + 200,
                "volume_quota_remaining": 1_000_000,
            }
        )

    # -- control -----------------------------------------------------------------------------------------------

    def gap_next(self, market_id: int) -> None:
        """Make the next book delta of `market_id` skip a nonce."""
        self._gap_next.add(market_id)

    async def liquidate(self, account: int, market_id: int) -> Decimal:
        """Liquidate a position at the mark; push the account's orders and a `liquidation` notification."""
        now = now_ms()
        held = self.exchange.account(account, now).positions.get(market_id)
        size = self.exchange.liquidate(account, market_id, now)
        await self._broadcast()
        if size != 0 and held is not None:
            mark = self.exchange.mark(market_id)
            content = {
                "id": f"liq_{next(self._seq)}", "is_ask": size > 0, "usdc_amount": format(abs(size) * mark, "f"),
                "size": format(abs(size), "f"), "market_index": market_id, "price": format(mark, "f"),
                "timestamp": now // 1000, "avg_price": format(mark, "f"),
            }  # fmt: skip
            await self.notify(account, "liquidation", content)
        return size

    async def move_mid(self, market_id: int, price: Decimal) -> None:
        self.exchange.move_mid(market_id, price)
        await self._broadcast()

    async def _control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        body = await request.json() if request.can_read_body else {}
        now = now_ms()
        if action == "faults":
            for key, value in body.items():
                setattr(self.faults, key, set(value) if key == "drop_reply_tx_types" else value)
        elif action == "funding":
            return _json({"code": 200, "payments": self.exchange.settle_funding(int(body.get("now_ms", now)))})
        elif action == "liquidate":
            size = await self.liquidate(int(body["account_index"]), int(body["market_id"]))
            return _json({"code": 200, "closed": format(size, "f")})
        elif action == "drop_ws":
            await self.drop_websockets()
        elif action == "gap":
            self.gap_next(int(body["market_id"]))
        elif action == "mid":
            await self.move_mid(int(body["market_id"]), Decimal(str(body["price"])))
        else:
            raise TxError(20001, f"unknown fake action {action!r}")
        return _json({"code": 200})


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeLighter(balance=Decimal(args.balance), seed=args.seed, ping_interval=args.ping_interval)
    for spec in args.api_key:
        account, key, public = spec.split(":", 2)
        fake.exchange.register_key(int(account), int(key), public)
    await fake.start(args.host, args.port)
    print(f"fake Lighter on {fake.url} (websocket {fake.ws_url})", flush=True)

    async def hourly() -> None:
        while True:
            now = now_ms()
            await asyncio.sleep((3_600_000 - now % 3_600_000) / 1000)
            fake.exchange.settle_funding(now_ms())

    task = asyncio.ensure_future(hourly())
    try:
        await asyncio.Event().wait()
    finally:
        task.cancel()
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="A fake Lighter server for tests and paper runs (127.0.0.1 only by default)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--balance", default="10000", help="starting USDC of an account provisioned on first use")
    parser.add_argument("--seed", type=int, default=0, help="makes the market reproducible")
    parser.add_argument("--ping-interval", type=float, default=20.0, help="seconds between server pings")
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="ACCOUNT_INDEX:API_KEY_INDEX:PUBLIC_KEY",
        help="register an API key's public key (repeatable) so that the SDK's client check passes",
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
