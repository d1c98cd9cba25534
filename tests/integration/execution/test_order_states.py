"""Every order an execution sent is final in the journal when it returns, as the venue holds it (issue 19, item 4)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from loguru import logger

from fundarb_core.errors import AmbiguousOutcome, VenueRejected
from fundarb_core.execution import OrderSpec
from fundarb_core.model import ExecutionMode, OrderStatus, OrderType, RejectReason, Side
from fundarb_core.venues import OrderState
from tests.integration.execution.harness import CheckedSimVenue, Market, Sent
from tests.integration.execution.test_open_and_orders import _StaleBookVenue

QTY = Decimal("0.05")


def limit_spec(intent: str, **kw: object) -> OrderSpec:
    return OrderSpec(
        venue="aster", symbol="BTC", side=Side.BUY, quantity=QTY, intent_id=intent, mode=ExecutionMode.LIMIT_ONLY,
        timeout=timedelta(seconds=20), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


class _HalfFillThenQuiet(CheckedSimVenue):
    """A resting order gets half of what remains once, then nothing; a cancel's reply leaves its fees out."""

    def _flow(self, step: int) -> None:
        for cid in list(self.resting):
            order = self.orders[cid]
            if order.filled_qty == 0:
                half = self.instruments[order.symbol].round_qty(order.remaining / 2)
                assert order.price is not None
                self._fill(order, half, order.price, maker=True, at=self.world.time_of(step))

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        return attrs.evolve(await super().cancel_order(symbol, client_order_id), fees=Decimal(0))


class _StaleBookNoTakers(_StaleBookVenue):
    """Post-only orders cross at first (stale quotes), then rest and never fill: re-priced until abandoned."""

    def _flow(self, step: int) -> None:
        return None


def test_post_only_rejections_and_repriced_orders_end_final() -> None:
    market = Market(venue_cls={"aster": _StaleBookNoTakers})
    spec = attrs.evolve(limit_spec("states1"), timeout=timedelta(minutes=10), reprice_interval=timedelta(seconds=2))
    market.run(market.orders.execute(spec))
    statuses = [s.status for s in market.journal.states.values()]
    assert OrderStatus.REJECTED in statuses
    assert statuses.count(OrderStatus.CANCELLED) >= 2  # re-priced at least once, then abandoned at the deadline
    assert market.journal.differences(market.venues) == {}
    assert set(market.journal.intents) == set(market.venues["aster"].orders)


def test_cancel_after_a_partial_fill_records_the_fill_and_its_fees() -> None:
    market = Market(venue_cls={"aster": _HalfFillThenQuiet})
    result = market.run(market.orders.execute(limit_spec("states2")))
    partial = [market.journal.states[cid] for cid in result.client_order_ids]
    assert all(s.status is OrderStatus.CANCELLED and 0 < s.filled_qty < s.quantity for s in partial)
    for state in partial:  # asked again after the cancel: its reply had no fees
        assert state.fees == market.venues["aster"].orders[state.client_order_id].fees > 0
    assert sum(s.filled_qty for s in partial) == result.filled_qty
    assert market.journal.differences(market.venues) == {}


@pytest.mark.parametrize("refused", [False, True])
def test_an_order_filled_while_being_cancelled_is_recorded_filled(refused: bool) -> None:
    class _FilledByTheCancel(CheckedSimVenue):
        """A taker fills the order just before the cancel arrives; the venue answers with it, or refuses."""

        async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
            order = self.orders[client_order_id]
            if not order.status.final:
                assert order.price is not None
                self._fill(order, order.remaining, order.price, maker=True, at=self.clock.now())
                self.resting.remove(client_order_id)
                if refused:
                    raise VenueRejected("order already filled", venue=self.name, reason=RejectReason.UNKNOWN_ORDER)
            return await super().cancel_order(symbol, client_order_id)

        def _flow(self, step: int) -> None:  # nothing fills on its own
            return None

    market = Market(venue_cls={"aster": _FilledByTheCancel})
    result = market.run(market.orders.execute(limit_spec(f"race{refused}")))
    (cid,) = result.client_order_ids
    assert result.filled_qty == QTY
    assert market.journal.states[cid].status is OrderStatus.FILLED
    assert market.journal.states[cid].filled_qty == QTY
    assert market.journal.differences(market.venues) == {}


def test_an_execution_cancelled_midway_cancels_and_records_its_orders() -> None:
    """A sibling leg failing (a TaskGroup cancels this one) must not leave a resting order open or unrecorded."""
    market = Market(venue_cls={"aster": _HalfFillThenQuiet})

    async def sibling_fails() -> None:
        await market.clock.sleep(5)
        raise RuntimeError("the other leg broke")

    async def both() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(market.orders.execute(attrs.evolve(limit_spec("abandon"), timeout=timedelta(hours=1))))
            group.create_task(sibling_fails())

    with pytest.raises(ExceptionGroup):
        market.run(both())
    orders = market.venues["aster"].orders
    assert orders
    assert all(o.status.final for o in orders.values())
    assert market.journal.differences(market.venues) == {}


def test_a_cancel_whose_outcome_stays_unknown_ends_with_the_order_reported_stuck() -> None:
    """Every cancel times out after it was sent and the order stays open: the execution still returns (a few
    tries with backoff, no endless loop), says which order may be live, and alerts."""

    class _CancelsTimeOut(CheckedSimVenue):
        cancels = 0

        async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
            type(self).cancels += 1
            raise AmbiguousOutcome("timed out after sending", venue=self.name, client_order_id=client_order_id)

        def _flow(self, step: int) -> None:  # nothing fills: the order rests until cancelled
            return None

    market = Market(venue_cls={"aster": _CancelsTimeOut})
    result = market.run(market.orders.execute(limit_spec("stuck")))
    (cid,) = result.client_order_ids
    assert result.error is not None
    assert cid in result.error
    attempts = market.orders.retry.attempts
    # Bounded: the limit phase's cancel at its timeout (`attempts` tries), then one per settling round.
    assert _CancelsTimeOut.cancels == 2 * attempts
    assert [e.data["orders"] for e in market.events if e.data.get("alert") == "orders_unresolved"] == [[cid]]


def test_an_execution_logs_its_summary_and_its_failure_with_venue_symbol_and_intent() -> None:
    """The summary line is formatted only when written, and every line of an execution names where it traded."""
    market = Market()
    lines: list[tuple[str, str, dict[str, object]]] = []
    sink = logger.add(lambda m: lines.append((m.record["level"].name, m.record["message"], m.record["extra"])))
    logger.enable("fundarb_core")  # a library is quiet until the application enables it
    try:
        market.run(market.orders.execute(attrs.evolve(limit_spec("logged"), mode=ExecutionMode.MARKET_ONLY)))
        market.run(market.orders.execute(attrs.evolve(limit_spec("broke"), quantity=Decimal(10_000))))
    finally:
        logger.disable("fundarb_core")
        logger.remove(sink)
    where = {"venue": "aster", "symbol": "BTC"}
    summary = [(m, x) for level, m, x in lines if level == "INFO" and x.get("intent") == "logged"]
    assert len(summary) == 1
    assert summary[0][0].startswith("buy 0.050 BTC: filled 0.050 avg ")
    assert summary[0][1].items() >= where.items()
    failed = [(m, x) for level, m, x in lines if level == "ERROR" and x.get("intent") == "broke"]
    assert len(failed) == 1
    assert failed[0][0].startswith("execution stopped: ")
    assert failed[0][1].items() >= where.items()


class _AcknowledgesMarketOrdersFirst(CheckedSimVenue):
    """A market order's reply is the venue's acknowledgement (open, nothing filled yet); its fills show when it is
    asked for later, part of them first (as venues that match after answering do)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.asked: dict[str, int] = {}

    async def place_market_order(self, symbol, side, quantity, **kw):  # type: ignore[no-untyped-def]
        state = await super().place_market_order(symbol, side, quantity, **kw)
        return attrs.evolve(state, status=OrderStatus.OPEN, filled_qty=Decimal(0), avg_price=None, fees=Decimal(0),
                            maker_qty=Decimal(0))  # fmt: skip

    async def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        state = await super().get_order(symbol, client_order_id)
        seen = self.asked[client_order_id] = self.asked.get(client_order_id, 0) + 1
        if state is not None and state.type is OrderType.MARKET and seen == 1:
            half = state.filled_qty / 2
            return attrs.evolve(state, status=OrderStatus.PARTIALLY_FILLED, filled_qty=half, fees=state.fees / 2)
        return state


class _AcknowledgesFirstNoTakers(_AcknowledgesMarketOrdersFirst):
    """The same, and resting limit orders never fill: a limit phase always ends in the market fallback."""

    def _flow(self, step: int) -> None:
        return None


@pytest.mark.parametrize("mode", [ExecutionMode.MARKET_ONLY, ExecutionMode.LIMIT_WITH_FALLBACK])
def test_a_market_order_acknowledged_before_it_fills_is_not_sent_again(mode: ExecutionMode) -> None:
    """Found by review: the market phase sent the whole quantity again while the first order's fills were still to
    come (one 0.05 BTC buy made a 0.15 BTC position). Now it waits for the order to be final first."""
    market = Market(venue_cls={"aster": _AcknowledgesFirstNoTakers})
    spec = OrderSpec(venue="aster", symbol="BTC", side=Side.BUY, quantity=QTY, intent_id="ack1", mode=mode,
                     timeout=timedelta(seconds=5))  # fmt: skip
    result = market.run(market.orders.execute(spec))
    venue = market.venues["aster"]
    assert result.error is None
    assert result.filled_qty == QTY
    assert venue.ledger.position("BTC").qty == QTY  # not two or three times as much
    assert [s.kind for s in venue.sent].count("market") == 1
    assert market.journal.differences(market.venues) == {}


class _NeverSaysWhatBecameOfIt(CheckedSimVenue):
    """Every market order's send ends in an unknown outcome, and the venue never shows the order."""

    async def place_market_order(self, symbol, side, quantity, **kw):  # type: ignore[no-untyped-def]
        self.sent.append(
            Sent(self.name, "market", symbol, side, quantity, None, bool(kw.get("reduce_only")), Decimal(0))
        )
        raise AmbiguousOutcome("gateway timeout after the send", venue=self.name)


def test_an_order_whose_outcome_stays_unknown_is_sent_a_few_times_then_reported_possibly_live() -> None:
    """Found by review: the same order was sent again and again, without end, while its outcome stayed unknown.
    Now a few times (the retry policy's attempts), then the execution stops and reports it as possibly live."""
    market = Market(venue_cls={"aster": _NeverSaysWhatBecameOfIt})
    spec = OrderSpec(venue="aster", symbol="BTC", side=Side.BUY, quantity=QTY, intent_id="lost1",
                     mode=ExecutionMode.MARKET_ONLY)  # fmt: skip
    result = market.run(market.orders.execute(spec))
    sends = [s for s in market.venues["aster"].sent if s.kind == "market"]
    assert 1 < len(sends) <= market.orders.retry.attempts * spec.max_market_attempts
    assert result.filled_qty == 0
    assert result.error is not None
    assert "unknown" in result.error
    assert "possibly still live" in result.error
    alerts = [e for e in market.events if e.kind == "alert" and e.data.get("alert") == "orders_unresolved"]
    assert len(alerts) == 1
    assert alerts[0].data["orders"] == list(result.client_order_ids)  # one order, sent again under its own id
    assert market.orders._unresolved == set()  # reported: not kept past the execution


class _AcceptsThenHidesTheOrder(CheckedSimVenue):
    """The first send of an order is taken but its reply is lost, and the order shows in look-ups only after a few
    of them; sent again under its id, it is refused as a duplicate (a venue's "accepted, not visible yet")."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.hidden = 0

    async def place_market_order(self, symbol, side, quantity, **kw):  # type: ignore[no-untyped-def]
        first = kw["client_order_id"] not in self.orders
        state = await super().place_market_order(symbol, side, quantity, **kw)
        if first:
            self.hidden = 3
            raise AmbiguousOutcome("accepted, not visible yet", venue=self.name)
        return state

    async def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        if self.hidden:
            self.hidden -= 1
            return None
        return await super().get_order(symbol, client_order_id)


def test_an_order_refused_as_a_duplicate_but_not_shown_yet_is_waited_for_not_taken_as_never_sent() -> None:
    """Found by review: such an order was settled as one that never reached the venue (nothing filled, no alert),
    while it had filled: the caller then hedged or rolled back against a fill it did not know of."""
    market = Market(venue_cls={"aster": _AcceptsThenHidesTheOrder})
    spec = OrderSpec(venue="aster", symbol="BTC", side=Side.BUY, quantity=QTY, intent_id="hid1",
                     mode=ExecutionMode.MARKET_ONLY)  # fmt: skip
    result = market.run(market.orders.execute(spec))
    venue = market.venues["aster"]
    assert venue.ledger.position("BTC").qty == QTY
    assert result.filled_qty == QTY  # the fill it has is the fill it reports
    assert market.journal.differences(market.venues) == {}
    assert market.orders._unresolved == set()


class _TakesAClientIdAgainOnceDone(CheckedSimVenue):
    """Binance's rule, which Aster follows: a client order id is unique among open orders only, so an order sent
    again under the id of one that already filled is a new order."""

    async def place_market_order(self, symbol, side, quantity, **kw):  # type: ignore[no-untyped-def]
        cid = kw["client_order_id"]
        earlier = self.orders.pop(cid, None)
        if earlier is None or not earlier.status.final:
            if earlier is not None:
                self.orders[cid] = earlier
            return await super().place_market_order(symbol, side, quantity, **kw)
        try:
            return await super().place_market_order(symbol, side, quantity, **kw)  # a second order, same id
        finally:
            self.orders[f"{cid}#again"], self.orders[cid] = self.orders[cid], earlier  # the id still finds the first


class _TakesAClientIdAgainNoTakers(_TakesAClientIdAgainOnceDone):
    """The same, and resting limit orders never fill: a limit phase always ends in the market fallback. Every id
    it is asked to place is kept."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.placed: list[str] = []

    async def place_limit_order(self, symbol, side, quantity, price, **kw):  # type: ignore[no-untyped-def]
        self.placed.append(kw["client_order_id"])
        return await super().place_limit_order(symbol, side, quantity, price, **kw)

    async def place_market_order(self, symbol, side, quantity, **kw):  # type: ignore[no-untyped-def]
        self.placed.append(kw["client_order_id"])
        return await super().place_market_order(symbol, side, quantity, **kw)

    def _flow(self, step: int) -> None:
        return None


@pytest.mark.parametrize("mode", [ExecutionMode.MARKET_ONLY, ExecutionMode.LIMIT_WITH_FALLBACK])
def test_a_resumed_execution_asks_the_venue_before_sending_an_order_journalled_before(
    tmp_path: Path, mode: ExecutionMode
) -> None:
    """Found by review: after a restart, an execution resumed (a reduction, a close) sent its journalled orders
    again under the same ids, trusting the venue to refuse them as duplicates; a venue that takes an id again once
    its order is done made a second order. Now an intent journalled before is asked for first, and adopted."""
    from fundarb_core.execution import OrderExecutor
    from fundarb_core.positions import StoreJournal
    from fundarb_core.store import Store

    market = Market(venue_cls={"aster": _TakesAClientIdAgainNoTakers})
    spec = OrderSpec(venue="aster", symbol="BTC", side=Side.SELL, quantity=QTY, intent_id="resume1", mode=mode,
                     timeout=timedelta(seconds=20))  # fmt: skip

    async def twice() -> tuple[object, object]:
        store = await Store.open(tmp_path / "fundarb.db", clock=market.clock)
        try:
            results = []
            for _ in range(2):  # the second: a new process (executor, venue memory) resuming the same execution
                executor = OrderExecutor(market.venues, market.instruments, market.clock,  # type: ignore[arg-type]
                                         journal=StoreJournal(store))  # fmt: skip
                results.append(await executor.execute(spec))
            return results[0], results[1]
        finally:
            await store.close()

    first, again = market.run(twice())
    venue = market.venues["aster"]
    assert first.filled_qty == again.filled_qty == QTY  # adopted: the same order, filled once
    assert venue.ledger.position("BTC").qty == -QTY  # not twice as much
    sent = [s.kind for s in venue.sent]
    assert sent.count("market") == 1
    # With a limit phase first (found by the second review): resumed, it counted the market order that had filled
    # the rest before its own renewed deadline could send another limit order.
    assert sent[-1] == "market"
    assert set(again.client_order_ids) == set(first.client_order_ids)
    assert len(venue.placed) == len(set(venue.placed))  # no id was sent twice (found by the third review)


def test_a_close_sized_from_the_live_position_and_tried_again_is_not_cut_short(tmp_path: Path) -> None:
    """Found by the third review: a close tried again under the same intent (a position left closing) is sized from
    the live position, which its earlier orders' fills already left out; counting those fills again left the leg
    under-closed. Its earlier orders are made final, not counted, and new ones numbered after them."""
    from fundarb_core.execution import CloseLegSpec, OrderExecutor
    from fundarb_core.positions import StoreJournal
    from fundarb_core.store import Store

    market = Market(venue_cls={"aster": _TakesAClientIdAgainNoTakers})
    venue = market.venues["aster"]

    async def close_twice() -> None:
        store = await Store.open(tmp_path / "fundarb.db", clock=market.clock)
        try:
            buy = OrderSpec(venue="aster", symbol="BTC", side=Side.BUY, quantity=2 * QTY, intent_id="open",
                            mode=ExecutionMode.MARKET_ONLY)  # fmt: skip
            opened = await market.orders.execute(buy)
            assert opened.filled_qty == 2 * QTY
            for half in (QTY, None):  # the first try closes half (cut short), the second what is left
                snapshot = await venue.get_position_snapshot("BTC")
                spec = CloseLegSpec.from_snapshot("aster", snapshot, intent_id="pos:close1:aster",
                                                  mode=ExecutionMode.MARKET_ONLY)  # fmt: skip
                if half is not None:
                    spec = attrs.evolve(spec, quantity=half)
                executor = OrderExecutor(market.venues, market.instruments, market.clock,  # type: ignore[arg-type]
                                         journal=StoreJournal(store))  # fmt: skip
                await executor.execute(spec)
        finally:
            await store.close()

    market.run(close_twice())
    assert venue.ledger.position("BTC").qty == 0  # closed whole, not left at half
    closing = venue.placed[1:]  # after the opening buy
    assert len(closing) == len(set(closing)) == 2  # one order each try, under its own id


class _CannotCancel(CheckedSimVenue):
    """Cancels go unanswered, and resting orders never fill."""

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        raise AmbiguousOutcome("cancel: gateway timeout", venue=self.name)

    def _flow(self, step: int) -> None:
        return None


@pytest.mark.parametrize("remaining_only", [False, True])
def test_an_order_left_resting_by_a_stopped_process_that_cannot_be_cancelled_is_reported_not_lost(
    tmp_path: Path, remaining_only: bool
) -> None:
    """Found by the third review: a resumed execution that could not cancel an order its stopped process had left
    resting dropped its id, so nothing reported it and it went on resting. It stays the execution's, and is
    reported possibly live; nothing new is sent beside it."""
    from fundarb_core.execution import OrderExecutor
    from fundarb_core.execution.ids import client_order_id
    from fundarb_core.model import TimeInForce
    from fundarb_core.positions import StoreJournal
    from fundarb_core.store import Store

    market = Market(venue_cls={"aster": _CannotCancel})
    venue = market.venues["aster"]
    # remaining_only: a close sized from the live position (found by the fourth review: not one of the execution's
    # own orders, the stuck earlier one was not reported either).
    spec = OrderSpec(venue="aster", symbol="BTC", side=Side.BUY, quantity=QTY, intent_id="left1",
                     mode=ExecutionMode.LIMIT_ONLY, timeout=timedelta(seconds=20),
                     remaining_only=remaining_only)  # fmt: skip
    left = client_order_id(spec.intent_id, "L", 1)

    async def resume() -> object:
        store = await Store.open(tmp_path / "fundarb.db", clock=market.clock)
        try:
            journal = StoreJournal(store)
            bbo = await venue.fetch_bbo_prices("BTC")
            price = bbo.bid - 100 * venue.instruments["BTC"].tick_size  # rests, far from the touch
            await journal.record_intent(spec, left, market=False, price=price, time_in_force=TimeInForce.POST_ONLY)
            await venue.place_limit_order(
                "BTC", Side.BUY, QTY, price, client_order_id=left, time_in_force=TimeInForce.POST_ONLY
            )  # the stopped process's order
            executor = OrderExecutor(market.venues, market.instruments, market.clock,  # type: ignore[arg-type]
                                     journal=journal, record=market.record)  # fmt: skip
            return await executor.execute(spec)
        finally:
            await store.close()

    result = market.run(resume())
    assert (left in result.client_order_ids) is not remaining_only  # type: ignore[attr-defined]  # counted or not
    assert result.error is not None  # type: ignore[attr-defined]
    assert result.filled_qty == 0  # type: ignore[attr-defined]
    assert [s.kind for s in venue.sent] == ["limit"]  # nothing new beside it
    alerts = [e for e in market.events if e.kind == "alert" and e.data.get("alert") == "orders_unresolved"]
    assert [a.data["orders"] for a in alerts] == [[left]]
