"""Opening legs and one order's life under faults: post-only crossing, partial fills, hedge, rollback, ambiguity."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs

from fundarb_core.errors import RateLimited, VenueUnavailable
from fundarb_core.execution import OrderResult, OrderSpec
from fundarb_core.model import ExecutionMode, OrderStatus, RejectReason, Side
from fundarb_core.venues import BBO
from fundarb_core.venues.sim import FaultConfig, SimVenueConfig
from tests.integration.execution.harness import CheckedSimVenue, Market

QTY = Decimal("0.05")


class _StaleBookVenue(CheckedSimVenue):
    """Reports a best bid/ask shifted up for the first few quotes, so a post-only buy priced from it crosses."""

    stale_quotes = 3

    async def fetch_bbo_prices(self, symbol: str) -> BBO:
        bbo = await super().fetch_bbo_prices(symbol)
        if self.stale_quotes > 0:
            self.stale_quotes -= 1
            shift = bbo.ask - bbo.bid + self.instruments[symbol].tick_size * 10
            return attrs.evolve(bbo, bid=bbo.bid + shift, ask=bbo.ask + shift)
        return bbo


def test_post_only_rejection_is_repriced_until_it_rests() -> None:
    market = Market(venue_cls={"aster": _StaleBookVenue})
    spec = OrderSpec(venue="aster", symbol="BTC", side=Side.BUY, quantity=QTY, intent_id="o1")
    result = market.run(market.orders.execute(spec))
    orders = market.venues["aster"].orders_by_cid()
    rejected = [o for o in orders.values() if o.reject_reason is RejectReason.POST_ONLY_WOULD_CROSS]
    assert len(rejected) >= 1
    assert result.filled_qty == QTY
    assert len(set(result.client_order_ids)) == len(result.client_order_ids)  # every re-price a fresh id
    market.check_sent()


class _HalfFillVenue(CheckedSimVenue):
    """Resting orders get half of what remains once, then nothing: a partial fill that must fall back."""

    def _flow(self, step: int) -> None:
        for cid in list(self.resting):
            order = self.orders[cid]
            if order.filled_qty == 0:
                half = self.instruments[order.symbol].round_qty(order.remaining / 2)
                assert order.price is not None
                self._fill(order, half, order.price, maker=True, at=self.world.time_of(step))


def test_partial_fill_then_market_fallback_for_the_rest() -> None:
    market = Market(venue_cls={"aster": _HalfFillVenue})
    spec = OrderSpec(
        venue="aster", symbol="BTC", side=Side.BUY, quantity=QTY, intent_id="o2", timeout=timedelta(seconds=20)
    )
    result = market.run(market.orders.execute(spec))
    assert result.filled_qty == QTY
    assert 0 < result.maker_qty < QTY
    kinds = [s.kind for s in market.venues["aster"].sent]
    assert kinds[-1] == "market"
    assert market.position("aster", "BTC") == QTY
    market.check_sent()


def test_limit_only_never_falls_back() -> None:
    market = Market(venue_cls={"aster": _HalfFillVenue})
    spec = OrderSpec(
        venue="aster", symbol="BTC", side=Side.BUY, quantity=QTY, intent_id="o3",
        mode=ExecutionMode.LIMIT_ONLY, timeout=timedelta(seconds=20),
    )  # fmt: skip
    result = market.run(market.orders.execute(spec))
    assert 0 < result.filled_qty < QTY
    assert "market" not in [s.kind for s in market.venues["aster"].sent]


class _RejectFirstOrders(CheckedSimVenue):
    """Refuses its first `refuse` orders (as an insufficient-margin rejection would).

    Four: the leg's post-only attempt and its three market fallbacks, so the leg ends unfilled.
    """

    refuse = 4

    def _validate(self, order, instrument, check_price):  # type: ignore[no-untyped-def]
        if self.refuse > 0 and not order.reduce_only:
            self.refuse -= 1
            raise self._reject(order, RejectReason.INSUFFICIENT_MARGIN, "refused (test)")
        super()._validate(order, instrument, check_price)


def test_one_leg_rejected_on_open_is_hedged() -> None:
    market = Market(venue_cls={"lighter": _RejectFirstOrders})
    result = market.run(market.atomic.open(market.pair_specs("BTC", QTY)))
    assert result.ok, result.error
    assert result.hedges, "the missing leg was hedged"
    assert market.position("aster", "BTC") == QTY
    assert market.position("lighter", "BTC") == -QTY
    market.check_sent()


class _RejectAll(_RejectFirstOrders):
    refuse = 10_000


def test_hedge_failure_rolls_back_to_flat() -> None:
    market = Market(venue_cls={"lighter": _RejectAll})
    result = market.run(market.atomic.open(market.pair_specs("BTC", QTY)))
    assert not result.ok
    assert result.flat
    assert result.rollbacks
    assert market.position("aster", "BTC") == 0
    assert market.position("lighter", "BTC") == 0
    market.check_sent()


def test_ambiguous_timeouts_never_produce_a_second_order() -> None:
    always_lost = FaultConfig(ambiguous_probability=Decimal(1))
    market = Market(
        configs={
            "aster": SimVenueConfig(profile="aster-like", seed=3, faults=always_lost),
            "lighter": SimVenueConfig(profile="lighter-like", seed=3, faults=always_lost),
        }
    )
    spec = OrderSpec(venue="aster", symbol="ETH", side=Side.SELL, quantity=Decimal("0.5"), intent_id="amb",
                     mode=ExecutionMode.MARKET_ONLY)  # fmt: skip
    result = market.run(market.orders.execute(spec))
    aster = market.venues["aster"]
    assert result.filled_qty == Decimal("0.5")
    assert len(aster.orders) == 1  # one order at the venue, though every reply was lost
    assert market.position("aster", "ETH") == Decimal("-0.5")


def test_rate_limits_back_off_in_clock_time() -> None:
    market = Market(
        configs={
            "aster": SimVenueConfig(
                profile="aster-like", faults=FaultConfig(rate_limit_probability=Decimal("0.5"), seed=7,
                                                         retry_after=timedelta(seconds=3))
            ),
            "lighter": SimVenueConfig(profile="lighter-like"),
        }
    )  # fmt: skip
    raised: list[RateLimited] = []
    aster = market.venues["aster"]
    original = aster._enter

    async def counting_enter(kind: str) -> None:
        try:
            await original(kind)
        except RateLimited as exc:
            raised.append(exc)
            raise

    aster._enter = counting_enter  # type: ignore[method-assign]
    spec = OrderSpec(venue="aster", symbol="BTC", side=Side.BUY, quantity=QTY, intent_id="rl",
                     mode=ExecutionMode.MARKET_ONLY)  # fmt: skip
    start = market.clock.monotonic()
    result = market.run(market.orders.execute(spec))
    assert raised, "the fault schedule produced 429s"
    assert result.filled_qty == QTY
    assert market.clock.monotonic() - start >= 3.0 * len(raised)  # waited retry-after each time
    assert len(aster.orders) == 1


def test_client_order_ids_are_deterministic_across_runs() -> None:
    ids = []
    for _ in range(2):
        market = Market()
        result = market.run(market.atomic.open(market.pair_specs("BTC", QTY, intent="same")))
        ids.append([r.client_order_ids for r in result.results])
    assert ids[0] == ids[1]


def test_restart_adopts_an_order_that_already_reached_the_venue() -> None:
    """A re-run of the same intent (after a crash) finds its first order by client id instead of sending twice."""
    market = Market()
    spec = OrderSpec(venue="aster", symbol="BTC", side=Side.BUY, quantity=QTY, intent_id="crash",
                     mode=ExecutionMode.MARKET_ONLY)  # fmt: skip
    first = market.run(market.orders.execute(spec))
    again = market.run(market.orders.execute(spec))
    assert first.client_order_ids[0] == again.client_order_ids[0]
    assert len(market.venues["aster"].orders) == 1
    assert market.venues["aster"].orders[first.client_order_ids[0]].status is OrderStatus.FILLED
    assert market.position("aster", "BTC") == QTY


class _QueriesDownForAWhile(CheckedSimVenue):
    """Once an order rests, order queries fail with 503 `outage` times in a row: longer than the retry budget."""

    outage = 8
    quiet = True  # no flow reaches resting orders while the executor works

    def _flow(self, step: int) -> None:
        if not self.quiet:
            super()._flow(step)

    async def get_order(self, symbol, client_order_id):  # type: ignore[no-untyped-def,override]
        if self.resting and self.outage > 0:
            self.outage -= 1
            raise VenueUnavailable("down (test)", venue=self.name, status=503)
        return await super().get_order(symbol, client_order_id)


def test_an_order_is_never_left_behind_when_the_venue_stops_answering() -> None:
    """Regression: giving up on a resting order used to leave it live, and it filled later, unhedged."""
    market = Market(venue_cls={"aster": _QueriesDownForAWhile})
    spec = OrderSpec(venue="aster", symbol="BTC", side=Side.BUY, quantity=QTY, intent_id="outage",
                     mode=ExecutionMode.LIMIT_ONLY, timeout=timedelta(minutes=5))  # fmt: skip
    result = market.run(market.orders.execute(spec))
    aster = market.venues["aster"]
    assert all(o.status.final for o in aster.orders.values())  # nothing left resting at the venue
    assert result.filled_qty == market.position("aster", "BTC")  # what we report is what we hold

    async def later() -> None:
        await market.clock.sleep(3600)

    aster.quiet = False
    market.run(later())
    assert market.position("aster", "BTC") == result.filled_qty  # and nothing fills behind our back


class _QuoteLog(CheckedSimVenue):
    """Keeps every quote it gives, and what was asked in order (quotes, snapshots, orders)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.quotes: list[BBO] = []
        self.asked: list[str] = []

    async def fetch_bbo_prices(self, symbol: str) -> BBO:
        self.asked.append("bbo")
        self.quotes.append(await super().fetch_bbo_prices(symbol))
        return self.quotes[-1]

    async def get_position_snapshot(self, symbol: str):  # type: ignore[no-untyped-def]
        self.asked.append("snapshot")
        return await super().get_position_snapshot(symbol)

    async def place_market_order(self, symbol, side, quantity, **kw):  # type: ignore[no-untyped-def,override]
        self.asked.append("market order")
        return await super().place_market_order(symbol, side, quantity, **kw)


def test_a_market_order_reads_the_book_once_and_its_quote_is_the_decision_mid() -> None:
    """Market only: no quote read for the decision alone (a round trip a close cannot spare); the quote the first
    order is priced from is the decision's. A reduce-only order still reads the live position first."""
    market = Market(venue_cls={"aster": _QuoteLog})
    venue = market.venues["aster"]
    buy = OrderSpec(venue="aster", symbol="BTC", side=Side.BUY, quantity=QTY, intent_id="m1",
                    mode=ExecutionMode.MARKET_ONLY)  # fmt: skip
    opened = market.run(market.orders.execute(buy))
    assert venue.asked == ["bbo", "market order"]
    assert opened.decision_mid == venue.quotes[0].mid
    venue.asked.clear()
    closed = market.run(market.orders.execute(
        OrderSpec(venue="aster", symbol="BTC", side=Side.SELL, quantity=QTY, intent_id="m2",
                  mode=ExecutionMode.MARKET_ONLY, reduce_only=True)
    ))  # fmt: skip
    assert venue.asked == ["snapshot", "bbo", "market order"]
    assert closed.decision_mid == venue.quotes[-1].mid
    assert closed.filled_qty == QTY


class _MinimumValueOnEveryOrder(CheckedSimVenue):
    """Refuses a market order worth less than the venue's minimum unless it is reduce-only (as Aster does)."""

    async def place_market_order(self, symbol, side, quantity, **kw):  # type: ignore[no-untyped-def]
        reason = self.instruments[symbol].check_order(
            quantity, kw["worst_price"], reduce_only=kw.get("reduce_only", False)
        )
        if reason is not None:
            from fundarb_core.errors import VenueRejected

            raise VenueRejected("below the minimum order value", venue=self.name, reason=reason)
        return await super().place_market_order(symbol, side, quantity, **kw)


def test_legs_far_apart_that_cannot_be_hedged_are_rolled_back_not_trimmed_to_dust() -> None:
    """Found by the second review: trimming is for a small gap; 4 SOL against 10 is not the pair that was sized."""
    market = Market()
    execute = market.orders.execute

    async def partial(spec: OrderSpec, progress: object = None) -> object:
        if ":hedge" in spec.intent_id:  # no hedge goes through (the venue refuses more: no margin left, say)
            return OrderResult(spec=spec, error="insufficient margin (test)")
        if spec.intent_id == "p1:open:aster":  # its maker order filled 4 of 10
            spec = attrs.evolve(spec, quantity=Decimal(4))
        return await execute(spec, progress)  # type: ignore[arg-type]

    market.orders.execute = partial  # type: ignore[method-assign,assignment]
    result = market.run(market.atomic.open(market.pair_specs("SOL", Decimal(10))))
    assert [r.filled_qty for r in result.results] == [Decimal(4), Decimal(10)]
    assert not result.ok
    assert result.flat
    assert market.position("aster", "SOL") == 0
    assert market.position("lighter", "SOL") == 0
    market.check_sent()


def test_a_gap_too_small_to_hedge_is_trimmed_from_the_leg_ahead_not_rolled_back() -> None:
    """Found by review: a partial fill leaving the legs 0.02 SOL (~3 USD) apart, below the venue's minimum order
    value, could not be hedged, and the whole 10 SOL pair was rolled back at taker prices. Now the leg ahead is
    trimmed to the other, reduce-only (no minimum applies), and a slightly smaller hedged pair stays open."""
    market = Market(venue_cls={"aster": _MinimumValueOnEveryOrder})
    execute = market.orders.execute
    short = Decimal("0.02")

    async def partial(spec: OrderSpec, progress: object = None) -> object:
        if spec.intent_id == "p1:open:aster":  # its maker order filled all but 0.02 before the timeout
            spec = attrs.evolve(spec, quantity=spec.quantity - short)
        return await execute(spec, progress)  # type: ignore[arg-type]

    market.orders.execute = partial  # type: ignore[method-assign,assignment]
    qty = Decimal(10)
    result = market.run(market.atomic.open(market.pair_specs("SOL", qty)))
    assert result.ok, result.error
    assert result.quantities == (qty - short, qty - short)
    assert market.position("aster", "SOL") == qty - short
    assert market.position("lighter", "SOL") == -(qty - short)
    (trim,) = result.rollbacks
    assert (trim.spec.venue, trim.spec.reduce_only, trim.filled_qty) == ("lighter", True, short)
    market.check_sent()
