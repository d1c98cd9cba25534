"""Fuzz: mutated fake-server replies through every public venue method — 0 untyped exceptions, 0 absurd values.

Each example draws a `Plan` (see `mutations`): which REST reply of the call to change and how (JSON tree edits:
type swaps, null, NaN/Infinity literals, huge numbers, deletions, deep nesting; whole-body replacements: HTML,
empty, truncated; status codes; a dropped connection). The call must either return values that pass the sanity
checks below or raise a `VenueError`. CI runs a few examples per method (this file stays well under 30 s); run
`HYPOTHESIS_PROFILE=fuzz` for 1,000 per method, and set `FUNDARB_FUZZ_REPORT=path.json` to write the outcome counts.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from fundarb_venue_lighter.testing import FakeLighter
from fundarb_venue_lighter.venue import LighterVenue
from hypothesis import HealthCheck, given, settings

from fundarb_core.clock import WallClock
from fundarb_core.errors import VenueError
from fundarb_core.model import Side, TimeInForce
from fundarb_core.venues import (
    BBO,
    Balance,
    FundingPayment,
    FundingRate,
    Instrument,
    OrderBook,
    OrderState,
    PositionSnapshot,
    PriceCandle,
    VenueContext,
)

from .conftest import ACCOUNT, KEY, api_key, make_config
from .mutations import Mutator, Plan, plans

FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
EXAMPLES = {} if FUZZ else {"max_examples": 8}  # per method in CI; the `fuzz` profile sets its own
EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)
HISTORY = datetime(2025, 3, 1, tzinfo=UTC)
COUNTS: Counter[tuple[str, str]] = Counter()
_ids = itertools.count()


class Absurd(AssertionError):
    """A value no real venue state could produce was returned."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Absurd(what)


def finite(*values: Decimal | None) -> bool:
    return all(v is None or (isinstance(v, Decimal) and v.is_finite() and abs(v) < Decimal("1e15")) for v in values)


def sane(value: Any, venue: LighterVenue) -> None:
    """Raise `Absurd` if `value` (anything a venue method returns) is not plausible."""
    if isinstance(value, dict):
        for item in value.values():
            sane(item, venue)
    elif isinstance(value, list | tuple):
        for item in value:
            sane(item, venue)
        at = [getattr(item, "at", None) for item in value]
        if all(a is not None for a in at) and at:
            check(at == sorted(at), "history out of order")
            ids = [getattr(i, "payment_id", None) or (getattr(i, "symbol", ""), i.at) for i in value]
            check(len(ids) == len(set(ids)), "duplicate rows or ids")
    elif isinstance(value, Instrument):
        check(value.tick_size > 0 and value.step_size > 0 and value.min_qty > 0, "grid")
        check(finite(value.max_leverage) and 1 <= value.max_leverage <= 10_000, "max leverage")
        check(finite(value.maker_fee, value.taker_fee) and abs(value.taker_fee or 0) < Decimal("0.1"), "fee")
    elif isinstance(value, FundingRate):
        check(finite(value.rate, value.mark_price, value.index_price) and abs(value.rate) < 1, "rate")
        check(value.mark_price > 0 and (value.index_price or 1) > 0, "mark")
    elif isinstance(value, OrderBook):
        bids, asks = [b.price for b in value.bids], [a.price for a in value.asks]
        check(bids == sorted(bids, reverse=True) and asks == sorted(asks), "book order")
        check(not bids or not asks or bids[0] < asks[0], "crossed book")
        check(all(finite(lv.price, lv.quantity) and lv.price > 0 and lv.quantity > 0 for lv in value.bids), "bid")
        check(all(finite(lv.price, lv.quantity) and lv.price > 0 and lv.quantity > 0 for lv in value.asks), "ask")
    elif isinstance(value, BBO):
        check(finite(value.bid, value.ask) and 0 < value.bid < value.ask, "bbo")
    elif isinstance(value, PositionSnapshot):
        check(finite(value.quantity, value.entry_price, value.mark_price, value.margin, value.leverage), "snapshot")
        check(value.mark_price > 0, "mark")
        if value.quantity:
            limit = venue._instruments[value.symbol].max_leverage
            check(1 <= value.leverage <= limit, "leverage outside the market's limits")
            check(value.entry_price is not None and value.entry_price > 0, "entry")
    elif isinstance(value, Balance):
        check(finite(value.wallet, value.available, value.margin_used, value.unrealized_pnl), "balance")
        check(value.asset == "USDC" and value.available <= max(value.equity, value.wallet), "available")
    elif isinstance(value, FundingPayment):
        check(finite(value.amount, value.rate, value.position_qty, value.mark_price), "payment")
        check(value.at >= EARLIEST and abs(value.rate) < 1, "payment time or rate")
    elif isinstance(value, OrderState):
        check(finite(value.quantity, value.price, value.filled_qty, value.avg_price, value.fees), "order")
        check(0 <= value.filled_qty <= value.quantity and (value.price or 1) > 0, "filled")
        check(value.updated_at is None or value.updated_at >= EARLIEST, "order time")
    elif isinstance(value, PriceCandle):
        check(finite(value.open, value.high, value.low, value.close) and value.low > 0, "candle")
        check(value.low <= min(value.open, value.close) <= max(value.open, value.close) <= value.high, "ohlc")
        check(value.at >= HISTORY, "candle time")
    elif isinstance(value, Decimal):
        check(finite(value), "number")
    elif value is not None:
        check(hasattr(value, "at") or isinstance(value, str), f"unchecked result {type(value).__name__}")


def _order(venue: LighterVenue, side: Side = Side.BUY) -> Awaitable[OrderState]:
    cid = f"fz{next(_ids)}"
    return venue.place_limit_order(
        "BTC", side, Decimal("0.001"), Decimal("59000.0"), client_order_id=cid, time_in_force=TimeInForce.IOC
    )


async def _resting(venue: LighterVenue) -> str:
    cid = f"fz{next(_ids)}"
    await venue.place_limit_order("BTC", Side.BUY, Decimal("0.001"), Decimal("59000.0"), client_order_id=cid)
    return cid


# Each method: (set-up without mutation, the call under mutation).
Setup = Callable[[LighterVenue], Awaitable[Any]]
Call = Callable[[LighterVenue, Any], Awaitable[Any]]


async def _none(venue: LighterVenue) -> None:
    return None


async def _known_order(venue: LighterVenue) -> str:
    state = await _order(venue)
    venue._orders.pop(state.client_order_id)  # looked up by REST, not from the cache
    return state.client_order_id


METHODS: dict[str, tuple[Setup, Call]] = {
    "load_instruments": (_none, lambda v, _: v.load_instruments()),
    "fetch_funding_rates": (_none, lambda v, _: v.fetch_funding_rates()),
    "fetch_order_book": (_none, lambda v, _: v.fetch_order_book("BTC")),
    "fetch_bbo_prices": (_none, lambda v, _: v.fetch_bbo_prices("ETH")),
    "get_position_snapshot": (_none, lambda v, _: v.get_position_snapshot("BTC")),
    "get_position_snapshots": (_none, lambda v, _: v.get_position_snapshots(["BTC", "ETH"])),
    "fetch_balance": (_none, lambda v, _: v.fetch_balance()),
    "fetch_funding_payments": (_none, lambda v, _: v.fetch_funding_payments(None, HISTORY)),
    "place_limit_order": (_none, lambda v, _: _order(v)),
    "place_market_order": (
        _none,
        lambda v, _: v.place_market_order(
            "ETH", Side.BUY, Decimal("0.01"), worst_price=Decimal(3100), client_order_id=f"fz{next(_ids)}"
        ),
    ),
    "get_order": (_known_order, lambda v, cid: v.get_order("BTC", cid)),
    "cancel_order": (_resting, lambda v, cid: v.cancel_order("BTC", cid)),
    "set_leverage": (_none, lambda v, _: v.set_leverage("BTC", Decimal(7))),
    "fetch_funding_history": (
        _none,
        lambda v, _: v.fetch_funding_history("BTC", HISTORY, HISTORY + timedelta(hours=800)),
    ),
    "fetch_price_candles": (
        _none,
        lambda v, _: v.fetch_price_candles("ETH", timedelta(hours=1), HISTORY, HISTORY + timedelta(hours=600)),
    ),
}


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    path = os.environ.get("FUNDARB_FUZZ_REPORT")
    if path:
        table: dict[str, dict[str, int]] = {}
        for (method, outcome), count in sorted(COUNTS.items()):
            table.setdefault(method, {})[outcome] = count
        with open(path, "w", encoding="utf-8") as out:
            json.dump(table, out, indent=2, sort_keys=True)


@pytest_asyncio.fixture
async def fuzzed(fake: FakeLighter) -> AsyncIterator[tuple[FakeLighter, LighterVenue, Mutator]]:
    fake.exchange.register_key(ACCOUNT, KEY, api_key()[1])
    fake.faults.history_per_minute = None
    fake.exchange.settle_funding(int(HISTORY.timestamp() * 1000))
    config = make_config(fake, startup_retries=0, ack_timeout=timedelta(seconds=0.2), timeout=timedelta(seconds=5))
    venue = LighterVenue("lighter", config, VenueContext(WallClock()))
    mutator = Mutator()
    fake.mutate = mutator
    yield fake, venue, mutator
    await venue.close()


def _tidy(fake: FakeLighter) -> None:
    """Cancel resting orders and flatten positions directly in the fake, so examples do not pile margin up."""
    for account in fake.exchange.accounts.values():
        for order in account.orders.values():
            if order.status == "open":
                order.status, order.remaining = "canceled", 0
        for position in account.positions.values():
            position.size = Decimal(0)


@pytest.mark.parametrize("method", sorted(METHODS))
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], **EXAMPLES)
@given(plan=plans())
async def test_mutated_replies_give_typed_errors_or_sane_values(
    fuzzed: tuple[FakeLighter, LighterVenue, Mutator], method: str, plan: Plan
) -> None:
    fake, venue, mutator = fuzzed
    setup, call = METHODS[method]
    _tidy(fake)
    venue._loaded_at = None
    await venue.load_instruments()
    prepared = await setup(venue)
    if method == "load_instruments":
        venue._loaded_at = None  # fetched again under mutation, not served from the cache
    mutator.arm(plan)
    try:
        result = await call(venue, prepared)
    except VenueError as error:
        COUNTS[(method, f"typed {type(error).__name__}")] += 1
        return
    except Exception:
        COUNTS[(method, "untyped")] += 1
        raise
    finally:
        mutator.disarm()
    try:
        sane(result, venue)
    except Absurd:
        COUNTS[(method, "absurd")] += 1
        raise
    COUNTS[(method, "ok" if mutator.applied else "ok (reply not reached)")] += 1
