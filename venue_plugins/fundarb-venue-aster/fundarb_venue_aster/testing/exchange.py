"""The fake Aster's exchange: markets with a synthetic book, accounts, order matching, positions, funding.

Pure state and rules, no I/O: the HTTP layer (`fake_server.py`) authenticates, parses and formats. Errors are
`ApiError`s carrying Aster's HTTP status, code and message. Every event a user-data stream would carry is handed to
`emit(account, event)`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

__all__ = ["Account", "ApiError", "Exchange", "FakeMarket", "Order", "fmt"]

CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
OPEN = ("NEW", "PARTIALLY_FILLED")
MAINTENANCE_RATE = Decimal("0.005")


class ApiError(Exception):
    """An error reply: HTTP `status`, Aster `code`, `msg`."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status, self.code, self.msg = status, code, msg


def fmt(value: Decimal) -> str:
    """Decimal text without exponent."""
    return format(value.normalize(), "f") if value != 0 else "0"


def _snap(value: Decimal, grid: Decimal, rounding: str) -> Decimal:
    return ((value / grid).to_integral_value(rounding=rounding) * grid).quantize(grid)


@dataclass
class FakeMarket:
    """One perpetual market. Quantities and prices are in the market's own (contract) units."""

    symbol: str
    base: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    mark: Decimal
    funding_rate: Decimal
    interval_hours: int = 8
    max_leverage: int = 50
    spread_ticks: int = 2
    level_qty: Decimal = Decimal(0)  # quantity per synthetic book level (0: 20 × min notional / mark)
    levels: int = 20
    multiplier_up: Decimal = Decimal("1.15")
    multiplier_down: Decimal = Decimal("0.85")

    def __post_init__(self) -> None:
        self.mark = _snap(self.mark, self.tick, ROUND_FLOOR)
        if self.level_qty == 0:
            self.level_qty = _snap(self.min_notional * 400 / self.mark + self.min_qty, self.step, ROUND_CEILING)

    @property
    def best_bid(self) -> Decimal:
        return self.mark - self.tick * (self.spread_ticks // 2)

    @property
    def best_ask(self) -> Decimal:
        return self.best_bid + self.tick * self.spread_ticks

    def book(self, side: str) -> Iterator[tuple[Decimal, Decimal]]:
        """Synthetic resting liquidity: `side` "asks" ascending or "bids" descending, one tick apart."""
        for i in range(self.levels):
            qty = self.level_qty * (1 + Decimal(i) / 4)
            if side == "asks":
                yield self.best_ask + self.tick * i, _snap(qty, self.step, ROUND_FLOOR)
            else:
                yield self.best_bid - self.tick * i, _snap(qty, self.step, ROUND_FLOOR)


@dataclass
class Position:
    qty: Decimal = Decimal(0)  # signed
    entry: Decimal = Decimal(0)


@dataclass
class Order:
    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    tif: str
    qty: Decimal
    price: Decimal
    reduce_only: bool
    time: int
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    update_time: int = 0

    def as_json(self) -> dict[str, Any]:
        avg = self.cum_quote / self.executed if self.executed > 0 else Decimal(0)
        return {
            "orderId": self.order_id,
            "symbol": self.symbol,
            "status": self.status,
            "clientOrderId": self.client_id,
            "price": fmt(self.price),
            "avgPrice": fmt(avg),
            "origQty": fmt(self.qty),
            "executedQty": fmt(self.executed),
            "cumQty": fmt(self.executed),
            "cumQuote": fmt(self.cum_quote),
            "timeInForce": self.tif,
            "type": self.type,
            "origType": self.type,
            "reduceOnly": self.reduce_only,
            "closePosition": False,
            "side": self.side,
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "time": self.time,
            "updateTime": self.update_time or self.time,
        }


@dataclass
class Account:
    key: str
    wallet: Decimal
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    by_client_id: dict[str, int] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    income: list[dict[str, Any]] = field(default_factory=list)
    dual_side: bool = False  # hedge mode (`positionSide/dual`)
    isolated: set[str] = field(default_factory=set)  # markets in isolated margin mode

    def position(self, symbol: str) -> Position:
        return self.positions.setdefault(symbol, Position())


def default_markets(seed: int) -> list[FakeMarket]:
    """The fake's catalogue; `seed` moves every price by up to ±2 % (reproducibly)."""
    rng = random.Random(seed)

    def price(value: str) -> Decimal:
        return Decimal(value) * (1 + Decimal(rng.randint(-200, 200)) / 10_000)

    d = Decimal
    # symbol, base, tick, step, min qty, max qty, min notional, mark, funding rate per interval
    return [
        FakeMarket("BTCUSDT", "BTC", d("0.1"), d("0.001"), d("0.001"), d("1000"), d("5"), price("60000"), d("0.0001")),
        FakeMarket("ETHUSDT", "ETH", d("0.01"), d("0.001"), d("0.001"), d("1e6"), d("5"), price("3000"), d("0.00008")),
        FakeMarket("SOLUSDT", "SOL", d("0.01"), d("0.01"), d("0.01"), d("100000"), d("5"), price("150"), d("-0.00005")),
        FakeMarket("XRPUSDT", "XRP", d("0.0001"), d("0.1"), d("10"), d("1000000"), d("5"), price("0.6"), d("0.0001")),
        FakeMarket(
            "1000PEPEUSDT", "1000PEPE", d("0.0000001"), d("1"), d("1"), d("50000000"), d("5"), price("0.0123"),
            d("0.00012"), max_leverage=25,
        ),
        FakeMarket(
            "2ZUSDT", "2Z", d("0.0001"), d("1"), d("1"), d("5000000"), d("5"), price("0.35"), d("0.00005"),
            interval_hours=4, max_leverage=20,
        ),
    ]  # fmt: skip


class Exchange:
    """Accounts and markets; every method is one exchange action (called under the server's lock)."""

    def __init__(
        self,
        markets: list[FakeMarket],
        *,
        balance: Decimal,
        now_ms: Callable[[], int],
        emit: Callable[[Account, dict[str, Any]], None],
    ) -> None:
        self.markets = {m.symbol: m for m in markets}
        self.balance = balance
        self.now_ms = now_ms
        self.emit = emit
        self.accounts: dict[str, Account] = {}
        self.maker_fee, self.taker_fee = Decimal("0.0001"), Decimal("0.00035")
        self.funding_history: dict[str, list[dict[str, Any]]] = {m: [] for m in self.markets}
        self._ids = iter(range(1_000_001, 10**12))
        # Fault switches the server exposes.
        self.gtx_cross = "error"  # "error": -5022; "expired": the order is recorded EXPIRED (both [?] for Aster)
        self.unique_client_ids = "open"  # "open": duplicate refused only while the first is open (Binance)
        self.partial_fill: Decimal | None = None  # a taker fills only this share of what it could
        self._seed_history()

    def _seed_history(self) -> None:
        now = self.now_ms()
        for market in self.markets.values():
            step = market.interval_hours * 3_600_000
            last = now - now % step
            for k in range(3, 0, -1):
                self.funding_history[market.symbol].append(
                    {
                        "symbol": market.symbol,
                        "fundingRate": fmt(market.funding_rate),
                        "fundingTime": last - (k - 1) * step,
                        "markPrice": fmt(market.mark),
                    }
                )

    # -- accounts -------------------------------------------------------------------------------------------

    def account(self, key: str) -> Account:
        """The account of `key`, provisioned with the starting balance on first use."""
        found = self.accounts.get(key)
        if found is None:
            found = self.accounts[key] = Account(key, self.balance)
        return found

    def market(self, symbol: str | None) -> FakeMarket:
        market = self.markets.get(symbol or "")
        if market is None:
            raise ApiError(400, -1121, "Invalid symbol.")
        return market

    def next_funding_ms(self, market: FakeMarket) -> int:
        step = market.interval_hours * 3_600_000
        now = self.now_ms()
        return now - now % step + step

    def unrealized(self, account: Account, symbol: str) -> Decimal:
        pos = account.positions.get(symbol)
        if pos is None or pos.qty == 0:
            return Decimal(0)
        return pos.qty * (self.markets[symbol].mark - pos.entry)

    def leverage_of(self, account: Account, symbol: str) -> int:
        return account.leverage.get(symbol, min(20, self.markets[symbol].max_leverage))

    def position_margin(self, account: Account) -> Decimal:
        return sum(
            (abs(p.qty) * self.markets[s].mark / self.leverage_of(account, s) for s, p in account.positions.items()),
            Decimal(0),
        )

    def order_margin(self, account: Account) -> Decimal:
        return sum(
            (
                (o.qty - o.executed) * o.price / self.leverage_of(account, o.symbol)
                for o in account.orders.values()
                if o.status in OPEN and not o.reduce_only
            ),
            Decimal(0),
        )

    def available(self, account: Account) -> Decimal:
        upnl = sum((self.unrealized(account, s) for s in account.positions), Decimal(0))
        return account.wallet + upnl - self.position_margin(account) - self.order_margin(account)

    def liquidation_price(self, account: Account, symbol: str) -> Decimal:
        pos = account.positions.get(symbol)
        if pos is None or pos.qty == 0:
            return Decimal(0)
        room = 1 / Decimal(self.leverage_of(account, symbol)) - MAINTENANCE_RATE
        factor = 1 - room if pos.qty > 0 else 1 + room
        return _snap(pos.entry * factor, self.markets[symbol].tick, ROUND_FLOOR)

    # -- orders ---------------------------------------------------------------------------------------------

    def place(self, account: Account, p: dict[str, str]) -> Order:
        """POST order: validate like Aster (codes from its error list), then match against the book."""
        market = self.market(p.get("symbol"))
        side, kind = p.get("side"), p.get("type")
        if side not in ("BUY", "SELL"):
            raise ApiError(400, -1117, "Invalid side.")
        if kind not in ("LIMIT", "MARKET"):
            raise ApiError(400, -1116, "Invalid orderType.")
        tif = p.get("timeInForce", "GTC" if kind == "LIMIT" else "")
        if kind == "LIMIT" and tif not in ("GTC", "IOC", "FOK", "GTX"):
            raise ApiError(400, -1115, "Invalid timeInForce.")
        cid = p.get("newClientOrderId") or f"fake-{next(self._ids)}"
        if not CLIENT_ID.match(cid):
            raise ApiError(400, -4015, "Client order id is not valid.")
        previous = account.orders.get(account.by_client_id.get(cid, -1))
        if previous is not None and (self.unique_client_ids == "all" or previous.status in OPEN):
            raise ApiError(400, -4116, "ClientOrderId is duplicated.")
        try:
            qty = Decimal(p["quantity"])
            price = Decimal(p["price"]) if kind == "LIMIT" else Decimal(0)
        except (KeyError, ArithmeticError):
            raise ApiError(
                400, -1102, "Mandatory parameter 'quantity'/'price' was not sent, was empty/null, or malformed."
            ) from None
        reduce_only = p.get("reduceOnly", "false").lower() == "true"
        self._check_filters(market, side, kind, qty, price, reduce_only)
        pos = account.position(market.symbol)
        sign = 1 if side == "BUY" else -1
        if reduce_only and (pos.qty == 0 or (pos.qty > 0) == (sign > 0)):
            raise ApiError(400, -2022, "ReduceOnly Order is rejected.")
        if not reduce_only:
            opening = qty if pos.qty * sign >= 0 else max(Decimal(0), qty - abs(pos.qty))
            reference = price if kind == "LIMIT" else market.mark
            need = opening * reference / self.leverage_of(account, market.symbol)
            if need > self.available(account):
                raise ApiError(400, -2019, "Margin is insufficient.")
        crosses = kind == "LIMIT" and (price >= market.best_ask if side == "BUY" else price <= market.best_bid)
        if tif == "GTX" and crosses and self.gtx_cross == "error":
            raise ApiError(
                400, -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected."
            )
        now = self.now_ms()
        order = Order(next(self._ids), cid, market.symbol, side, kind, tif or "GTC", qty, price, reduce_only, now)
        account.orders[order.order_id] = order
        account.by_client_id[cid] = order.order_id
        self._event(account, order, "NEW")
        if tif == "GTX" and crosses:
            self._finish(account, order, "EXPIRED")
            return order
        if crosses or kind == "MARKET":
            self._take(account, market, order)
        if order.status in OPEN and (kind == "MARKET" or tif in ("IOC", "FOK")):
            self._finish(account, order, "EXPIRED")
        return order

    def _check_filters(
        self, market: FakeMarket, side: str, kind: str, qty: Decimal, price: Decimal, reduce_only: bool
    ) -> None:
        if qty <= 0:
            raise ApiError(400, -4003, "Quantity less than zero.")
        if kind == "LIMIT":
            if price <= 0:
                raise ApiError(400, -4001, "Price less than 0.")
            if price % market.tick != 0:
                raise ApiError(400, -4014, "Price not increased by tick size.")
        if (qty - market.min_qty) % market.step != 0:
            raise ApiError(400, -4023, "Qty not increased by step size.")
        if qty < market.min_qty:
            raise ApiError(400, -4004, "Quantity less than min quantity.")
        if qty > market.max_qty:
            raise ApiError(400, -4005, "Quantity greater than max quantity.")
        if kind == "LIMIT" and side == "BUY" and price > market.mark * market.multiplier_up:
            raise ApiError(400, -4016, "Price is higher than mark price multiplier cap.")
        if kind == "LIMIT" and side == "SELL" and price < market.mark * market.multiplier_down:
            raise ApiError(400, -4024, "Price is lower than mark price multiplier floor.")
        notional = qty * (price if kind == "LIMIT" else market.mark)
        if not reduce_only and notional < market.min_notional:
            text = f"Order's notional must be no smaller than {market.min_notional} (unless you choose reduce only)"
            raise ApiError(400, -4164, text)

    def _take(self, account: Account, market: FakeMarket, order: Order) -> None:
        """Match a taker order against the synthetic book (within its limit; reduce-only capped at the position)."""
        pos = account.position(market.symbol)
        wanted = order.qty - order.executed
        if order.reduce_only:
            wanted = min(wanted, abs(pos.qty))
        if self.partial_fill is not None:
            wanted = _snap(wanted * self.partial_fill, market.step, ROUND_FLOOR)
        for level_price, level_qty in market.book("asks" if order.side == "BUY" else "bids"):
            if wanted <= 0:
                break
            if order.type == "LIMIT" and (
                level_price > order.price if order.side == "BUY" else level_price < order.price
            ):
                break
            take = min(wanted, level_qty)
            self.fill(account, order, take, level_price, maker=False)
            wanted -= take

    def fill(self, account: Account, order: Order, qty: Decimal, price: Decimal, *, maker: bool) -> None:
        """Execute `qty` of `order` at `price`: position, realised PnL and fee, trade record, stream events."""
        pos = account.position(order.symbol)
        sign = 1 if order.side == "BUY" else -1
        realized = Decimal(0)
        if pos.qty == 0 or (pos.qty > 0) == (sign > 0):
            total = abs(pos.qty) + qty
            pos.entry = (abs(pos.qty) * pos.entry + qty * price) / total
            pos.qty += sign * qty
        else:
            closed = min(qty, abs(pos.qty))
            realized = closed * (price - pos.entry) * (1 if pos.qty > 0 else -1)
            pos.qty += sign * qty
            if pos.qty == 0:
                pos.entry = Decimal(0)
            elif (pos.qty > 0) == (sign > 0):  # flipped through zero
                pos.entry = price
        fee = (qty * price * (self.maker_fee if maker else self.taker_fee)).quantize(Decimal("0.00000001"))
        account.wallet += realized - fee
        order.executed += qty
        order.cum_quote += qty * price
        order.status = "FILLED" if order.executed >= order.qty else "PARTIALLY_FILLED"
        order.update_time = self.now_ms()
        trade_id = next(self._ids)
        account.trades.append(
            {
                "symbol": order.symbol,
                "id": trade_id,
                "orderId": order.order_id,
                "side": order.side,
                "price": fmt(price),
                "qty": fmt(qty),
                "quoteQty": fmt(qty * price),
                "realizedPnl": fmt(realized),
                "marginAsset": "USDT",
                "commission": fmt(fee),
                "commissionAsset": "USDT",
                "time": order.update_time,
                "positionSide": "BOTH",
                "buyer": order.side == "BUY",
                "maker": maker,
            }
        )
        self._event(account, order, "TRADE", last=(qty, price, fee, trade_id, maker, realized))
        self.emit(
            account,
            {
                "e": "ACCOUNT_UPDATE",
                "E": order.update_time,
                "T": order.update_time,
                "a": {
                    "m": "ORDER",
                    "B": [{"a": "USDT", "wb": fmt(account.wallet), "cw": fmt(account.wallet), "bc": "0"}],
                    "P": [
                        {
                            "s": order.symbol,
                            "pa": fmt(pos.qty),
                            "ep": fmt(pos.entry),
                            "cr": fmt(realized),
                            "up": fmt(self.unrealized(account, order.symbol)),
                            "mt": "cross",
                            "iw": "0",
                            "ps": "BOTH",
                        }
                    ],
                },
            },
        )

    def _finish(self, account: Account, order: Order, status: str) -> None:
        order.status = status
        order.update_time = self.now_ms()
        self._event(account, order, "CANCELED" if status == "CANCELED" else "EXPIRED")

    def _event(
        self,
        account: Account,
        order: Order,
        execution: str,
        last: tuple[Decimal, Decimal, Decimal, int, bool, Decimal] | None = None,
    ) -> None:
        qty, price, fee, trade_id, maker, realized = last or (Decimal(0), Decimal(0), Decimal(0), 0, False, Decimal(0))
        avg = order.cum_quote / order.executed if order.executed > 0 else Decimal(0)
        o: dict[str, Any] = {
            "s": order.symbol,
            "c": order.client_id,
            "S": order.side,
            "o": order.type,
            "f": order.tif,
            "q": fmt(order.qty),
            "p": fmt(order.price),
            "ap": fmt(avg),
            "sp": "0",
            "x": execution,
            "X": order.status,
            "i": order.order_id,
            "l": fmt(qty),
            "z": fmt(order.executed),
            "L": fmt(price),
            "T": order.update_time or order.time,
            "t": trade_id,
            "b": "0",
            "a": "0",
            "m": maker,
            "R": order.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": order.type,
            "ps": "BOTH",
            "cp": False,
            "rp": fmt(realized),
        }
        if last is not None:
            o["N"], o["n"] = "USDT", fmt(fee)
        self.emit(account, {"e": "ORDER_TRADE_UPDATE", "E": self.now_ms(), "T": o["T"], "o": o})

    def find(self, account: Account, p: dict[str, str]) -> Order:
        market = self.market(p.get("symbol"))
        if "orderId" in p:
            order = account.orders.get(int(p["orderId"]))
        elif "origClientOrderId" in p:
            order = account.orders.get(account.by_client_id.get(p["origClientOrderId"], -1))
        else:
            raise ApiError(400, -1102, "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!")
        if order is None or order.symbol != market.symbol:
            raise ApiError(400, -2013, "Order does not exist.")
        return order

    def cancel(self, account: Account, p: dict[str, str]) -> Order:
        try:
            order = self.find(account, p)
        except ApiError as exc:
            if exc.code == -2013:
                raise ApiError(400, -2011, "Unknown order sent.") from None
            raise
        if order.status not in OPEN:
            raise ApiError(400, -2011, "Unknown order sent.")
        self._finish(account, order, "CANCELED")
        return order

    # -- market moves, funding, liquidation (fault injection and the emulator's clock) ---------------------------

    def set_mark(self, symbol: str, mark: Decimal) -> None:
        """Move a market; resting orders the new book crosses fill as makers at their own price."""
        market = self.market(symbol)
        market.mark = _snap(mark, market.tick, ROUND_FLOOR)
        for account in self.accounts.values():
            for order in list(account.orders.values()):
                if order.symbol != symbol or order.status not in OPEN or order.type != "LIMIT":
                    continue
                crossed = order.price >= market.best_ask if order.side == "BUY" else order.price <= market.best_bid
                if crossed:
                    self.fill(account, order, order.qty - order.executed, order.price, maker=True)

    def fill_resting(self, account: Account, client_id: str, qty: Decimal) -> None:
        """Partially (or fully) fill a resting order as a maker at its price."""
        order = self.find(account, {"symbol": self._symbol_of(account, client_id), "origClientOrderId": client_id})
        self.fill(account, order, min(qty, order.qty - order.executed), order.price, maker=True)

    def _symbol_of(self, account: Account, client_id: str) -> str:
        order = account.orders.get(account.by_client_id.get(client_id, -1))
        if order is None:
            raise ApiError(400, -2013, "Order does not exist.")
        return order.symbol

    def settle_funding(self, symbol: str) -> None:
        """Settle one funding interval at the current rate: positive rate, longs pay shorts."""
        market = self.market(symbol)
        now = self.now_ms()
        self.funding_history[symbol].append(
            {
                "symbol": symbol,
                "fundingRate": fmt(market.funding_rate),
                "fundingTime": now,
                "markPrice": fmt(market.mark),
            }
        )
        for account in self.accounts.values():
            pos = account.positions.get(symbol)
            if pos is None or pos.qty == 0:
                continue
            amount = (-pos.qty * market.mark * market.funding_rate).quantize(Decimal("0.00000001"))
            account.wallet += amount
            tran = next(self._ids)
            account.income.append(
                {
                    "symbol": symbol,
                    "incomeType": "FUNDING_FEE",
                    "income": fmt(amount),
                    "asset": "USDT",
                    "info": "FUNDING_FEE",
                    "time": now,
                    "tranId": tran,
                    "tradeId": "",
                }
            )
            self.emit(
                account,
                {
                    "e": "ACCOUNT_UPDATE",
                    "E": now,
                    "T": now,
                    "a": {"m": "FUNDING_FEE", "B": [{"a": "USDT", "wb": fmt(account.wallet), "cw": "0", "bc": "0"}]},
                },
            )

    def liquidate(self, account: Account, symbol: str) -> None:
        """Close the account's position at the mark with an Aster liquidation order (`autoclose-…`)."""
        market = self.market(symbol)
        pos = account.position(symbol)
        if pos.qty == 0:
            return
        side = "SELL" if pos.qty > 0 else "BUY"
        now = self.now_ms()
        order = Order(
            next(self._ids),
            f"autoclose-{now}",
            symbol,
            side,
            "LIQUIDATION",
            "IOC",
            abs(pos.qty),
            market.mark,
            True,
            now,
        )
        account.orders[order.order_id] = order
        self.fill(account, order, abs(pos.qty), market.mark, maker=False)
