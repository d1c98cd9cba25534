"""The fuzz harness: one fake Aster on its own event loop, one fresh account and venue per call, outcome counting.

`Harness.run(method, mutation)` prepares what the method needs (markets loaded, a resting order) without any
mutation, arms the mutation, calls the public Venue method, and classifies the outcome:
- `value`: a result that passed the sanity rules below (`unmutated`: the call made fewer requests than `nth`);
- `typed:<Error>`: a `FundarbError` (a typed venue error, or `ConfigError` from `check_account`);
- `untyped:<Exception>@<file:line>`: anything else — a bug;
- `absurd:<rule>`: a result breaking a sanity rule, or an order Aster holds reported as failed — a bug.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import traceback
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fundarb_venue_aster.testing import FakeAsterServer
from fundarb_venue_aster.testing.mutate import Mutation
from fundarb_venue_aster.venue import AsterVenue

from fundarb_core.clock import WallClock
from fundarb_core.errors import AmbiguousOutcome, FundarbError
from fundarb_core.model import Side, TimeInForce
from fundarb_core.secrets import Secret
from fundarb_core.venues import (
    BBO,
    Balance,
    FundingHistoryEntry,
    FundingPayment,
    FundingRate,
    Instrument,
    OrderBook,
    OrderState,
    PositionSnapshot,
    PriceCandle,
    VenueContext,
)

from .conftest import v1_config

METHODS = (
    "load_instruments", "fetch_funding_rates", "fetch_funding_rate", "fetch_bbo_prices", "fetch_order_book",
    "place_limit_order", "place_market_order", "cancel_order", "get_order", "get_position_snapshot",
    "get_position_snapshots", "fetch_balance", "fetch_funding_payments", "set_leverage", "fetch_funding_history",
    "fetch_price_candles", "check_account",
)  # fmt: skip
ORDER_METHODS = ("place_limit_order", "place_market_order", "cancel_order")
EARLIEST = datetime(2017, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _finite(*values: Decimal | None) -> bool:
    return all(v is None or v.is_finite() for v in values)


def _plausible(at: datetime) -> bool:
    return EARLIEST <= at <= LATEST


class Harness:
    """A fake Aster on a private event loop; every run uses a new account (V1 key) and a new venue."""

    def __init__(self, report: str | None = None) -> None:
        self.report = report
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(FakeAsterServer(seed=11, history_days=3).start())
        self.server.faults.weight_limit = 10**8  # thousands of calls a minute from one IP: not what is tested here
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self._ids = itertools.count()

    def close(self) -> None:
        self.loop.run_until_complete(self.server.stop())
        self.loop.close()

    def run(self, method: str, mutation: Mutation) -> str:
        outcome = self.loop.run_until_complete(self._run(method, mutation))
        self.counts[method][outcome.split(":")[0]] += 1
        if self.report is not None and sum(sum(c.values()) for c in self.counts.values()) % 500 == 0:
            self.write_report(self.report)  # a long run can be read while it goes
        return outcome

    def totals(self) -> dict[str, Any]:
        """Outcome counts, overall and per method."""
        methods = {method: dict(counter) for method, counter in sorted(self.counts.items())}
        total: Counter[str] = Counter()
        for counter in self.counts.values():
            total.update(counter)
        return {"total": dict(total), "methods": methods}

    def write_report(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(self.totals(), out, indent=1)

    async def _run(self, method: str, mutation: Mutation) -> str:
        n = next(self._ids)
        key, secret = f"fuzz-key-{n:06d}", f"fuzz-secret-{n:06d}"
        self.server.v1_keys[key] = secret
        config = v1_config(self.server, api_key=Secret(key), api_secret=Secret(secret))
        venue = AsterVenue("aster", config, VenueContext(WallClock()))
        context: dict[str, Any] = {"key": key, "cid": f"fz{n}"}
        try:
            await self._prepare(venue, method, context)
            self.server.faults.mutation = mutation
            self.server.faults.mutation_applied = False
            self.server._seen_since_armed = 0
            try:
                result = await asyncio.wait_for(self._call(venue, method, context), 20)
            except FundarbError as exc:
                if not self.server.faults.mutation_applied:
                    return f"untyped:{type(exc).__name__} without any mutation: {exc}"  # the harness is broken
                return self._after_error(method, mutation, exc, context)
            except Exception as exc:
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                return f"untyped:{type(exc).__name__}@{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}: {exc}"[:300]
            problem = self._absurd(method, result, context)
            if problem:
                return f"absurd:{problem}"
            return "value" if self.server.faults.mutation_applied else "unmutated"
        finally:
            self.server.faults.mutation = None
            await venue.close()

    async def _prepare(self, venue: AsterVenue, method: str, context: dict[str, Any]) -> None:
        if method == "load_instruments":
            return
        instruments = await venue.load_instruments()
        context["instrument"] = instruments["BTC"]
        bbo = await venue.fetch_bbo_prices("BTC")
        context["bbo"] = bbo
        if method in ("cancel_order", "get_order"):
            price = context["instrument"].round_price(bbo.bid * Decimal("0.95"))
            await venue.place_limit_order("BTC", Side.BUY, Decimal("0.002"), price, client_order_id=context["cid"])

    async def _call(self, venue: AsterVenue, method: str, context: dict[str, Any]) -> Any:
        now = datetime.now(UTC)
        cid, bbo = context["cid"], context.get("bbo")
        if method == "load_instruments":
            return await venue.load_instruments()
        if method == "fetch_funding_rates":
            return await venue.fetch_funding_rates()
        if method == "fetch_funding_rate":
            return await venue.fetch_funding_rates(["ETH"])
        if method == "fetch_bbo_prices":
            return await venue.fetch_bbo_prices("BTC")
        if method == "fetch_order_book":
            return await venue.fetch_order_book("BTC", 10)
        if method == "place_limit_order":
            price = context["instrument"].round_price(bbo.bid * Decimal("0.97"))
            context["asked"] = (Side.BUY, Decimal("0.002"))
            return await venue.place_limit_order(
                "BTC", Side.BUY, Decimal("0.002"), price, client_order_id=cid, time_in_force=TimeInForce.GTC
            )
        if method == "place_market_order":
            worst = context["instrument"].round_price(bbo.ask * Decimal("1.01"))
            context["asked"] = (Side.BUY, Decimal("0.002"))
            return await venue.place_market_order(
                "BTC", Side.BUY, Decimal("0.002"), worst_price=worst, client_order_id=cid
            )
        if method == "cancel_order":
            context["asked"] = (Side.BUY, Decimal("0.002"))
            return await venue.cancel_order("BTC", cid)
        if method == "get_order":
            context["asked"] = (Side.BUY, Decimal("0.002"))
            return await venue.get_order("BTC", cid)
        if method == "get_position_snapshot":
            return await venue.get_position_snapshot("BTC")
        if method == "get_position_snapshots":
            return await venue.get_position_snapshots(["BTC", "ETH", "PEPE"])
        if method == "fetch_balance":
            return await venue.fetch_balance()
        if method == "fetch_funding_payments":
            return await venue.fetch_funding_payments(None, now - timedelta(days=1))
        if method == "set_leverage":
            return await venue.set_leverage("BTC", Decimal(7))
        if method == "fetch_funding_history":
            return await venue.fetch_funding_history("BTC", now - timedelta(days=2), now)
        if method == "fetch_price_candles":
            return await venue.fetch_price_candles("BTC", timedelta(hours=1), now - timedelta(hours=30), now)
        if method == "check_account":
            return await venue.check_account()
        raise AssertionError(method)

    def _after_error(self, method: str, mutation: Mutation, exc: FundarbError, context: dict[str, Any]) -> str:
        name = f"typed:{type(exc).__name__}"
        if method in ("place_limit_order", "place_market_order") and not isinstance(exc, AmbiguousOutcome):
            held = context["cid"] in self.server.v1_account(context["key"]).by_client_id
            if held and not mutation.definite_refusal:
                return f"absurd:an order Aster accepted was reported as {type(exc).__name__}: {exc}"
        return name

    def _absurd(self, method: str, result: Any, context: dict[str, Any]) -> str | None:
        """The first sanity rule `result` breaks, or None."""
        checks = {
            Instrument: self._instrument,
            FundingRate: self._rate,
            BBO: self._bbo,
            OrderBook: self._book,
            OrderState: lambda s: self._order(s, context),
            PositionSnapshot: self._position,
            Balance: self._balance,
        }
        items: Sequence[Any] = (
            list(result.values()) if isinstance(result, dict) else result if isinstance(result, list) else [result]
        )
        for item in items:
            check = checks.get(type(item))
            problem = check(item) if check is not None else None
            if problem:
                return problem
        if method == "fetch_funding_payments":
            ids = [p.payment_id for p in result]
            if len(set(ids)) != len(ids):
                return "duplicate funding payment ids"
            return next((f"payment {p}" for p in result if not self._payment(p)), None)
        if method == "set_leverage" and not 1 <= result <= context["instrument"].max_leverage:
            return f"leverage {result}"
        if method == "fetch_funding_history":
            return self._series([e.at for e in result]) or next(
                (f"rate {e.rate}" for e in result if not _finite(e.rate) or abs(e.rate) >= 1), None
            )
        if method == "fetch_price_candles":
            return self._series([c.at for c in result]) or next(
                (f"candle {c}" for c in result if not self._candle(c)), None
            )
        return None

    @staticmethod
    def _series(times: list[datetime]) -> str | None:
        if any(b <= a for a, b in itertools.pairwise(times)) or not all(_plausible(t) for t in times):
            return "times not ascending, unique and plausible"
        return None

    @staticmethod
    def _instrument(i: Instrument) -> str | None:
        ok = i.tick_size > 0 and i.step_size > 0 and i.min_qty >= 0 and i.min_notional >= 0
        ok = ok and 1 <= i.max_leverage <= 1000 and timedelta(hours=1) <= i.funding_interval <= timedelta(hours=24)
        ok = ok and all(f is None or (f.is_finite() and abs(f) < Decimal("0.01")) for f in (i.maker_fee, i.taker_fee))
        return None if ok else f"instrument {i}"

    @staticmethod
    def _rate(r: FundingRate) -> str | None:
        ok = _finite(r.rate) and abs(r.rate) < 1 and (r.mark_price or 0) > 0 and _plausible(r.next_funding_time)
        ok = ok and (r.index_price is None or r.index_price > 0)
        return None if ok else f"funding rate {r}"

    @staticmethod
    def _bbo(b: BBO) -> str | None:
        ok = 0 < b.bid < b.ask and b.bid_qty >= 0 and b.ask_qty >= 0 and _plausible(b.at)
        return None if ok else f"bbo {b}"

    @staticmethod
    def _book(book: OrderBook) -> str | None:
        bids, asks = [lv.price for lv in book.bids], [lv.price for lv in book.asks]
        ok = all(lv.price > 0 and lv.quantity > 0 for lv in (*book.bids, *book.asks))
        ok = ok and bids == sorted(bids, reverse=True) and asks == sorted(asks) and len(set(bids)) == len(bids)
        ok = ok and len(set(asks)) == len(asks) and (not bids or not asks or bids[0] < asks[0])
        return None if ok and _plausible(book.at) else f"book {book}"

    @staticmethod
    def _order(s: OrderState, context: dict[str, Any]) -> str | None:
        side, qty = context.get("asked", (s.side, s.quantity))
        ok = s.client_order_id == context["cid"] and s.side == side and s.quantity == qty and s.symbol == "BTC"
        ok = ok and 0 <= s.filled_qty <= s.quantity and _finite(s.fees, s.avg_price, s.price)
        ok = ok and abs(s.fees) <= s.quantity * (s.avg_price or s.price or Decimal(10**6)) / 100
        return None if ok and _plausible(s.updated_at) else f"order {s}"

    @staticmethod
    def _position(p: PositionSnapshot) -> str | None:
        ok = _finite(p.quantity, p.unrealized_pnl, p.margin) and p.mark_price > 0 and 1 <= p.leverage <= 1000
        ok = ok and p.margin >= 0 and (p.entry_price is None or p.entry_price > 0)
        return None if ok and _plausible(p.at) else f"position {p}"

    @staticmethod
    def _balance(b: Balance) -> str | None:
        ok = b.asset == "USDT" and _finite(b.wallet, b.available, b.unrealized_pnl, b.margin_used)
        ok = ok and b.available <= b.wallet + max(b.unrealized_pnl, Decimal(0)) + Decimal("0.01") + abs(b.wallet) / 100
        return None if ok and _plausible(b.at) else f"balance {b}"

    @staticmethod
    def _payment(p: FundingPayment) -> bool:
        return _finite(p.amount, p.rate, p.mark_price, p.position_qty) and abs(p.rate) < 1 and _plausible(p.at)

    @staticmethod
    def _candle(c: PriceCandle) -> bool:
        return 0 < c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high


__all__ = ["METHODS", "ORDER_METHODS", "FundingHistoryEntry", "Harness"]
