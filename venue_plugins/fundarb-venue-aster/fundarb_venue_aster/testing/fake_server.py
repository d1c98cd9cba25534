"""A fake Aster futures server: Aster's REST and user-data websocket wire formats, on a local port.

    python -m fundarb_venue_aster.testing.fake_server --host 127.0.0.1 --port 8765 [--seed N] [--balance USDT]
        [--v1-key KEY:SECRET] [--testnet]

It verifies V1 HMAC and V3 EIP-712 signatures (recovering the signer), enforces timestamp and nonce windows,
filters, reduce-only, post-only and margin, matches orders against a synthetic book, settles funding and streams
user-data events. Any correctly signed V3 `user`/`signer` pair, and any V1 key given with `--v1-key`, gets an
account with the starting balance on first use. Spot `exchangeInfo` (`/api/v3/`) lists no symbols, so clients that
load spot markets too start.

Fault switches (`server.faults`, also settable over `POST /_fake/faults` as JSON): latency, maintenance (503 for
everything), lost order replies (`order_replies = "503"` or `"disconnect"` after the order was accepted), one-shot
injected replies (429 with headers, 418, 503 before or after processing), a server clock skew, a lower weight limit.
`server.drop_streams()`, `server.expire_listen_keys()`, `exchange.liquidate(...)`, `exchange.set_mark(...)`,
`exchange.settle_funding(...)` drive events; `server.market` serves the market streams (see `market_streams`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from fundarb_venue_aster.testing.auth import NonceBook, recover_v3_signer, split_signature, verify_v1
from fundarb_venue_aster.testing.exchange import (
    OPEN,
    Account,
    ApiError,
    Exchange,
    FakeMarket,
    default_markets,
    fmt,
)
from fundarb_venue_aster.testing.history import FUNDING_LIMIT, KLINE_INTERVALS, KLINE_LIMIT, History, page
from fundarb_venue_aster.testing.market_streams import FakeMarketStreams
from fundarb_venue_aster.testing.mutate import Mutation

__all__ = ["FakeAsterServer", "Faults", "Injected", "main"]

WEIGHTS = {
    "exchangeInfo": 1, "time": 1, "ping": 1, "depth": 2, "ticker/bookTicker": 2, "premiumIndex": 1,
    "fundingInfo": 1, "fundingRate": 1, "ticker/24hr": 1, "order": 1, "openOrders": 1, "allOpenOrders": 1,
    "positionRisk": 5, "balance": 5, "income": 30, "leverage": 1, "commissionRate": 20, "leverageBracket": 1,
    "userTrades": 5, "listenKey": 1, "positionSide/dual": 30, "markPriceKlines": 10,
}  # fmt: skip
SIGNED = {
    "order", "openOrders", "allOpenOrders", "positionRisk", "balance", "income", "leverage", "commissionRate",
    "leverageBracket", "userTrades", "listenKey", "positionSide/dual",
}  # fmt: skip
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


@dataclass
class Injected:
    """One injected reply: answered instead of (or, with `after`, in place of the reply to) a matching request."""

    status: int
    code: int | None = None
    msg: str = ""
    path: str | None = None  # an endpoint name such as "order"; None matches every request
    method: str | None = None
    after: bool = False  # process the request first, then answer this (the reply is "lost")
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


@dataclass
class Faults:
    latency: float = 0.0
    maintenance: bool = False
    order_replies: str | None = None  # "503" / "disconnect": accepted orders lose their reply
    clock_skew_ms: int = 0
    weight_limit: int = 2400
    injected: list[Injected] = field(default_factory=list)
    # At most `request_limit` requests per `request_window` seconds (all endpoints); then 429 with Retry-After.
    request_limit: int | None = None
    request_window: float = 60.0
    # One hostile reply: applied to the `mutation.nth` REST reply from now on (then cleared); see `mutate.py`.
    mutation: Mutation | None = None
    mutation_applied: bool = False

    def inject(self, status: int, code: int | None = None, msg: str = "", **kwargs: Any) -> Injected:
        item = Injected(status, code, msg, **kwargs)
        self.injected.append(item)
        return item

    def _take(self, endpoint: str, method: str, after: bool) -> Injected | None:
        for item in self.injected:
            if item.after == after and item.path in (None, endpoint) and item.method in (None, method):
                item.times -= 1
                if item.times <= 0:
                    self.injected.remove(item)
                return item
        return None


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    queue: asyncio.Queue[dict[str, Any] | str | None] = field(default_factory=asyncio.Queue)


class FakeAsterServer:
    """The fake Aster on `host:port` (port 0: any free port; read `url` after `start`)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        balance: Decimal = Decimal(100_000),
        v1_keys: dict[str, str] | None = None,
        chain_id: int = 1666,
        nonce_window: float = 10.0,
        markets: list[FakeMarket] | None = None,
        history_days: float = 30.0,
    ) -> None:
        self.host, self.port = host, port
        self.chain_id = chain_id
        self.v1_keys = dict(v1_keys or {})
        self.faults = Faults()
        self.nonces = NonceBook(int(nonce_window * 1_000_000))
        self.exchange = Exchange(markets or default_markets(seed), balance=balance, now_ms=self.now_ms, emit=self._emit)
        self.listen_keys: dict[str, Account] = {}
        self.market = FakeMarketStreams(self.exchange, self.now_ms)  # `/stream`: bookTicker, markPrice
        self.connections: dict[str, set[_Connection]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for tests
        self._weight: dict[str, tuple[int, int]] = {}
        self._order_count = (0, 0)
        self._runner: web.AppRunner | None = None
        self._window = (0.0, 0)  # (start, requests) of the current request_limit window
        self._seen_since_armed = 0
        now = self.now_ms()
        self.history = History(seed, now - int(history_days * 86_400_000), now)

    # -- life cycle ---------------------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.faults.clock_skew_ms

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/ws/{key}", self._ws)
        app.router.add_get("/stream", self.market.handle)
        app.router.add_post("/_fake/faults", self._set_faults)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        return app

    async def start(self) -> FakeAsterServer:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        self.market.start()
        return self

    async def stop(self) -> None:
        await self.market.stop()
        await self.drop_streams()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeAsterServer:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    # -- accounts and streams -----------------------------------------------------------------------------------

    def v3_account(self, user: str) -> Account:
        return self.exchange.account(user.lower())

    def v1_account(self, api_key: str) -> Account:
        return self.exchange.account(f"v1:{api_key}")

    def _emit(self, account: Account, event: dict[str, Any]) -> None:
        for connection in self.connections.get(account.key, ()):
            connection.queue.put_nowait(event)

    def emit_raw(self, account: Account, text: str) -> None:
        """Send `text` as it is on the account's user-data streams (garbage, on purpose)."""
        for connection in self.connections.get(account.key, ()):
            connection.queue.put_nowait(text)

    async def drop_streams(self) -> None:
        """Close every websocket (clients see a disconnect)."""
        for connections in list(self.connections.values()):
            for connection in list(connections):
                connection.queue.put_nowait(None)
                with contextlib.suppress(Exception):
                    await connection.ws.close()

    def expire_listen_keys(self) -> None:
        """Expire every listenKey: its streams get `listenKeyExpired` and nothing after."""
        for key, account in list(self.listen_keys.items()):
            self._emit(account, {"e": "listenKeyExpired", "E": self.now_ms()})
            del self.listen_keys[key]

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        account = self.listen_keys.get(request.match_info["key"])
        if account is None:
            return web.json_response({"code": -1125, "msg": "This listenKey does not exist."}, status=400)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = _Connection(ws)
        self.connections.setdefault(account.key, set()).add(connection)

        async def send() -> None:
            while (event := await connection.queue.get()) is not None:
                if isinstance(event, str):  # raw text (`emit_raw`): hostile messages for tests
                    await ws.send_str(event)
                    continue
                await ws.send_str(json.dumps(event))
                if event.get("e") == "listenKeyExpired":
                    return

        sender = asyncio.get_running_loop().create_task(send())
        try:
            async for message in ws:
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            self.connections[account.key].discard(connection)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
        return ws

    async def _set_faults(self, request: web.Request) -> web.Response:
        data = await request.json()
        for key, value in data.items():
            if key == "inject":
                self.faults.inject(**value)
            elif hasattr(self.faults, key):
                setattr(self.faults, key, value)
            elif key == "gtx_cross":
                self.exchange.gtx_cross = value
            else:
                return web.json_response({"error": f"unknown fault {key}"}, status=400)
        return web.json_response({"ok": True})

    # -- REST ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            text=json.dumps(data, default=str), status=status, headers=headers, content_type="application/json"
        )

    def _spend(self, request: web.Request, weight: int) -> tuple[int, int]:
        minute = self.now_ms() // 60_000
        ip = request.remote or "?"
        at, used = self._weight.get(ip, (minute, 0))
        used = used if at == minute else 0
        self._weight[ip] = (minute, used + weight)
        return used + weight, int(60 - (self.now_ms() / 1000) % 60) + 1

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        response = await self._handle(request)
        mutation = self.faults.mutation
        if mutation is None or not isinstance(response, web.Response):
            return response
        if mutation.endpoint is not None and request.path.strip("/").split("/", 2)[-1] != mutation.endpoint:
            return response
        if self._seen_since_armed < mutation.nth:
            self._seen_since_armed += 1
            return response
        self.faults.mutation, self.faults.mutation_applied, self._seen_since_armed = None, True, 0
        if mutation.kind == "transport":
            return await self._transport_fault(request, response, mutation.op)
        text = response.text or "null"
        if response.status != 200 and mutation.kind == "tree":
            return response
        status, body, keep_headers = mutation.apply(text)
        headers = {k: v for k, v in response.headers.items() if k.upper().startswith("X-MBX")} if keep_headers else {}
        return web.Response(body=body, status=status, headers=headers, content_type="application/json")

    async def _transport_fault(self, request: web.Request, response: web.Response, op: str) -> web.StreamResponse:
        """Break the connection after processing: no reply, a cut body, or a body shorter than announced."""
        if op == "disconnect" and request.transport is not None:
            request.transport.close()
            raise web.HTTPServiceUnavailable()
        body = response.body if isinstance(response.body, bytes) else b"{}"
        stream = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        stream.content_length = len(body) + (100 if op == "bad_length" else 0)
        await stream.prepare(request)
        await stream.write(body[: max(1, len(body) // 2)] if op == "truncate" else body)
        if request.transport is not None:
            request.transport.close()
        return stream

    def _over_request_limit(self) -> dict[str, str] | None:
        limit = self.faults.request_limit
        if limit is None:
            return None
        now = time.monotonic()
        start, count = self._window
        if now - start >= self.faults.request_window:
            start, count = now, 0
        self._window = (start, count + 1)
        if count + 1 <= limit:
            return None
        return {"Retry-After": str(max(1, int(self.faults.request_window - (now - start)) + 1))}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append((request.method, path))
        parts = path.strip("/").split("/", 2)
        if len(parts) < 3 or parts[0] not in ("fapi", "api"):
            return self._reply({"code": -1000, "msg": f"no route {path}"}, 404)
        spot, endpoint = parts[0] == "api", parts[2]
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        if self.faults.maintenance:
            return self._reply({"code": -1001, "msg": "Service Unavailable."}, 503)
        injected = self.faults._take(endpoint, request.method, after=False)
        if injected is not None:
            return self._injected(injected)
        limited = self._over_request_limit()
        if limited is not None:
            return self._reply({"code": -1003, "msg": "Too many requests; please use the websocket."}, 429, limited)
        used, reset = self._spend(request, WEIGHTS.get(endpoint, 1))
        headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
        if used > self.faults.weight_limit:
            headers["Retry-After"] = str(reset)
            msg = f"Too many requests; current limit is {self.faults.weight_limit} requests per minute."
            return self._reply({"code": -1003, "msg": msg}, 429, headers)
        body = await request.text() if request.method != "GET" else ""
        try:
            if spot:
                result = self._spot(endpoint)
            elif endpoint in SIGNED:
                account, params = self._authenticate(request, body, key_only=endpoint == "listenKey")
                result = self._private(request.method, endpoint, account, params)
            else:
                result = self._public(endpoint, dict(request.query))
        except ApiError as exc:
            return self._reply({"code": exc.code, "msg": exc.msg}, exc.status, headers)
        if endpoint == "order" and request.method == "POST":
            minute = self.now_ms() // 60_000
            at, count = self._order_count
            self._order_count = (minute, (count if at == minute else 0) + 1)
            headers["X-MBX-ORDER-COUNT-1M"] = str(self._order_count[1])
        injected = self.faults._take(endpoint, request.method, after=True)
        if injected is not None:
            return self._injected(injected)
        if endpoint == "order" and request.method == "POST" and self.faults.order_replies:
            if self.faults.order_replies == "disconnect" and request.transport is not None:
                request.transport.close()
                raise web.HTTPServiceUnavailable()
            return self._reply({"code": -1007, "msg": "Timeout waiting for response from backend server."}, 503)
        return self._reply(result, 200, headers)

    def _injected(self, item: Injected) -> web.Response:
        body = {"code": item.code if item.code is not None else -1000, "msg": item.msg or f"injected {item.status}"}
        return self._reply(body, item.status, item.headers)

    def _authenticate(self, request: web.Request, body: str, *, key_only: bool) -> tuple[Account, dict[str, str]]:
        query = request.rel_url.raw_query_string
        api_key = request.headers.get("X-MBX-APIKEY")
        if api_key is not None:
            secret = self.v1_keys.get(api_key)
            if secret is None:
                raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
            if key_only and "signature=" not in query + body:
                return self.v1_account(api_key), dict(request.query)
            signed = split_signature(query, body, joiner="")
            verify_v1(signed, secret)
            try:
                timestamp = int(signed.params["timestamp"])
                recv_window = int(signed.params.get("recvWindow", "5000"))
            except (KeyError, ValueError):
                raise ApiError(400, -1102, "Mandatory parameter 'timestamp' was not sent.") from None
            if recv_window > 60_000:
                raise ApiError(400, -1130, "Data sent for parameter 'recvWindow' is not valid.")
            server = self.now_ms()
            if not (timestamp < server + 1000 and server - timestamp <= recv_window):
                raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
            return self.v1_account(api_key), signed.params
        signed = split_signature(query, body, joiner="&")
        user, signer, nonce = (signed.params.get(k) for k in ("user", "signer", "nonce"))
        if not user or not signer or not nonce or not nonce.isdigit():
            raise ApiError(400, -1102, "Mandatory parameter 'user'/'signer'/'nonce' was not sent or malformed.")
        if recover_v3_signer(signed.message, signed.signature, self.chain_id).lower() != signer.lower():
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        self.nonces.check(signer, int(nonce), self.now_ms() * 1000)
        return self.v3_account(user), signed.params

    # -- endpoints ----------------------------------------------------------------------------------------------

    def _spot(self, endpoint: str) -> Any:
        if endpoint == "exchangeInfo":
            return {"timezone": "UTC", "serverTime": self.now_ms(), "rateLimits": [], "assets": [], "symbols": []}
        if endpoint in ("time", "ping"):
            return {"serverTime": self.now_ms()} if endpoint == "time" else {}
        raise ApiError(400, -1000, f"spot endpoint {endpoint} is not emulated")

    def _public(self, endpoint: str, q: dict[str, str]) -> Any:
        ex = self.exchange
        if endpoint == "time":
            return {"serverTime": self.now_ms()}
        if endpoint == "ping":
            return {}
        if endpoint == "exchangeInfo":
            return self._exchange_info()
        if endpoint == "depth":
            market = ex.market(q.get("symbol"))
            limit = int(q.get("limit", "500"))
            if limit not in DEPTH_LIMITS:
                raise ApiError(400, -4021, f"'{limit}' is not valid depth limit.")
            now = self.now_ms()
            side = {s: [[fmt(p), fmt(v)] for p, v in market.book(s)][:limit] for s in ("bids", "asks")}
            return {"lastUpdateId": now, "E": now, "T": now, **side}
        if endpoint == "ticker/bookTicker":
            rows = [self._book_ticker(m) for m in self._markets(q)]
            return rows[0] if "symbol" in q else rows
        if endpoint == "premiumIndex":
            rows = [self._premium(m) for m in self._markets(q)]
            return rows[0] if "symbol" in q else rows
        if endpoint == "fundingInfo":
            # Like Binance, only symbols whose funding parameters differ from the defaults are listed.
            return [
                {
                    "symbol": m.symbol,
                    "interestRate": "0.00010000",
                    "time": self.now_ms(),
                    "fundingIntervalHours": m.interval_hours,
                    "fundingFeeCap": "0.02",
                    "fundingFeeFloor": "-0.02",
                }
                for m in ex.markets.values()
                if m.interval_hours != 8
            ]
        if endpoint == "fundingRate":
            market = ex.market(q.get("symbol"))
            rows = self.history.funding(market, ex.funding_history[market.symbol])
            return page(rows, lambda r: r["fundingTime"], q, default=100, maximum=FUNDING_LIMIT)
        if endpoint == "markPriceKlines":
            market = ex.market(q.get("symbol"))
            step = KLINE_INTERVALS.get(q.get("interval", ""))
            if step is None:
                raise ApiError(400, -1120, "Invalid interval.")
            klines = self.history.klines(market, step, self.now_ms())
            return page(klines, lambda r: r[0], q, default=500, maximum=KLINE_LIMIT)
        if endpoint == "ticker/24hr":
            return [
                {"symbol": m.symbol, "lastPrice": fmt(m.mark), "quoteVolume": "1000000", "volume": "1000"}
                for m in self._markets(q)
            ]
        raise ApiError(404, -1000, f"endpoint {endpoint} is not emulated")

    def _markets(self, q: dict[str, str]) -> list[FakeMarket]:
        return [self.exchange.market(q["symbol"])] if "symbol" in q else list(self.exchange.markets.values())

    def _book_ticker(self, m: FakeMarket) -> dict[str, Any]:
        (bid, bid_qty), (ask, ask_qty) = next(m.book("bids")), next(m.book("asks"))
        return {
            "symbol": m.symbol,
            "bidPrice": fmt(bid),
            "bidQty": fmt(bid_qty),
            "askPrice": fmt(ask),
            "askQty": fmt(ask_qty),
            "time": self.now_ms(),
        }

    def _premium(self, m: FakeMarket) -> dict[str, Any]:
        return {
            "symbol": m.symbol,
            "markPrice": fmt(m.mark),
            "indexPrice": fmt(m.mark),
            "estimatedSettlePrice": fmt(m.mark),
            "lastFundingRate": fmt(m.funding_rate),
            "nextFundingTime": self.exchange.next_funding_ms(m),
            "interestRate": "0.00010000",
            "time": self.now_ms(),
        }

    def _exchange_info(self) -> dict[str, Any]:
        symbols = []
        for m in self.exchange.markets.values():
            symbols.append(
                {
                    "symbol": m.symbol,
                    "pair": m.symbol,
                    "contractType": "PERPETUAL",
                    "deliveryDate": 4133404800000,
                    "onboardDate": 1598252400000,
                    "status": "TRADING",
                    "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000",
                    "baseAsset": m.base,
                    "quoteAsset": "USDT",
                    "marginAsset": "USDT",
                    # Deliberately inconsistent with the filters: clients must read tick/step from the filters.
                    "pricePrecision": 8,
                    "quantityPrecision": 8,
                    "baseAssetPrecision": 8,
                    "quotePrecision": 8,
                    "underlyingType": "COIN",
                    "underlyingSubType": [],
                    "settlePlan": 0,
                    "triggerProtect": "0.0500",
                    "liquidationFee": "0.015000",
                    "marketTakeBound": "0.05",
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": fmt(m.tick),
                            "maxPrice": "1000000",
                            "tickSize": fmt(m.tick),
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": fmt(m.min_qty),
                            "maxQty": fmt(m.max_qty),
                            "stepSize": fmt(m.step),
                        },
                        {
                            "filterType": "MARKET_LOT_SIZE",
                            "minQty": fmt(m.min_qty),
                            "maxQty": fmt(m.max_qty),
                            "stepSize": fmt(m.step),
                        },
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                        {"filterType": "MIN_NOTIONAL", "notional": fmt(m.min_notional)},
                        {
                            "filterType": "PERCENT_PRICE",
                            "multiplierUp": fmt(m.multiplier_up),
                            "multiplierDown": fmt(m.multiplier_down),
                            "multiplierDecimal": 4,
                        },
                    ],
                    "OrderType": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
                    "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.faults.weight_limit,
                },
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            ],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "0"}],
            "symbols": symbols,
        }

    def _private(self, method: str, endpoint: str, account: Account, p: dict[str, str]) -> Any:
        ex = self.exchange
        if endpoint == "order":
            if method == "POST":
                return ex.place(account, p).as_json()
            if method == "GET":
                return ex.find(account, p).as_json()
            if method == "DELETE":
                return ex.cancel(account, p).as_json()
        if endpoint == "openOrders":
            return [
                o.as_json()
                for o in account.orders.values()
                if o.status in OPEN and ("symbol" not in p or o.symbol == p["symbol"])
            ]
        if endpoint == "allOpenOrders" and method == "DELETE":
            market = ex.market(p.get("symbol"))
            for order in list(account.orders.values()):
                if order.symbol == market.symbol and order.status in OPEN:
                    ex.cancel(account, {"symbol": order.symbol, "orderId": str(order.order_id)})
            return {"code": "200", "msg": "The operation of cancel all open order is done."}
        if endpoint == "positionRisk":
            return [self._position(account, m) for m in self._markets(p)]
        if endpoint == "balance":
            upnl = sum((ex.unrealized(account, s) for s in account.positions), Decimal(0))
            available = ex.available(account)
            return [
                {
                    "accountAlias": "fake",
                    "asset": "USDT",
                    "balance": fmt(account.wallet),
                    "crossWalletBalance": fmt(account.wallet),
                    "crossUnPnl": fmt(upnl),
                    "availableBalance": fmt(available),
                    "maxWithdrawAmount": fmt(max(Decimal(0), available)),
                    "marginAvailable": True,
                    "updateTime": self.now_ms(),
                }
            ]
        if endpoint == "income":
            start, end = int(p.get("startTime", "0")), int(p.get("endTime", str(2**62)))
            rows = [
                r
                for r in account.income
                if start <= r["time"] <= end
                and ("symbol" not in p or r["symbol"] == p["symbol"])
                and ("incomeType" not in p or r["incomeType"] == p["incomeType"])
            ]
            return rows[: int(p.get("limit", "100"))]
        if endpoint == "leverage" and method == "POST":
            market = ex.market(p.get("symbol"))
            leverage = int(p.get("leverage", "0"))
            if not 1 <= leverage <= market.max_leverage:
                raise ApiError(400, -4028, f"Leverage {leverage} is not valid")
            account.leverage[market.symbol] = leverage
            return {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": market.symbol}
        if endpoint == "commissionRate":
            market = ex.market(p.get("symbol"))
            return {
                "symbol": market.symbol,
                "makerCommissionRate": fmt(ex.maker_fee),
                "takerCommissionRate": fmt(ex.taker_fee),
            }
        if endpoint == "leverageBracket":
            return [
                {
                    "symbol": m.symbol,
                    "brackets": [
                        {
                            "bracket": 1,
                            "initialLeverage": m.max_leverage,
                            "notionalCap": 1000000,
                            "notionalFloor": 0,
                            "maintMarginRatio": "0.005",
                            "cum": "0",
                        }
                    ],
                }
                for m in self._markets(p)
            ]
        if endpoint == "userTrades":
            market = ex.market(p.get("symbol"))
            return [
                t
                for t in account.trades
                if t["symbol"] == market.symbol and ("orderId" not in p or str(t["orderId"]) == p["orderId"])
            ]
        if endpoint == "listenKey":
            return self._listen_key(method, account)
        if endpoint == "positionSide/dual":
            if method == "POST":
                account.dual_side = p.get("dualSidePosition") == "true"
                return {"code": 200, "msg": "success"}
            return {"dualSidePosition": account.dual_side}
        raise ApiError(404, -1000, f"{method} {endpoint} is not emulated")

    def _position(self, account: Account, m: FakeMarket) -> dict[str, Any]:
        ex = self.exchange
        pos = account.position(m.symbol)
        return {
            "symbol": m.symbol,
            "positionAmt": fmt(pos.qty),
            "entryPrice": fmt(pos.entry),
            "markPrice": fmt(m.mark),
            "unRealizedProfit": fmt(ex.unrealized(account, m.symbol)),
            "liquidationPrice": fmt(ex.liquidation_price(account, m.symbol)),
            "leverage": str(ex.leverage_of(account, m.symbol)),
            "maxNotionalValue": "1000000",
            "marginType": "isolated" if m.symbol in account.isolated else "cross",
            "isolatedMargin": "0",
            "isAutoAddMargin": "false",
            "positionSide": "BOTH",
            "notional": fmt(pos.qty * m.mark),
            "isolatedWallet": "0",
            "updateTime": self.now_ms(),
        }

    def _listen_key(self, method: str, account: Account) -> Any:
        current = next((k for k, a in self.listen_keys.items() if a is account), None)
        if method == "POST":
            if current is None:
                current = secrets.token_hex(32)
                self.listen_keys[current] = account
            return {"listenKey": current}
        if current is None:
            raise ApiError(400, -1125, "This listenKey does not exist.")
        if method == "DELETE":
            del self.listen_keys[current]
        return {}


def main(argv: list[str] | None = None) -> None:
    """Run the fake Aster server until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m fundarb_venue_aster.testing.fake_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=0, help="makes the market reproducible")
    parser.add_argument("--balance", default="100000", help="starting USDT of each new account")
    parser.add_argument("--v1-key", action="append", default=[], metavar="KEY:SECRET", help="provision a V1 key")
    parser.add_argument("--testnet", action="store_true", help="expect V3 signatures for chainId 714")
    args = parser.parse_args(argv)
    keys = dict(item.split(":", 1) for item in args.v1_key)
    server = FakeAsterServer(
        host=args.host,
        port=args.port,
        seed=args.seed,
        balance=Decimal(args.balance),
        v1_keys=keys,
        chain_id=714 if args.testnet else 1666,
    )

    async def serve() -> None:
        await server.start()
        print(f"fake Aster listening on {server.url} (websocket {server.ws_url})", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
