"""Aster's replies as typed records: the shapes of Aster's public API docs (V3 futures, Binance-compatible).

Field names are the wire names. A field with no default is required; `X | None = None` is optional (absent or
`null`). The scalar types (`Pos`, `Ms`, ...) are checked by `decode.structure`; the `check()` methods add the rules
that span fields (a book sorted and uncrossed, a fill no larger than its order). Only the fields the adapter reads
are declared; anything else in a reply is ignored.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, TypeVar

import attrs

from fundarb_venue_aster.decode import (
    CONVERTER,
    Bool,
    Id,
    Int,
    Malformed,
    Ms,
    MsOrZero,
    NonNeg,
    Num,
    Pos,
    Rate,
    Text,
    structure,
)

__all__ = [
    "BalanceRow",
    "BookTicker",
    "Brackets",
    "CommissionRate",
    "Depth",
    "DualSide",
    "FundingInfoRow",
    "FundingRateRow",
    "IncomeRow",
    "Kline",
    "LeverageReply",
    "ListenKey",
    "OrderReply",
    "PositionRow",
    "PremiumIndex",
    "RateLimit",
    "ServerTime",
    "SymbolInfo",
    "TradeRow",
    "read",
    "read_rows",
    "read_rows_lenient",
]

R = TypeVar("R")

OrderStatusText = Literal[
    "NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED", "NEW_INSURANCE", "NEW_ADL"
]
SideText = Literal["BUY", "SELL"]
TifText = Literal["GTC", "IOC", "FOK", "GTX", "GTD", "HIDDEN"]


@attrs.frozen
class ServerTime:
    serverTime: Ms


@attrs.frozen
class RateLimit:
    rateLimitType: Text
    interval: Text
    intervalNum: Int
    limit: Int

    def check(self) -> None:
        if self.intervalNum < 1 or self.limit < 1:
            raise Malformed("$", f"rate limit {self.limit} per {self.intervalNum} {self.interval} is not positive")


@attrs.frozen
class Filter:
    filterType: Text
    tickSize: Pos | None = None
    minPrice: NonNeg | None = None
    maxPrice: NonNeg | None = None
    stepSize: Pos | None = None
    minQty: NonNeg | None = None
    maxQty: NonNeg | None = None
    notional: NonNeg | None = None
    minNotional: NonNeg | None = None
    multiplierUp: Pos | None = None
    multiplierDown: Pos | None = None
    limit: Int | None = None


@attrs.frozen
class SymbolInfo:
    symbol: Text
    baseAsset: Text
    quoteAsset: Text
    status: Text
    filters: list[Filter]
    contractType: Text = Text("PERPETUAL")
    marginAsset: Text | None = None

    def filter(self, kind: str) -> Filter | None:
        return next((f for f in self.filters if f.filterType == kind), None)


@attrs.frozen
class FundingInfoRow:
    symbol: Text
    fundingIntervalHours: Int

    def check(self) -> None:
        if self.fundingIntervalHours not in (1, 2, 4, 8, 12, 24):
            raise Malformed("$.fundingIntervalHours", f"{self.fundingIntervalHours} h is not a funding interval")


@attrs.frozen
class Bracket:
    initialLeverage: Int


@attrs.frozen
class Brackets:
    symbol: Text
    brackets: list[Bracket]

    def max_leverage(self) -> Decimal | None:
        levels = [b.initialLeverage for b in self.brackets]
        if any(not 1 <= level <= 1000 for level in levels):
            raise Malformed("$.brackets", f"leverage outside 1..1000 in {levels}")
        return Decimal(max(levels)) if levels else None


@attrs.frozen
class CommissionRate:
    symbol: Text
    makerCommissionRate: Rate
    takerCommissionRate: Rate

    def check(self) -> None:
        # Rebates exist (a negative maker rate), a fee above 1 % of notional is garbage, and taker pays at least maker.
        if not Decimal("-0.01") < self.makerCommissionRate < Decimal("0.01"):
            raise Malformed("$.makerCommissionRate", f"{self.makerCommissionRate} is not a plausible fee rate")
        if not Decimal(0) <= self.takerCommissionRate < Decimal("0.01"):
            raise Malformed("$.takerCommissionRate", f"{self.takerCommissionRate} is not a plausible fee rate")


@attrs.frozen
class PremiumIndex:
    symbol: Text
    markPrice: Pos
    indexPrice: Pos
    lastFundingRate: Rate
    nextFundingTime: Ms
    time: Ms | None = None


@attrs.frozen
class BookTicker:
    symbol: Text
    bidPrice: Pos
    bidQty: NonNeg
    askPrice: Pos
    askQty: NonNeg
    time: Ms | None = None

    def check(self) -> None:
        if self.bidPrice >= self.askPrice:
            raise Malformed("$", f"crossed or locked book: bid {self.bidPrice} >= ask {self.askPrice}")


@attrs.frozen
class Level:
    price: Decimal
    qty: Decimal


@attrs.frozen
class Depth:
    bids: list[Level]
    asks: list[Level]
    T: Ms | None = None
    E: Ms | None = None

    def check(self) -> None:
        for name, side, descending in (("bids", self.bids, True), ("asks", self.asks, False)):
            prices = [level.price for level in side]
            for i in range(1, len(prices)):
                if (prices[i] >= prices[i - 1]) if descending else (prices[i] <= prices[i - 1]):
                    raise Malformed(f"$.{name}[{i}]", f"{name} not strictly {'de' if descending else 'a'}scending")
        if self.bids and self.asks and self.bids[0].price >= self.asks[0].price:
            raise Malformed("$", f"crossed book: best bid {self.bids[0].price} >= best ask {self.asks[0].price}")


@attrs.frozen
class OrderReply:
    orderId: Id
    symbol: Text
    status: OrderStatusText
    clientOrderId: Text
    side: SideText
    origQty: Pos
    executedQty: NonNeg
    price: NonNeg
    avgPrice: NonNeg = NonNeg(Decimal(0))
    cumQuote: NonNeg | None = None
    timeInForce: TifText = "GTC"
    type: Text = Text("LIMIT")
    reduceOnly: Bool = Bool(False)
    updateTime: Ms | None = None
    time: Ms | None = None

    def check(self) -> None:
        if self.executedQty > self.origQty:
            raise Malformed("$.executedQty", f"{self.executedQty} filled of an order for {self.origQty}")
        if self.executedQty > 0 and self.avgPrice == 0 and not self.cumQuote:
            raise Malformed("$.avgPrice", "filled without an average price or quote amount")


@attrs.frozen
class TradeRow:
    id: Id
    orderId: Id
    symbol: Text
    price: Pos
    qty: Pos
    commission: Num
    commissionAsset: Text
    maker: Bool
    quoteQty: NonNeg | None = None
    time: Ms | None = None


@attrs.frozen
class PositionRow:
    symbol: Text
    positionAmt: Num
    entryPrice: NonNeg
    markPrice: NonNeg
    unRealizedProfit: Num
    liquidationPrice: NonNeg
    leverage: Int
    marginType: Literal["cross", "isolated", "CROSSED", "ISOLATED"] = "cross"
    isolatedMargin: NonNeg | None = None
    positionSide: Literal["BOTH", "LONG", "SHORT"] = "BOTH"
    updateTime: MsOrZero | None = None

    def check(self) -> None:
        if not 1 <= self.leverage <= 1000:
            raise Malformed("$.leverage", f"{self.leverage} is not a leverage")
        if self.positionAmt != 0 and self.entryPrice == 0:
            raise Malformed("$.entryPrice", f"position {self.positionAmt} without an entry price")

    @property
    def isolated(self) -> bool:
        return self.marginType.lower().startswith("isolated")


@attrs.frozen
class BalanceRow:
    asset: Text
    balance: Num
    availableBalance: Num
    crossUnPnl: Num = Num(Decimal(0))
    updateTime: MsOrZero | None = None

    def check(self) -> None:
        # Available margin can never exceed the wallet plus unrealised profit (a wallet of 0 with 99,9xx available
        # is garbage); a small tolerance absorbs rounding.
        ceiling = self.balance + max(self.crossUnPnl, Decimal(0))
        if self.availableBalance > ceiling + abs(ceiling) * Decimal("0.001") + Decimal("0.01"):
            raise Malformed("$.availableBalance", f"{self.availableBalance} available of a wallet of {self.balance}")


@attrs.frozen
class IncomeRow:
    symbol: Text
    incomeType: Text
    income: Num
    asset: Text
    time: Ms
    tranId: Id


@attrs.frozen
class FundingRateRow:
    symbol: Text
    fundingRate: Rate
    fundingTime: Ms
    markPrice: Any = None  # often "" in old rows; read with `mark()`

    def mark(self) -> Decimal | None:
        """The mark price the rate settled at, or None when Aster has none for this row."""
        if self.markPrice in (None, ""):
            return None
        mark: Decimal = structure(self.markPrice, Pos, "$.markPrice")
        return mark


@attrs.frozen
class LeverageReply:
    leverage: Int
    symbol: Text


@attrs.frozen
class ListenKey:
    listenKey: Text

    def check(self) -> None:
        if not self.listenKey or len(self.listenKey) > 128 or not self.listenKey.isalnum():
            raise Malformed("$.listenKey", "not a listen key")


@attrs.frozen
class DualSide:
    dualSidePosition: Bool


@attrs.frozen
class Kline:
    """One row of `markPriceKlines`: [open time, open, high, low, close, volume, close time, ...]."""

    at: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def check(self) -> None:
        if not (self.low <= min(self.open, self.close) and max(self.open, self.close) <= self.high):
            raise Malformed("$", f"candle low {self.low} / high {self.high} do not bound open and close")


# -- positional rows ------------------------------------------------------------------------------------------------


def _pair(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, found {type(value).__name__}")
    return value


def _level(value: Any, _: Any) -> Level:
    row = _pair(value)
    if len(row) != 2:
        raise ValueError(f"expected [price, quantity], found {len(row)} items")
    return Level(structure(row[0], Pos, "$[0]"), structure(row[1], Pos, "$[1]"))


def _kline(value: Any, _: Any) -> Kline:
    row = _pair(value)
    if len(row) < 6:
        raise ValueError(f"expected at least 6 items in a kline, found {len(row)}")
    open_, high, low, close = (structure(row[i], Pos, f"$[{i}]") for i in range(1, 5))
    return Kline(structure(row[0], Ms, "$[0]"), open_, high, low, close, structure(row[5], NonNeg, "$[5]"))


CONVERTER.register_structure_hook(Level, _level)
CONVERTER.register_structure_hook(Kline, _kline)


# -- reading --------------------------------------------------------------------------------------------------------


def read(data: Any, cls: type[R], path: str = "$") -> R:
    """Structure one record and apply its `check()`; raise `Malformed` naming the field."""
    record = structure(data, cls, path)
    check = getattr(record, "check", None)
    if check is not None:
        try:
            check()
        except Malformed as exc:
            raise Malformed(path + exc.where[1:], exc.why) from None
    return record


def read_rows(data: Any, cls: type[R]) -> list[R]:
    """A JSON list of records, every one valid (a bad row fails the whole reply)."""
    if not isinstance(data, list):
        raise Malformed("$", f"expected a list, found {type(data).__name__}")
    return [read(row, cls, f"$[{i}]") for i, row in enumerate(data)]


def read_rows_lenient(data: Any, cls: type[R]) -> tuple[list[R], list[Malformed]]:
    """A JSON list of independent records (one per symbol): the valid ones, and what was wrong with the others."""
    if not isinstance(data, list):
        raise Malformed("$", f"expected a list, found {type(data).__name__}")
    good: list[R] = []
    bad: list[Malformed] = []
    for i, row in enumerate(data):
        try:
            good.append(read(row, cls, f"$[{i}]"))
        except Malformed as exc:
            bad.append(exc)
    return good, bad
