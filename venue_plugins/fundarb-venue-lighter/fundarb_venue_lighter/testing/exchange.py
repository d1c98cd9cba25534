"""The fake Lighter's exchange: accounts, API-key nonces, transaction checks, matching, positions, funding.

Pure state, no I/O: the server (`fake_server`) renders it in Lighter's wire formats. It checks what the real venue
checks as far as can be done without Lighter's signature scheme: the signer's `tx_info` JSON is decoded field by
field (account, API key, expiry, nonce, integer ranges, order-type rules, minimums), and the `Sig` must be the
signer's 80-byte signature in base64. The signature itself is *not* verified: it is a Schnorr signature over
Lighter's own curve and hash (ECgFp5 / Poseidon2) and the SDK's native library exports no verification function
(its exports are `Sign*`, `CreateClient`, `CheckClient`, `CreateAuthToken`, `GenerateAPIKey`, `Free`).

Error codes marked FAKE are this fake's choice for cases the reference gives no code for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["DEFAULT_MARKETS", "FakeExchange", "FakeOrder", "MarketSpec", "TxError"]

ZERO = Decimal(0)
MAX_PRICE = 2**32 - 1
MAX_48 = 2**48 - 1
ORDER_INDEX_BASE = 2**48  # order indexes never overlap client order indexes
FAKE_INVALID_NONCE = 21104  # FAKE: the reference gives no code ("invalid nonce" is matched by text)
FAKE_EXPIRED_TX = 21105  # FAKE
FAKE_BAD_SIGNATURE = 21106  # FAKE
FAKE_UNKNOWN_KEY = 21107  # FAKE
FAKE_MIN_QUOTE = 21706  # FAKE
IOC, GTT, POST_ONLY = 0, 1, 2
LIMIT, MARKET = 0, 1
TIF_NAMES = {IOC: "immediate-or-cancel", GTT: "good-till-time", POST_ONLY: "post-only"}


class TxError(Exception):
    """A refused request: HTTP 400 with Lighter's `{"code", "message"}`."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class MarketSpec:
    symbol: str
    market_id: int
    size_decimals: int
    price_decimals: int
    mid: Decimal
    min_base_amount: Decimal
    min_quote_amount: Decimal
    min_imf: int = 200  # 50x
    default_imf: int = 1000  # 10x
    maintenance_mf: int = 120
    hourly_rate: Decimal = Decimal("0.00001")  # fraction per hour
    level_size: Decimal = Decimal(1)  # market maker quantity per level
    levels: int = 20
    half_spread_ticks: int = 5
    level_ticks: int = 10
    taker_fee: str = "0.0000"  # percent
    maker_fee: str = "0.0000"


DEFAULT_MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec("ETH", 0, 4, 2, Decimal("3000.00"), Decimal("0.0050"), Decimal("10"), level_size=Decimal(5)),
    MarketSpec("BTC", 1, 5, 1, Decimal("60000.0"), Decimal("0.00020"), Decimal("10"), level_size=Decimal("0.5")),
    MarketSpec("SOL", 2, 3, 3, Decimal("150.000"), Decimal("0.050"), Decimal("10"), level_size=Decimal(50)),
    MarketSpec(
        "DOGE", 3, 0, 6, Decimal("0.150000"), Decimal("10"), Decimal("10"), min_imf=500, level_size=Decimal(50000)
    ),
)


@dataclass
class FakeOrder:
    order_index: int
    client_order_index: int
    account: int
    market_id: int
    is_ask: bool
    initial: int  # base units
    price: int  # price units
    type: int
    tif: int
    reduce_only: bool
    expiry: int
    nonce: int
    created_ms: int
    remaining: int = 0
    filled: int = 0
    filled_quote: Decimal = ZERO
    status: str = "open"
    updated_ms: int = 0


@dataclass
class Position:
    size: Decimal = ZERO  # signed base quantity
    entry: Decimal = ZERO  # average entry price
    funding_paid: Decimal = ZERO  # total paid out (received is negative)
    realized: Decimal = ZERO


@dataclass
class Account:
    index: int
    collateral: Decimal
    positions: dict[int, Position] = field(default_factory=dict)
    imf: dict[int, int] = field(default_factory=dict)
    margin_mode: dict[int, int] = field(default_factory=dict)
    orders: dict[int, FakeOrder] = field(default_factory=dict)  # every order, by order index
    client_indexes: set[int] = field(default_factory=set)
    fundings: list[dict[str, Any]] = field(default_factory=list)
    created_s: int = 0


def _units(value: Decimal, decimals: int) -> int:
    return int(value.scaleb(decimals).to_integral_value())


class FakeExchange:
    """The venue's state. `now_ms` is supplied by the caller on every call (the server passes wall-clock time)."""

    def __init__(
        self, markets: tuple[MarketSpec, ...] = DEFAULT_MARKETS, *, balance: Decimal = Decimal(10_000), seed: int = 0
    ) -> None:
        rng = random.Random(seed)
        self.markets = {m.market_id: m for m in markets}
        # --seed makes the market reproducible: each mid moves by a seeded offset of up to ±1 %.
        self.mids = {
            m.market_id: m.mid * (1 + Decimal(rng.randint(-100, 100)) / 10_000) if seed else m.mid for m in markets
        }
        self.mids = {k: v.quantize(Decimal(1).scaleb(-self.markets[k].price_decimals)) for k, v in self.mids.items()}
        self.balance = balance
        self.accounts: dict[int, Account] = {}
        self.api_keys: dict[tuple[int, int], str] = {}  # (account, key index) → public key
        self.nonces: dict[tuple[int, int], int] = {}
        self.tx_count = 0
        self._next_order = 0
        self.funding_hour: int | None = None
        self.trades: list[dict[str, Any]] = []
        self.book_version = 0  # bumped whenever resting liquidity changes (websocket deltas follow)

    # -- accounts and keys -------------------------------------------------------------------------------------

    def account(self, index: int, now_ms: int = 0) -> Account:
        if index not in self.accounts:
            self.accounts[index] = Account(index, self.balance, created_s=now_ms // 1000)
        return self.accounts[index]

    def register_key(self, account: int, key: int, public_key: str) -> None:
        # Lighter lists public keys without "0x" (the SDK's own check compares them so), while the SDK's
        # `create_api_key` returns one with it.
        self.api_keys[(account, key)] = public_key.removeprefix("0x")
        self.account(account)

    def next_nonce(self, account: int, key: int) -> int:
        return self.nonces.get((account, key), 0)

    def bump_nonce(self, account: int, key: int, by: int = 1) -> None:
        """Another client used the key `by` times (the adapter must re-synchronise)."""
        self.nonces[(account, key)] = self.next_nonce(account, key) + by

    def check_auth(self, token: str | None, account: int, now_ms: int) -> None:
        """Check an auth token `"{expiry}:{account}:{key}:{hex}"`: shape, account, key and expiry."""
        parts = (token or "").split(":")
        if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit() or not parts[2].isdigit():
            raise TxError(20001, "invalid auth token", status=400)  # FAKE code
        expiry, acct, key = int(parts[0]), int(parts[1]), int(parts[2])
        if acct != account:
            raise TxError(20001, "auth token is for another account", status=400)
        if expiry * 1000 < now_ms:
            raise TxError(20001, "auth token expired", status=400)
        if self._keys_of(acct) and (acct, key) not in self.api_keys:
            raise TxError(FAKE_UNKNOWN_KEY, "api key not found", status=400)
        try:
            bytes.fromhex(parts[3])
        except ValueError:
            raise TxError(20001, "invalid auth token", status=400) from None

    def _keys_of(self, account: int) -> list[int]:
        return [k for (a, k) in self.api_keys if a == account]

    # -- market state ------------------------------------------------------------------------------------------

    def mark(self, market_id: int) -> Decimal:
        return self.mids[market_id]

    def tick(self, market_id: int) -> Decimal:
        return Decimal(1).scaleb(-self.markets[market_id].price_decimals)

    def mm_levels(self, market_id: int, is_ask: bool) -> list[tuple[int, int]]:
        """The market maker's (price units, base units) levels on one side, best first."""
        spec = self.markets[market_id]
        mid = _units(self.mids[market_id], spec.price_decimals)
        size = _units(spec.level_size, spec.size_decimals)
        sign = 1 if is_ask else -1
        levels = []
        for k in range(spec.levels):
            price = mid + sign * (spec.half_spread_ticks + k * spec.level_ticks)
            if price >= 1:
                levels.append((price, size))
        return levels

    def resting(self, market_id: int, is_ask: bool) -> list[FakeOrder]:
        orders = [
            o
            for a in self.accounts.values()
            for o in a.orders.values()
            if o.market_id == market_id and o.is_ask == is_ask and o.status == "open" and o.remaining > 0
        ]
        orders.sort(key=lambda o: (o.price if is_ask else -o.price, o.order_index))
        return orders

    def book(self, market_id: int, is_ask: bool) -> list[tuple[int, int, FakeOrder | None]]:
        """Every resting unit of liquidity on one side, best first: (price, size, order or None for the maker)."""
        entries: list[tuple[int, int, FakeOrder | None]] = [(p, s, None) for p, s in self.mm_levels(market_id, is_ask)]
        entries += [(o.price, o.remaining, o) for o in self.resting(market_id, is_ask)]
        entries.sort(key=lambda e: (e[0] if is_ask else -e[0], e[2].order_index if e[2] else -1))
        return entries

    def aggregated(self, market_id: int, is_ask: bool, depth: int = 50) -> list[tuple[Decimal, Decimal]]:
        spec = self.markets[market_id]
        totals: dict[int, int] = {}
        for price, size, _ in self.book(market_id, is_ask):
            totals[price] = totals.get(price, 0) + size
        prices = sorted(totals, reverse=not is_ask)[:depth]
        return [
            (Decimal(p).scaleb(-spec.price_decimals), Decimal(totals[p]).scaleb(-spec.size_decimals)) for p in prices
        ]

    # -- transactions ------------------------------------------------------------------------------------------

    def send_tx(self, tx_type: int, tx_info: str, now_ms: int) -> str:
        """Check and execute one signed transaction; return its hash, or raise `TxError` (nonce not consumed)."""
        try:
            info = json.loads(tx_info)
        except ValueError:
            raise TxError(21501, "invalid tx info: not JSON") from None
        if not isinstance(info, dict):
            raise TxError(21501, "invalid tx info")
        for name in ("AccountIndex", "ApiKeyIndex", "Nonce", "ExpiredAt", "Sig"):
            if name not in info:
                raise TxError(21501, f"invalid tx info: missing {name}")
        account, key, nonce = int(info["AccountIndex"]), int(info["ApiKeyIndex"]), int(info["Nonce"])
        try:
            signature = base64.b64decode(str(info["Sig"]), validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        if len(signature) != 80:
            raise TxError(FAKE_BAD_SIGNATURE, "invalid signature")
        if self._keys_of(account) and (account, key) not in self.api_keys:
            raise TxError(FAKE_UNKNOWN_KEY, "api key not found")
        if not 0 <= key <= 254:
            raise TxError(21501, "invalid tx info: api key index")
        if int(info["ExpiredAt"]) < now_ms:
            raise TxError(FAKE_EXPIRED_TX, "transaction expired")
        expected = self.next_nonce(account, key)
        if nonce != expected:
            raise TxError(FAKE_INVALID_NONCE, f"invalid nonce: expected {expected}, got {nonce}")
        acct = self.account(account, now_ms)
        if tx_type == 14:
            self._create_order(acct, info, now_ms)
        elif tx_type == 15:
            self._cancel_order(acct, info, now_ms)
        elif tx_type == 20:
            self._update_leverage(acct, info)
        else:
            raise TxError(21501, f"invalid tx info: transaction type {tx_type} is not served by the fake")
        self.nonces[(account, key)] = nonce + 1
        self.tx_count += 1
        return hashlib.sha256(f"{tx_type}:{tx_info}".encode()).hexdigest()[:80]

    def _market_of(self, info: dict[str, Any]) -> MarketSpec:
        market = self.markets.get(int(info.get("MarketIndex", -1)))
        if market is None:
            raise TxError(21602, "invalid market index")
        return market

    def _create_order(self, acct: Account, info: dict[str, Any], now_ms: int) -> None:
        spec = self._market_of(info)
        cidx, base, price = int(info["ClientOrderIndex"]), int(info["BaseAmount"]), int(info["Price"])
        kind, tif, expiry = int(info["Type"]), int(info["TimeInForce"]), int(info["OrderExpiry"])
        is_ask, reduce_only = bool(info["IsAsk"]), bool(info["ReduceOnly"])
        if not 0 <= cidx <= MAX_48:
            raise TxError(21727, "invalid client order index")
        if cidx in acct.client_indexes:
            raise TxError(21728, "client order index already exists")
        if not 1 <= base <= MAX_48:
            raise TxError(21701, "invalid order base amount")
        if not 1 <= price <= MAX_PRICE:
            raise TxError(21702, "invalid order price")
        if kind not in (LIMIT, MARKET) or tif not in (IOC, GTT, POST_ONLY):
            raise TxError(21501, "invalid tx info: order type or time in force")
        if kind == MARKET and tif != IOC:
            raise TxError(21501, "invalid tx info: market orders must be immediate-or-cancel")
        if (tif == IOC) != (expiry == 0) or (expiry not in (0, -1) and expiry <= now_ms):
            raise TxError(21711, "invalid order expiry")
        size = Decimal(base).scaleb(-spec.size_decimals)
        px = Decimal(price).scaleb(-spec.price_decimals)
        if size < spec.min_base_amount:
            raise TxError(21701, f"invalid order base amount: below the minimum {spec.min_base_amount}")
        if not reduce_only and size * px < spec.min_quote_amount:
            raise TxError(FAKE_MIN_QUOTE, f"order quote amount below the min quote amount {spec.min_quote_amount}")
        mark = self.mark(spec.market_id)
        if kind == LIMIT and not mark / 2 <= px <= mark * 2:
            raise TxError(21734, "order price too far from the mark price")
        position = acct.positions.get(spec.market_id, Position())
        if reduce_only and (position.size == 0 or (position.size > 0) != is_ask):
            raise TxError(21732, "reduce-only order would increase the position")
        if not reduce_only:
            self._check_margin(acct, spec, size if not is_ask else -size, px)
        self._next_order += 1
        order = FakeOrder(
            order_index=ORDER_INDEX_BASE + self._next_order,
            client_order_index=cidx,
            account=acct.index,
            market_id=spec.market_id,
            is_ask=is_ask,
            initial=base,
            price=price,
            type=kind,
            tif=tif,
            reduce_only=reduce_only,
            expiry=expiry,
            nonce=int(info["Nonce"]),
            created_ms=now_ms,
            remaining=base,
            updated_ms=now_ms,
        )
        acct.orders[order.order_index] = order
        acct.client_indexes.add(cidx)
        self._execute(acct, order, now_ms)

    def _check_margin(self, acct: Account, spec: MarketSpec, delta: Decimal, price: Decimal) -> None:
        required = self.initial_margin(acct)
        imf = Decimal(acct.imf.get(spec.market_id, spec.default_imf)) / 10_000
        required += abs(delta) * max(price, self.mark(spec.market_id)) * imf
        if required > self.total_asset_value(acct):
            raise TxError(21739, "not enough margin to create the order")

    def _execute(self, acct: Account, order: FakeOrder, now_ms: int) -> None:
        spec = self.markets[order.market_id]
        crosses = [
            e for e in self.book(order.market_id, not order.is_ask) if e[2] is None or e[2].account != acct.index
        ]
        crosses = [e for e in crosses if (e[0] <= order.price if not order.is_ask else e[0] >= order.price)]
        if order.tif == POST_ONLY and crosses:
            order.status, order.updated_ms = "canceled-post-only", now_ms
            order.remaining = 0
            return
        limit = order.initial
        if order.reduce_only:
            limit = min(limit, _units(abs(acct.positions.get(order.market_id, Position()).size), spec.size_decimals))
        for price, size, maker in crosses:
            if order.filled >= limit:
                break
            take = min(size, limit - order.filled)
            self._fill(acct, order, maker, price, take, now_ms)
        if order.filled >= order.initial:
            order.status, order.remaining = "filled", 0
        elif order.reduce_only and order.filled >= limit:
            order.status, order.remaining = "canceled-reduce-only", 0
        elif order.tif == IOC:
            order.status = "canceled-too-much-slippage" if order.type == MARKET else "canceled"
            order.remaining = 0
        else:
            self.book_version += 1  # rests
        order.updated_ms = now_ms

    def _fill(
        self, taker_acct: Account, taker: FakeOrder, maker: FakeOrder | None, price: int, take: int, now_ms: int
    ) -> None:
        spec = self.markets[taker.market_id]
        qty = Decimal(take).scaleb(-spec.size_decimals)
        px = Decimal(price).scaleb(-spec.price_decimals)
        taker.filled += take
        taker.remaining = max(0, taker.initial - taker.filled)
        taker.filled_quote += qty * px
        fee = qty * px * Decimal(spec.taker_fee) / 100
        self._trade(taker_acct, taker.market_id, -qty if taker.is_ask else qty, px, fee)
        if maker is not None:
            maker.filled += take
            maker.remaining -= take
            maker.filled_quote += qty * px
            maker.updated_ms = now_ms
            if maker.remaining == 0:
                maker.status = "filled"
            maker_fee = qty * px * Decimal(spec.maker_fee) / 100
            self._trade(self.accounts[maker.account], maker.market_id, -qty if maker.is_ask else qty, px, maker_fee)
            self.book_version += 1
        self.trades.append({"market_id": taker.market_id, "size": qty, "price": px, "ts": now_ms})

    def _trade(self, acct: Account, market_id: int, delta: Decimal, price: Decimal, fee: Decimal) -> None:
        pos = acct.positions.setdefault(market_id, Position())
        acct.collateral -= fee
        if pos.size == 0 or (pos.size > 0) == (delta > 0):
            total = abs(pos.size) + abs(delta)
            pos.entry = (abs(pos.size) * pos.entry + abs(delta) * price) / total
            pos.size += delta
            return
        closing = min(abs(delta), abs(pos.size))
        pnl = closing * (price - pos.entry) * (1 if pos.size > 0 else -1)
        acct.collateral += pnl
        pos.realized += pnl
        pos.size += delta
        if pos.size == 0:
            pos.entry = ZERO
        elif (pos.size > 0) == (delta > 0):  # flipped: the rest opened at this price
            pos.entry = price

    def _cancel_order(self, acct: Account, info: dict[str, Any], now_ms: int) -> None:
        spec = self._market_of(info)
        index = int(info["Index"])
        # The cancel's Index names the order by client order index (< 2^48) or by order index (>= 2^48).
        for order in acct.orders.values():
            hit = order.client_order_index == index if index <= MAX_48 else order.order_index == index
            if hit and order.market_id == spec.market_id and order.status == "open":
                order.status, order.remaining, order.updated_ms = "canceled", 0, now_ms
                self.book_version += 1
                return
        raise TxError(21700, "invalid order index")

    def _update_leverage(self, acct: Account, info: dict[str, Any]) -> None:
        spec = self._market_of(info)
        fraction = int(info["InitialMarginFraction"])
        if not spec.min_imf <= fraction <= 10_000:
            raise TxError(21501, f"invalid initial margin fraction {fraction} (allowed {spec.min_imf}..10000)")
        if int(info["MarginMode"]) not in (0, 1):
            raise TxError(21501, "invalid margin mode")
        acct.imf[spec.market_id] = fraction
        acct.margin_mode[spec.market_id] = int(info["MarginMode"])

    # -- risk, funding, liquidation ----------------------------------------------------------------------------

    def unrealized(self, acct: Account) -> Decimal:
        return sum((p.size * (self.mark(m) - p.entry) for m, p in acct.positions.items() if p.size), ZERO)

    def total_asset_value(self, acct: Account) -> Decimal:
        return acct.collateral + self.unrealized(acct)

    def initial_margin(self, acct: Account) -> Decimal:
        total = ZERO
        for market_id, pos in acct.positions.items():
            imf = Decimal(acct.imf.get(market_id, self.markets[market_id].default_imf)) / 10_000
            total += abs(pos.size) * self.mark(market_id) * imf
        for order in acct.orders.values():
            if order.status == "open" and order.remaining and not order.reduce_only:
                spec = self.markets[order.market_id]
                imf = Decimal(acct.imf.get(order.market_id, spec.default_imf)) / 10_000
                total += (
                    Decimal(order.remaining).scaleb(-spec.size_decimals)
                    * Decimal(order.price).scaleb(-spec.price_decimals)
                    * imf
                )
        return total

    def liquidation_price(self, acct: Account, market_id: int) -> Decimal:
        """Where equity meets the maintenance margin, moving this market alone (0 when there is none)."""
        pos = acct.positions.get(market_id)
        if pos is None or pos.size == 0:
            return ZERO
        m = Decimal(self.markets[market_id].maintenance_mf) / 10_000
        others = self.total_asset_value(acct) - pos.size * (self.mark(market_id) - pos.entry)
        s = pos.size
        denominator = s * (1 - m) if s > 0 else s * (1 + m)
        price = (s * pos.entry - others) / denominator
        return max(ZERO, price).quantize(self.tick(market_id))

    def settle_funding(self, now_ms: int) -> int:
        """Settle one hour of funding for every open position; return how many payments were made.

        Payment = −signed size × mark × hourly rate (positive rate: longs pay shorts).
        """
        hour = now_ms // 3_600_000
        made = 0
        for acct in self.accounts.values():
            for market_id, pos in acct.positions.items():
                if pos.size == 0:
                    continue
                rate = self.markets[market_id].hourly_rate
                payment = -pos.size * self.mark(market_id) * rate
                acct.collateral += payment
                pos.funding_paid -= payment
                acct.fundings.append(
                    {
                        "timestamp": hour * 3600,
                        "market_id": market_id,
                        "funding_id": hour,
                        "change": payment,
                        "rate": rate * 100,  # percent per hour, like `fundings`
                        "position_size": abs(pos.size),
                        "position_side": "long" if pos.size > 0 else "short",
                    }
                )
                made += 1
        self.funding_hour = hour
        return made

    def liquidate(self, account: int, market_id: int, now_ms: int) -> Decimal:
        """Close a position at the mark as the venue's liquidation engine would; return the size closed."""
        acct = self.account(account, now_ms)
        pos = acct.positions.get(market_id)
        if pos is None or pos.size == 0:
            return ZERO
        size = pos.size
        self._trade(acct, market_id, -size, self.mark(market_id), ZERO)
        for order in acct.orders.values():
            if order.market_id == market_id and order.status == "open":
                order.status, order.remaining, order.updated_ms = "canceled-liquidation", 0, now_ms
        return size

    def move_mid(self, market_id: int, price: Decimal) -> None:
        self.mids[market_id] = price.quantize(self.tick(market_id))
        self.book_version += 1
