"""Lighter's replies as typed wire records, and the strict converter that builds them.

Each record names the wire fields the adapter reads (unread fields are ignored). The field types are narrow
`NewType`s whose structure hooks refuse what no real reply holds: NaN, Infinity, `1e400`, numbers beyond
`MAX_MAGNITUDE`, bools where numbers belong, floats where integers belong, integers outside their field's range,
timestamps before 2020 or after 2100, text where a list belongs. Cross-field rules (a candle's low above its high,
filled above initial) are attrs validators on the record. `decode.structure` turns any failure into a typed
`MalformedReply` naming the endpoint and the field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NewType, get_args

import attrs
import cattrs
from cattrs.cols import is_sequence, list_structure_factory

__all__ = [
    "Account",
    "AccountReply",
    "BookOrder",
    "BookOrdersReply",
    "FundingEntry",
    "FundingRateEntry",
    "FundingRatesReply",
    "FundingsReply",
    "Listing",
    "ListingsReply",
    "MarkCandle",
    "MarkCandlesReply",
    "MarketDetail",
    "MarketDetailsReply",
    "NonceReply",
    "Order",
    "OrdersReply",
    "Position",
    "PositionFunding",
    "PositionFundingReply",
    "SendTxReply",
    "WsBook",
    "WsLevel",
    "converter",
]

Num = NewType("Num", Decimal)  # any finite number within MAX_MAGNITUDE
Pos = NewType("Pos", Decimal)  # a finite number > 0 (prices, minimums)
NonNeg = NewType("NonNeg", Decimal)  # a finite number >= 0 (sizes, balances)
Index = NewType("Index", int)  # an integer in [0, 2^63)
Nonce = NewType("Nonce", int)  # a transaction nonce in [0, 2^48)
Decimals = NewType("Decimals", int)  # a count of decimals in [0, 18]
Fraction = NewType("Fraction", int)  # a margin fraction in [1, 10000]
Seconds = NewType("Seconds", datetime)  # unix seconds
Millis = NewType("Millis", datetime)  # unix milliseconds
Stamp = NewType("Stamp", datetime)  # seconds or milliseconds (endpoints differ): see `_stamp`
OptStamp = NewType("OptStamp", datetime)  # as Stamp, where 0 or null mean "none" (fields typed `OptStamp | None`)
Text = NewType("Text", str)

MAX_MAGNITUDE = Decimal("1e15")  # above any price, size or balance a real reply carries
MIN_MAGNITUDE = Decimal("1e-18")  # below any tick, step or rate (a non-zero 1e-400 is not a real number)
MAX_TEXT = 256
EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)  # Lighter did not exist before: an earlier time is a bad field
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_EARLIEST_S, _LATEST_S = int(EARLIEST.timestamp()), int(LATEST.timestamp())
_MS = 1000


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _number(value: object, _: object = None) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise TypeError(f"expected a number, found {_kind(value)} {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))  # the shortest text that reads back as this float (NaN/inf refused below)
    elif isinstance(value, str):
        if len(value) > 64:
            raise ValueError(f"expected a number, found text of {len(value)} characters")
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"expected a number, found {value!r}") from None
    else:
        raise TypeError(f"expected a number, found {_kind(value)}")
    if not result.is_finite():
        raise ValueError(f"expected a finite number, found {value!r}")
    if result and not MIN_MAGNITUDE <= abs(result) < MAX_MAGNITUDE:
        raise ValueError(f"expected a number of magnitude [1e-18, 1e15), found {value!r}")
    return result


def _positive(value: object, _: object = None) -> Decimal:
    result = _number(value)
    if result <= 0:
        raise ValueError(f"expected a positive number, found {value!r}")
    return result


def _non_negative(value: object, _: object = None) -> Decimal:
    result = _number(value)
    if result < 0:
        raise ValueError(f"expected a number >= 0, found {value!r}")
    return result


def _int_in(low: int, high: int) -> Callable[[object, object], int]:
    def hook(value: object, _: object = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, found {_kind(value)} {value!r}")
        if not low <= value <= high:
            raise ValueError(f"expected an integer in [{low}, {high}], found {value}")
        return value

    return hook


def _time(seconds: int) -> datetime:
    if not _EARLIEST_S <= seconds < _LATEST_S:
        raise ValueError(f"expected a time between 2020 and 2100, found {seconds} s")
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(value: object, _: object = None) -> datetime:
    return _time(_int_in(0, 2**62)(value))


def _millis(value: object, _: object = None) -> datetime:
    number = _int_in(0, 2**62)(value)
    moment = _time(number // _MS)
    return moment.replace(microsecond=(number % _MS) * 1000)


def _stamp(value: object, _: object = None) -> datetime:
    """Seconds or milliseconds: [?] endpoints differ; 10^11 s is the year 5138 and 10^11 ms is 1973, so a value
    above 10^11 is read as milliseconds and neither reading can pass for the other within 2020–2100."""
    number = _int_in(0, 2**62)(value)
    return _millis(number) if number > 10**11 else _time(number)


def _opt_stamp(value: object, _: object = None) -> datetime | None:
    return None if value is None or (value == 0 and not isinstance(value, bool)) else _stamp(value)


def _text(value: object, _: object = None) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, found {_kind(value)} {value!r}")
    if len(value) > MAX_TEXT:
        raise ValueError(f"expected text of at most {MAX_TEXT} characters, found {len(value)}")
    return value


def _flag(value: object, _: object = None) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, found {_kind(value)} {value!r}")
    return value


def _literal(value: object, type_: Any) -> Any:
    allowed = get_args(type_)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"expected one of {', '.join(map(repr, allowed))}, found {value!r}")
    return value


def _opt(hook: Callable[[object, object], Any]) -> Callable[[object, object], Any]:
    def optional(value: object, type_: object = None) -> Any:
        return None if value is None else hook(value, type_)

    return optional


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
    hooks: dict[Any, Callable[[object, Any], Any]] = {
        Num: _number,
        Pos: _positive,
        NonNeg: _non_negative,
        Index: _int_in(0, 2**63 - 1),
        Nonce: _int_in(0, 2**48 - 1),
        Decimals: _int_in(0, 18),
        Fraction: _int_in(1, 10_000),
        Seconds: _seconds,
        Millis: _millis,
        Stamp: _stamp,
        OptStamp | None: _opt_stamp,
        Text: _text,
        bool: _flag,
        str: _text,
        int: _int_in(-(2**63), 2**63 - 1),
        Num | None: _opt(_number),
        NonNeg | None: _opt(_non_negative),
        Text | None: _opt(_text),
        Index | None: _opt(_int_in(0, 2**63 - 1)),
    }
    for type_, hook in hooks.items():
        conv.register_structure_hook(type_, hook)

    def strict_lists(type_: Any) -> Callable[[object, Any], Any]:
        inner = list_structure_factory(type_, conv)

        def hook(value: object, _: Any) -> Any:
            if not isinstance(value, list):
                raise TypeError(f"expected a list, found {_kind(value)}")
            return inner(value, type_)

        return hook

    conv.register_structure_hook_factory(is_sequence, strict_lists)
    conv.register_structure_hook_func(lambda t: getattr(t, "__origin__", None) is Literal, _literal)
    return conv


converter = _make_converter()


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


# -- market data -------------------------------------------------------------------------------------------------


@attrs.frozen
class Listing:
    """One `orderBooks` entry: status and fees ([?] in percent)."""

    symbol: Text
    market_id: Index
    status: Text
    taker_fee: Num
    maker_fee: Num
    market_type: Text = Text("perp")

    def __attrs_post_init__(self) -> None:
        for name in ("taker_fee", "maker_fee"):
            fee = getattr(self, name)
            _check(-1 < fee < 10, f"{name} {fee} % is outside (-1 %, 10 %)")


@attrs.frozen
class ListingsReply:
    order_books: list[Any]  # structured entry by entry: one bad market is skipped, not the whole listing


@attrs.frozen
class MarketDetail:
    """One `orderBookDetails` entry."""

    symbol: Text
    market_id: Index
    size_decimals: Decimals
    price_decimals: Decimals
    min_initial_margin_fraction: Fraction
    default_initial_margin_fraction: Fraction
    maintenance_margin_fraction: Fraction
    min_base_amount: Pos
    min_quote_amount: NonNeg
    mark_price: Pos
    index_price: Pos

    def __attrs_post_init__(self) -> None:
        _check(
            self.min_initial_margin_fraction <= self.default_initial_margin_fraction,
            "default_initial_margin_fraction is below min_initial_margin_fraction",
        )


@attrs.frozen
class MarketDetailsReply:
    order_book_details: list[Any]  # entry by entry, like `ListingsReply`


@attrs.frozen
class BookOrder:
    """One resting order of `orderBookOrders`."""

    price: Pos
    remaining_base_amount: NonNeg


@attrs.frozen
class BookOrdersReply:
    asks: list[BookOrder]
    bids: list[BookOrder]


@attrs.frozen
class FundingRateEntry:
    """One `funding-rates` entry: [?] a fraction per 8 hours (a bare JSON float)."""

    market_id: Index
    exchange: Text
    rate: Num

    def __attrs_post_init__(self) -> None:
        _check(abs(self.rate) < 1, f"funding rate {self.rate} is not below 100 % an interval")


@attrs.frozen
class FundingRatesReply:
    funding_rates: list[Any]  # entry by entry: another exchange's bad entry must not hide Lighter's


@attrs.frozen
class FundingEntry:
    """One `fundings` settlement: `rate` is a magnitude in percent per hour, `direction` the side that paid."""

    timestamp: Seconds
    rate: NonNeg
    direction: Literal["long", "short"]

    def __attrs_post_init__(self) -> None:
        _check(self.rate < 100, f"funding rate {self.rate} % an hour is not below 100 %")


@attrs.frozen
class FundingsReply:
    fundings: list[FundingEntry]


@attrs.frozen
class MarkCandle:
    """One `markPriceCandles` candle: `t` opens it (ms); prices are bare JSON numbers."""

    t: Millis
    o: Pos
    h: Pos
    l: Pos  # noqa: E741  # the wire name
    c: Pos

    def __attrs_post_init__(self) -> None:
        _check(self.l <= min(self.o, self.c) and max(self.o, self.c) <= self.h, "candle low/high do not bound it")


@attrs.frozen
class MarkCandlesReply:
    c: list[MarkCandle]


# -- account -----------------------------------------------------------------------------------------------------


@attrs.frozen
class Position:
    """One entry of an account's `positions`."""

    market_id: Index
    sign: int
    position: NonNeg
    avg_entry_price: NonNeg
    unrealized_pnl: Num
    initial_margin_fraction: NonNeg  # [?] percent ("5.00" = 5 %, 20x)
    liquidation_price: NonNeg
    allocated_margin: NonNeg = NonNeg(Decimal(0))
    margin_mode: int = 0
    total_funding_paid_out: Num | None = None

    def __attrs_post_init__(self) -> None:
        _check(self.sign in (-1, 0, 1), f"sign must be -1, 0 or 1, found {self.sign}")
        _check(self.margin_mode in (0, 1), f"margin_mode must be 0 or 1, found {self.margin_mode}")
        if self.position:
            _check(self.sign != 0, "a position with a size has sign 0")
            _check(self.avg_entry_price > 0, "a position with a size has no entry price")
            _check(self.initial_margin_fraction <= 100, "initial_margin_fraction is above 100 %")


@attrs.frozen
class Account:
    collateral: Num
    available_balance: NonNeg
    total_asset_value: Num
    positions: list[Position]

    def __attrs_post_init__(self) -> None:
        markets = [p.market_id for p in self.positions]
        _check(len(markets) == len(set(markets)), "two positions name one market")


@attrs.frozen
class AccountReply:
    accounts: list[Account]


@attrs.frozen
class Order:
    """An order of `accountActiveOrders`, `accountInactiveOrders` or the account websocket channel."""

    order_index: Index
    client_order_index: Index
    market_index: Index
    initial_base_amount: Pos
    price: Pos
    remaining_base_amount: NonNeg
    filled_base_amount: NonNeg
    filled_quote_amount: NonNeg
    is_ask: bool
    status: Text
    type: Text = Text("limit")
    time_in_force: Text = Text("")
    reduce_only: bool = False
    side: Text | None = None
    updated_at: OptStamp | None = None
    timestamp: OptStamp | None = None

    def __attrs_post_init__(self) -> None:
        _check(self.filled_base_amount <= self.initial_base_amount, "filled_base_amount is above initial")
        _check(self.remaining_base_amount <= self.initial_base_amount, "remaining_base_amount is above initial")
        if self.side is not None:
            _check(self.side in ("buy", "sell"), f"side must be buy or sell, found {self.side!r}")
            _check((self.side == "sell") == self.is_ask, f"side {self.side!r} contradicts is_ask {self.is_ask}")


@attrs.frozen
class OrdersReply:
    orders: list[Order]
    next_cursor: Text | None = None


@attrs.frozen
class PositionFunding:
    """One `positionFunding` settlement: `rate` [?] in percent per hour (like `fundings`), `change` paid in USDC."""

    timestamp: Stamp
    market_id: Index
    funding_id: Index
    change: Num
    rate: Num
    position_size: NonNeg
    position_side: Literal["long", "short"]


@attrs.frozen
class PositionFundingReply:
    position_fundings: list[PositionFunding]
    next_cursor: Text | None = None


@attrs.frozen
class NonceReply:
    nonce: Nonce


@attrs.frozen
class SendTxReply:
    tx_hash: Text | None = None


# -- websocket ---------------------------------------------------------------------------------------------------


@attrs.frozen
class WsLevel:
    price: Pos
    size: NonNeg


@attrs.frozen
class WsBook:
    """An `order_book` snapshot or delta (a delta carries `begin_nonce`)."""

    asks: list[WsLevel] = attrs.field(factory=list)
    bids: list[WsLevel] = attrs.field(factory=list)
    nonce: Index | None = None
    begin_nonce: Index | None = None
