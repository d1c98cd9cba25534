"""Hypothesis strategies for fundarb's models, shared by the core's tests and every plugin's.

Every number is a `Decimal`, and where a venue has a grid the strategy draws on it: a price is an integer number of
ticks, a quantity an integer number of steps. `off_grid` draws the values a venue must refuse.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import attrs
from hypothesis import strategies as st

from fundarb_core.model import OrderType, Side, TimeInForce
from fundarb_core.venues import (
    BBO,
    Balance,
    FundingRate,
    Instrument,
    OrderState,
    PositionSnapshot,
    Venue,
)

__all__ = [
    "FUNDING_INTERVALS",
    "SYMBOLS",
    "OrderRequest",
    "aware_datetimes",
    "balances",
    "bbos",
    "client_order_ids",
    "funding_intervals",
    "funding_rates",
    "grids",
    "instruments",
    "off_grid",
    "on_grid",
    "order_requests",
    "position_snapshots",
    "prices",
    "quantities",
    "raw_decimals",
    "sides",
    "time_in_forces",
]

SYMBOLS: tuple[str, ...] = ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "AVAX", "LINK", "ARB", "SUI", "HYPE")
FUNDING_INTERVALS: tuple[timedelta, ...] = tuple(timedelta(hours=h) for h in (1, 2, 4, 8))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def grids(min_exponent: int = -8, max_exponent: int = 1) -> st.SearchStrategy[Decimal]:
    """Tick or step sizes: 1, 2 or 5 times a power of ten between the two exponents."""
    return st.builds(
        lambda mantissa, exponent: Decimal(mantissa).scaleb(exponent),
        st.sampled_from((1, 2, 5)),
        st.integers(min_exponent, max_exponent),
    )


def on_grid(grid: Decimal, *, min_value: Decimal, max_value: Decimal) -> st.SearchStrategy[Decimal]:
    """Multiples of `grid` in [min_value, max_value] (bounds rounded inwards onto the grid)."""
    low = (min_value / grid).to_integral_value(ROUND_CEILING)
    high = (max_value / grid).to_integral_value(ROUND_FLOOR)
    if low > high:
        raise ValueError(f"no multiple of {grid} lies in [{min_value}, {max_value}]")
    return st.integers(int(low), int(high)).map(lambda n: grid * n)


def off_grid(grid: Decimal, *, min_value: Decimal, max_value: Decimal) -> st.SearchStrategy[Decimal]:
    """Positive values in [min_value, max_value] that are not multiples of `grid` (a multiple plus a fraction)."""
    fraction = st.integers(1, 9).map(lambda k: grid * k / 10)
    return st.builds(lambda base, frac: base + frac, on_grid(grid, min_value=min_value, max_value=max_value), fraction)


def raw_decimals(
    min_value: Decimal = Decimal("0.00000001"), max_value: Decimal = Decimal(10_000_000), places: int = 10
) -> st.SearchStrategy[Decimal]:
    """Arbitrary finite decimals with up to `places` decimal places: the unrounded values callers compute."""
    return st.decimals(min_value=min_value, max_value=max_value, places=places, allow_nan=False, allow_infinity=False)


def sides() -> st.SearchStrategy[Side]:
    return st.sampled_from(Side)


def time_in_forces() -> st.SearchStrategy[TimeInForce]:
    return st.sampled_from(TimeInForce)


def client_order_ids(max_size: int = 32) -> st.SearchStrategy[str]:
    """Client order ids as venues accept them: letters, digits, '-' and '_'."""
    return st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=max_size)


def funding_intervals() -> st.SearchStrategy[timedelta]:
    return st.sampled_from(FUNDING_INTERVALS)


def aware_datetimes(
    min_value: datetime = datetime(2020, 1, 1, tzinfo=UTC), max_value: datetime = datetime(2035, 12, 31, tzinfo=UTC)
) -> st.SearchStrategy[datetime]:
    """Timezone-aware UTC datetimes between two aware bounds (hypothesis takes naive bounds plus a timezone)."""
    low, high = (bound.astimezone(UTC).replace(tzinfo=None) for bound in (min_value, max_value))
    return st.datetimes(min_value=low, max_value=high, timezones=st.just(UTC))


@st.composite
def instruments(
    draw: st.DrawFn,
    symbols: Sequence[str] = SYMBOLS,
    *,
    venue_suffix: str = "USDT",
) -> Instrument:
    """An instrument with coherent grids: min quantity a whole number of steps, minimum notional of a few USD."""
    symbol = draw(st.sampled_from(symbols))
    tick = draw(grids(-6, 0))
    step = draw(grids(-5, 1))
    return Instrument(
        symbol=symbol,
        venue_symbol=f"{symbol}{venue_suffix}",
        tick_size=tick,
        step_size=step,
        min_qty=step * draw(st.integers(1, 10)),
        min_notional=Decimal(draw(st.sampled_from((0, 1, 5, 10)))),
        max_leverage=Decimal(draw(st.sampled_from((5, 10, 20, 25, 50, 100)))),
        funding_interval=draw(funding_intervals()),
    )


def prices(instrument: Instrument, *, low: Decimal, high: Decimal) -> st.SearchStrategy[Decimal]:
    """Prices on the instrument's tick grid between `low` and `high`."""
    return on_grid(instrument.tick_size, min_value=max(low, instrument.tick_size), max_value=high)


def quantities(
    instrument: Instrument, *, price: Decimal | None = None, max_notional: Decimal = Decimal(100_000)
) -> st.SearchStrategy[Decimal]:
    """Quantities on the step grid that satisfy the minimums (at `price`, when given) up to `max_notional`."""
    low = instrument.min_qty_at(price) if price is not None else max(instrument.min_qty, instrument.step_size)
    high = max_notional / price if price is not None else low * 1000
    return on_grid(instrument.step_size, min_value=low, max_value=max(low, high))


@attrs.frozen
class OrderRequest:
    """An order someone might send: what the execution layer asks a venue for, as data."""

    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    client_order_id: str
    price: Decimal | None = None  # the limit price (LIMIT) or the worst acceptable price (MARKET)
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False

    async def send(self, venue: Venue) -> OrderState:
        """Send this request to `venue` with the matching protocol method."""
        if self.price is None:
            raise ValueError("an order request needs a price (limit price, or worst price for a market order)")
        if self.type is OrderType.MARKET:
            return await venue.place_market_order(
                self.symbol,
                self.side,
                self.quantity,
                worst_price=self.price,
                client_order_id=self.client_order_id,
                reduce_only=self.reduce_only,
            )
        return await venue.place_limit_order(
            self.symbol,
            self.side,
            self.quantity,
            self.price,
            client_order_id=self.client_order_id,
            time_in_force=self.time_in_force,
            reduce_only=self.reduce_only,
        )


@st.composite
def order_requests(
    draw: st.DrawFn,
    instrument: Instrument,
    mid: Decimal,
    *,
    client_order_id: st.SearchStrategy[str] | None = None,
    max_notional: Decimal = Decimal(2_000),
    band: Decimal = Decimal("0.01"),
    reduce_only: st.SearchStrategy[bool] | None = None,
) -> OrderRequest:
    """A valid order for `instrument` near `mid`: on its grids, above its minimums, priced within ±`band` of mid.

    Market orders carry a worst price `band` beyond mid; limit orders may rest, cross, or be post-only.
    """
    side = draw(sides())
    otype = draw(st.sampled_from(OrderType))
    if otype is OrderType.MARKET:
        price = instrument.round_price(mid * (1 + side.sign * band))
        tif = TimeInForce.IOC
    else:
        price = draw(prices(instrument, low=mid * (1 - band), high=mid * (1 + band)))
        tif = draw(time_in_forces())
    quantity = draw(quantities(instrument, price=price, max_notional=max(max_notional, price * instrument.step_size)))
    return OrderRequest(
        symbol=instrument.symbol,
        side=side,
        type=otype,
        quantity=quantity,
        client_order_id=draw(client_order_id if client_order_id is not None else client_order_ids()),
        price=price,
        time_in_force=tif,
        reduce_only=draw(reduce_only if reduce_only is not None else st.booleans()),
    )


@st.composite
def funding_rates(
    draw: st.DrawFn,
    symbols: Sequence[str] = SYMBOLS,
    *,
    now: datetime | None = None,
    max_hourly: Decimal = Decimal("0.003"),
) -> FundingRate:
    """A funding rate per its interval (|hourly| ≤ `max_hourly`), its next funding time on the interval's UTC grid."""
    interval = draw(funding_intervals())
    hours = int(interval.total_seconds()) // 3600
    hourly = draw(st.decimals(-max_hourly, max_hourly, places=8, allow_nan=False, allow_infinity=False))
    at = now if now is not None else draw(aware_datetimes())
    seconds = int(interval.total_seconds())
    elapsed = int((at - _EPOCH).total_seconds())
    mark = draw(st.decimals(Decimal("0.0001"), Decimal(100_000), places=4, allow_nan=False, allow_infinity=False))
    return FundingRate(
        symbol=draw(st.sampled_from(symbols)),
        rate=hourly * hours,
        interval=interval,
        next_funding_time=_EPOCH + timedelta(seconds=(elapsed // seconds + 1) * seconds),
        mark_price=mark,
        index_price=mark,
    )


@st.composite
def bbos(draw: st.DrawFn, instrument: Instrument, mid: Decimal, *, at: datetime | None = None) -> BBO:
    """A best bid and offer around `mid`, bid below ask, both on the tick grid."""
    spread = draw(st.integers(1, 20)) * instrument.tick_size
    bid = max(instrument.tick_size, instrument.round_price(mid - spread / 2))
    qty = st.integers(1, 10_000).map(lambda n: n * instrument.step_size)
    return BBO(instrument.symbol, bid, bid + spread, draw(qty), draw(qty), at or draw(aware_datetimes()))


@st.composite
def position_snapshots(
    draw: st.DrawFn,
    instrument: Instrument,
    mark: Decimal,
    *,
    at: datetime | None = None,
    allow_flat: bool = True,
) -> PositionSnapshot:
    """A position on `instrument` at `mark`: signed quantity (+ long, − short, 0 flat) with consistent PnL.

    The liquidation price lies on the losing side of the entry (below for a long, above for a short).
    """
    steps = draw(st.integers(-10_000, 10_000).filter(lambda n: allow_flat or n != 0))
    quantity = instrument.step_size * steps
    when = at or draw(aware_datetimes())
    if quantity == 0:
        return PositionSnapshot(instrument.symbol, quantity, None, mark, Decimal(0), Decimal(0), Decimal(0),
                                Decimal(1), None, when)  # fmt: skip
    entry = draw(prices(instrument, low=mark * Decimal("0.9"), high=mark * Decimal("1.1")))
    leverage = Decimal(draw(st.integers(1, int(instrument.max_leverage))))
    margin = abs(quantity) * entry / leverage
    distance = entry / leverage * Decimal("0.9")
    liquidation = entry - distance if quantity > 0 else entry + distance
    return PositionSnapshot(
        symbol=instrument.symbol,
        quantity=quantity,
        entry_price=entry,
        mark_price=mark,
        unrealized_pnl=quantity * (mark - entry),
        funding_accrued=draw(st.decimals(-100, 100, places=8, allow_nan=False, allow_infinity=False)),
        margin=margin,
        leverage=leverage,
        liquidation_price=liquidation if liquidation > 0 else None,
        at=when,
    )


@st.composite
def balances(draw: st.DrawFn, *, asset: str = "USD", at: datetime | None = None) -> Balance:
    """An account balance: margin used within the wallet, available = wallet − margin used."""
    money = st.decimals(0, 1_000_000, places=8, allow_nan=False, allow_infinity=False)
    wallet = draw(money)
    used = draw(st.decimals(0, wallet, places=8, allow_nan=False, allow_infinity=False))
    upnl = draw(st.decimals(-wallet, wallet, places=8, allow_nan=False, allow_infinity=False))
    return Balance(asset, wallet, wallet - used, used, upnl, at or draw(aware_datetimes()))
