"""The seed note's §5 cases and the close paths: normal, emergency, partial, failed, liquidated mid-close."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fundarb_close_market_only import MarketOnlyConfig, MarketOnlyPolicy

from fundarb_core.events import EventKind
from fundarb_core.execution import CloseLegSpec
from fundarb_core.execution.specs import SEEN_POSITION_TRUSTED
from fundarb_core.model import ExecutionMode, PositionStatus, Side
from fundarb_core.venues import Venue
from fundarb_core.venues.sim import FaultConfig, MaintenanceWindow, SimVenueConfig
from tests.integration.execution.harness import CheckedSimVenue, Market

QTY = Decimal("0.05")


def _open(market: Market, symbol: str = "BTC", qty: Decimal = QTY, intent: str = "p1") -> None:
    async def go() -> None:
        result = await market.atomic.open(market.pair_specs(symbol, qty, intent))
        assert result.ok, result.error

    market.run(go())


def test_normal_close_both_legs_maker_first(market: Market) -> None:
    _open(market)
    assert market.position("aster", "BTC") == QTY
    assert market.position("lighter", "BTC") == -QTY
    sent_before = {name: len(v.sent) for name, v in market.venues.items()}

    result = market.run(market.closer.close("p1", market.legs("BTC"), "profit_erosion"))

    assert result.status is PositionStatus.CLOSED
    assert not result.emergency
    assert market.position("aster", "BTC") == 0
    assert market.position("lighter", "BTC") == 0
    close_orders = [s for name, v in market.venues.items() for s in v.sent[sent_before[name] :]]
    assert close_orders
    assert all(s.reduce_only for s in close_orders)
    assert {s.side for s in close_orders if s.venue == "aster"} == {Side.SELL}
    assert {s.side for s in close_orders if s.venue == "lighter"} == {Side.BUY}
    assert result.telemetry.leg_skew is not None
    assert result.telemetry.leg_skew < 1.0
    # The executor reports; the positions layer records the close, once (no second `position_closed` from here).
    assert not any(e.kind == EventKind.POSITION_CLOSED for e in market.events)
    assert {e.kind for e in market.events} == {EventKind.ORDER}
    market.check_sent()


def test_emergency_close_when_one_snapshot_is_zero(market: Market) -> None:
    _open(market)

    async def vanish_then_close():  # type: ignore[no-untyped-def]
        # The short leg disappears (closed by hand on the venue): only the long survives.
        lighter = market.venues["lighter"]
        bbo = await lighter.fetch_bbo_prices("BTC")
        await lighter.place_market_order(
            "BTC", Side.BUY, QTY, worst_price=bbo.ask * 2, client_order_id="by-hand", reduce_only=True
        )
        sent_before = len(market.venues["lighter"].sent)
        result = await market.closer.close("p1", market.legs("BTC"), "leg_liquidated")
        return result, sent_before

    result, lighter_sent = market.run(vanish_then_close())
    assert result.status is PositionStatus.CLOSED
    assert result.emergency
    assert market.position("aster", "BTC") == 0
    aster_close = [s for s in market.venues["aster"].sent if s.reduce_only]
    assert [s.kind for s in aster_close] == ["market"]  # flattened at once, not maker-first
    assert len(market.venues["lighter"].sent) == lighter_sent  # the vanished leg is never reopened
    assert result.telemetry.time_to_done < 2.0
    market.check_sent()


def test_nothing_calls_a_venue_level_close_position(market: Market) -> None:
    assert "close_position" not in dir(Venue)
    _open(market)
    market.run(market.closer.close("p1", market.legs("BTC"), "manual"))
    assert not any(v.close_position_called for v in market.venues.values())


def test_severe_imbalance_is_an_emergency() -> None:
    market = Market(policy=MarketOnlyPolicy(MarketOnlyConfig()))
    _open(market)

    async def shrink_then_close():  # type: ignore[no-untyped-def]
        lighter = market.venues["lighter"]
        bbo = await lighter.fetch_bbo_prices("BTC")
        await lighter.place_market_order(
            "BTC", Side.BUY, Decimal("0.02"), worst_price=bbo.ask * 2, client_order_id="shrink", reduce_only=True
        )
        return await market.closer.close("p1", market.legs("BTC"), "severe_imbalance")

    result = market.run(shrink_then_close())
    assert result.emergency
    assert result.closed
    assert market.position("aster", "BTC") == 0
    assert market.position("lighter", "BTC") == 0


class _LiquidatedOnFirstCancel(CheckedSimVenue):
    """Liquidates its BTC position the first time the executor cancels a resting close order."""

    liquidated = False

    async def cancel_order(self, symbol, client_order_id):  # type: ignore[no-untyped-def,override]
        if not self.liquidated and self.ledger.position(symbol).qty:
            self.liquidated = True
            self._liquidate(symbol, self.mark(symbol), self.clock.now())
        return await super().cancel_order(symbol, client_order_id)


def test_leg_liquidated_mid_close_survivor_is_flattened() -> None:
    market = Market(venue_cls={"lighter": _LiquidatedOnFirstCancel})
    _open(market)
    # A tiny timeout forces a cancel (re-price or timeout) during the maker phase.
    market.closer.policy.config = market.closer.policy.config.__class__(timeout=timedelta(seconds=1))
    result = market.run(market.closer.close("p1", market.legs("BTC"), "divergence_flipped"))
    assert market.venues["lighter"].liquidated
    assert result.status is PositionStatus.CLOSED
    assert market.position("aster", "BTC") == 0
    assert market.position("lighter", "BTC") == 0
    market.check_sent()


def test_unreachable_leg_sends_nothing_and_retry_closes() -> None:
    market = Market()
    _open(market)
    start = market.clock.now()
    aster = market.venues["aster"]
    aster.config = attrs_evolve_faults(
        aster.config, FaultConfig(maintenance=[MaintenanceWindow(start=start, duration=timedelta(minutes=10))])
    )
    sent_before = len(market.sent())

    failed = market.run(market.closer.close("p1", market.legs("BTC"), "time_limit"))
    assert failed.status is PositionStatus.CLOSE_FAILED
    assert len(market.sent()) == sent_before  # closing only the reachable leg would leave us naked
    assert market.position("lighter", "BTC") == -QTY
    assert "unreachable" in failed.why  # the positions layer records it as one `close_failed`

    async def later():  # type: ignore[no-untyped-def]
        await market.clock.sleep_until(start + timedelta(minutes=11))
        return await market.closer.close("p1", market.legs("BTC"), "time_limit", attempt=2)

    assert market.run(later()).status is PositionStatus.CLOSED
    assert market.position("aster", "BTC") == 0
    assert market.position("lighter", "BTC") == 0


def test_close_failed_records_exposure_alerts_and_next_attempt_resumes() -> None:
    market = Market()
    _open(market)
    aster = market.venues["aster"]
    healthy = aster.config
    aster.config = attrs_evolve_faults(healthy, FaultConfig(reject_probability=Decimal(1)))  # every order refused

    failed = market.run(market.closer.close("p1", market.legs("BTC"), "profit_erosion"))
    assert failed.status is PositionStatus.CLOSE_FAILED
    assert failed.emergency  # the leg left open was retried as an emergency
    assert dict(failed.open_exposure) == {market.legs("BTC")[0]: QTY}
    assert failed.why == "legs still open"
    assert market.position("lighter", "BTC") == 0
    lighter_sent = len(market.venues["lighter"].sent)

    aster.config = healthy
    resumed = market.run(market.closer.close("p1", market.legs("BTC"), "profit_erosion", attempt=2))
    assert resumed.status is PositionStatus.CLOSED
    assert market.position("aster", "BTC") == 0
    assert len(market.venues["lighter"].sent) == lighter_sent  # the closed leg is never reopened
    market.check_sent()


def attrs_evolve_faults(config: SimVenueConfig, faults: FaultConfig) -> SimVenueConfig:
    import attrs

    return attrs.evolve(config, faults=faults)


def _queries(market: Market) -> dict[str, int]:
    return {name: v.calls.get("query", 0) for name, v in market.venues.items()}


def test_market_close_sizes_its_orders_from_the_close_snapshot() -> None:
    """A market close asks each venue for the position once before (the close's snapshot, which also sizes the
    reduce-only order), the quote once, and the position once after: not a second time before the order."""
    market = Market(policy=MarketOnlyPolicy(MarketOnlyConfig()))
    _open(market)
    before = _queries(market)
    result = market.run(market.closer.close("p1", market.legs("BTC"), "manual"))
    assert result.closed
    assert {name: n - before[name] for name, n in _queries(market).items()} == {"aster": 3, "lighter": 3}
    market.check_sent()


class _ShrinksAfterFirstLook(CheckedSimVenue):
    """After the first position read of a close, the venue takes part of the position away (an auto-deleverage):
    the close's snapshot is already out of date when its order goes out."""

    armed = False

    async def get_position_snapshot(self, symbol):  # type: ignore[no-untyped-def,override]
        snap = await super().get_position_snapshot(symbol)
        if self.armed:
            self.armed = False
            self.ledger.trade(symbol, Decimal("0.02"), self.mark(symbol), Decimal(0), self.default_leverage(symbol))
        return snap


def test_a_leg_that_shrank_after_the_close_saw_it_is_still_closed() -> None:
    market = Market(policy=MarketOnlyPolicy(MarketOnlyConfig()), venue_cls={"lighter": _ShrinksAfterFirstLook})
    _open(market)
    lighter = market.venues["lighter"]
    assert isinstance(lighter, _ShrinksAfterFirstLook)
    lighter.armed = True
    result = market.run(market.closer.close("p1", market.legs("BTC"), "manual"))
    assert result.status is PositionStatus.CLOSED
    assert not result.emergency  # what was left went out at once, in the same round, not in an emergency round
    assert market.position("aster", "BTC") == 0
    assert market.position("lighter", "BTC") == 0
    assert [s.quantity for s in lighter.sent if s.reduce_only] == [QTY, QTY - Decimal("0.02")]
    market.check_sent()


def test_a_seen_position_is_trusted_only_while_fresh() -> None:
    market = Market(policy=MarketOnlyPolicy(MarketOnlyConfig()))
    _open(market)
    aster = market.venues["aster"]

    async def close_with(seen_age: float) -> int:
        before = aster.calls.get("query", 0)
        spec = CloseLegSpec(
            venue="aster", symbol="BTC", side=Side.SELL, quantity=Decimal("0.01"), intent_id=f"age{seen_age}",
            mode=ExecutionMode.MARKET_ONLY, seen_quantity=QTY, seen_at=market.clock.monotonic() - seen_age,
        )  # fmt: skip
        result = await market.orders.execute(spec)
        assert result.filled_qty == Decimal("0.01")
        return aster.calls.get("query", 0) - before

    assert market.run(close_with(0.0)) == 1  # the quote only
    assert market.run(close_with(SEEN_POSITION_TRUSTED + 0.5)) == 2  # the position is asked for again
    assert market.position("aster", "BTC") == QTY - Decimal("0.02")
