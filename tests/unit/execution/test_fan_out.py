"""Legs run concurrently with one task fewer: the first in the caller's task (`gateway._settled`, `CloseExecutor._run`).

Everything runs in simulated time: each leg waits on the clock, so "concurrently" means the whole takes as long as
the slowest leg, not the sum.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from fundarb_close_market_only import MarketOnlyConfig, MarketOnlyPolicy

from fundarb_core.clock import SimClock
from fundarb_core.errors import VenueUnavailable
from fundarb_core.execution import CloseExecutor, CloseLegSpec, OrderResult, OrderSpec
from fundarb_core.execution.gateway import LegRef, _settled
from fundarb_core.model import Side
from fundarb_core.venues import PositionSnapshot


def _run(clock: SimClock, coro: Any) -> Any:
    return asyncio.run(clock.run(coro))


async def _leg(clock: SimClock, seconds: float, log: list[str], name: str, fail: BaseException | None = None) -> str:
    log.append(f"{name} start {clock.monotonic()}")
    try:
        await clock.sleep(seconds)
    except asyncio.CancelledError:
        log.append(f"{name} cancelled {clock.monotonic()}")
        raise
    if fail is not None:
        raise fail
    log.append(f"{name} done {clock.monotonic()}")
    return name


def test_settled_runs_every_coroutine_at_once_and_keeps_their_order() -> None:
    clock, log = SimClock(), []
    boom = VenueUnavailable("down", venue="b")

    async def go() -> list[object]:
        return await _settled([_leg(clock, 5, log, "a"), _leg(clock, 3, log, "b", boom), _leg(clock, 1, log, "c")])

    assert _run(clock, go()) == ["a", boom, "c"]
    assert log[:3] == ["a start 0.0", "b start 0.0", "c start 0.0"]
    assert clock.monotonic() == 5.0  # concurrent: the slowest, not the sum


@pytest.mark.parametrize("first_fails", [True, False])
def test_settled_returns_a_failure_of_any_leg_without_stopping_the_others(first_fails: bool) -> None:
    clock, log = SimClock(), []
    boom = RuntimeError("bug")

    async def go() -> list[object]:
        a = _leg(clock, 1, log, "a", boom if first_fails else None)
        b = _leg(clock, 2, log, "b", None if first_fails else boom)
        return await _settled([a, b])

    assert _run(clock, go()) == ([boom, "b"] if first_fails else ["a", boom])
    assert not any("cancelled" in line for line in log)


@pytest.mark.parametrize(("first", "second"), [(10, 20), (20, 30)])
def test_settled_cancelled_cancels_what_still_runs(first: float, second: float) -> None:
    """Cancelled at 15 s while waiting on the second leg's task, or on the first leg in its own task."""
    clock, log = SimClock(), []

    async def go() -> None:
        task = asyncio.ensure_future(_settled([_leg(clock, first, log, "a"), _leg(clock, second, log, "b")]))
        await clock.sleep(15)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)  # let a cancelled leg see it

    _run(clock, go())
    assert "b cancelled 15.0" in log
    assert ("a done 10.0" if first < 15 else "a cancelled 15.0") in log
    assert clock.monotonic() == 15.0


def test_settled_of_nothing_is_nothing() -> None:
    assert _run(SimClock(), _settled([])) == []


class _Orders:
    """An order executor whose legs wait on the clock, and may raise (a bug: execute raises for nothing else)."""

    def __init__(self, clock: SimClock, seconds: dict[str, float], fail: str | None = None) -> None:
        self.clock, self.seconds, self.fail, self.log = clock, seconds, fail, []

    async def execute(self, spec: CloseLegSpec) -> OrderResult:
        fail = RuntimeError(f"{spec.venue} broke") if spec.venue == self.fail else None
        await _leg(self.clock, self.seconds[spec.venue], self.log, spec.venue, fail)
        return OrderResult(spec=spec, filled_qty=spec.quantity)


def _specs() -> list[CloseLegSpec]:
    return [
        CloseLegSpec(venue=v, symbol="BTC", side=s, quantity=Decimal(1), intent_id=f"i{v}")
        for v, s in (("a", Side.SELL), ("b", Side.BUY))
    ]


def test_close_legs_run_concurrently_and_come_back_in_order() -> None:
    clock = SimClock()
    orders = _Orders(clock, {"a": 4, "b": 2})
    closer = CloseExecutor(orders, MarketOnlyPolicy(MarketOnlyConfig()))  # type: ignore[arg-type]
    results, _, _ = _run(clock, closer._run(_specs()))
    assert [r.spec.venue for r in results] == ["a", "b"]
    assert orders.log == ["a start 0.0", "b start 0.0", "b done 2.0", "a done 4.0"]


@pytest.mark.parametrize("failing", ["a", "b"])
def test_a_close_leg_that_raises_cancels_the_other(failing: str) -> None:
    """The first leg runs in the caller's task, the second in a task: either failing stops the other."""
    clock = SimClock()
    orders = _Orders(clock, {"a": 10, "b": 10} | {failing: 1}, fail=failing)
    closer = CloseExecutor(orders, MarketOnlyPolicy(MarketOnlyConfig()))  # type: ignore[arg-type]
    with pytest.raises(ExceptionGroup) as caught:
        _run(clock, closer._run(_specs()))
    assert [str(e) for e in caught.value.exceptions] == [f"{failing} broke"]
    other = "b" if failing == "a" else "a"
    assert f"{other} cancelled 1.0" in orders.log
    assert clock.monotonic() == 1.0


class _Gateway:
    """Snapshots that log when they are read (and fail for `down`)."""

    def __init__(self, clock: SimClock, log: list[str], down: str | None = None) -> None:
        self.clock, self.log, self.down = clock, log, down

    async def snapshot(self, leg: LegRef) -> PositionSnapshot:
        self.log.append(f"{leg.venue} snapshot {self.clock.monotonic()}")
        if leg.venue == self.down:
            raise VenueUnavailable("down", venue=leg.venue)
        zero = Decimal(0)
        return PositionSnapshot(
            leg.symbol, zero, None, Decimal(100), zero, zero, zero, Decimal(1), None, self.clock.now()
        )

    async def snapshots(self, legs: list[LegRef]) -> tuple[dict[LegRef, PositionSnapshot], dict[LegRef, str]]:
        snaps, errors = {}, {}
        for leg in legs:
            try:
                snaps[leg] = await self.snapshot(leg)
            except VenueUnavailable as exc:
                errors[leg] = str(exc)
        return snaps, errors


def test_each_leg_is_snapshotted_when_its_own_order_is_done_and_the_others_at_once() -> None:
    clock = SimClock()
    orders = _Orders(clock, {"a": 4, "b": 2})
    orders.gateway = _Gateway(clock, orders.log, down="a")  # type: ignore[attr-defined]
    closer = CloseExecutor(orders, MarketOnlyPolicy(MarketOnlyConfig()))  # type: ignore[arg-type]
    legs = [LegRef("a", "BTC"), LegRef("b", "BTC"), LegRef("c", "BTC")]  # c: no order this round
    results, snaps, unreachable = _run(clock, closer._run(_specs(), legs))
    assert [r.spec.venue for r in results] == ["a", "b"]
    assert sorted(orders.log) == sorted(
        ["a start 0.0", "b start 0.0", "c snapshot 0.0", "b done 2.0", "b snapshot 2.0", "a done 4.0",
         "a snapshot 4.0"]
    )  # fmt: skip
    assert list(snaps) == [LegRef("b", "BTC"), LegRef("c", "BTC")]  # in the legs' order
    assert list(unreachable) == [LegRef("a", "BTC")]  # a venue error: the leg is unreachable, nothing cancelled


def test_a_leg_whose_order_names_another_symbol_is_snapshotted_after_every_order() -> None:
    """Outside the policy contract (a spec not naming its leg's symbol, two specs on one leg) nothing is assumed:
    such a leg is snapshotted once every order is done, never while its own order may still be working."""
    clock = SimClock()
    orders = _Orders(clock, {"a": 4, "b": 2})
    orders.gateway = _Gateway(clock, orders.log)  # type: ignore[attr-defined]
    closer = CloseExecutor(orders, MarketOnlyPolicy(MarketOnlyConfig()))  # type: ignore[arg-type]
    a, b = _specs()
    odd = [a, CloseLegSpec(venue="b", symbol="XBT", side=b.side, quantity=b.quantity, intent_id="ib")]
    _, snaps, _ = _run(clock, closer._run(odd, [LegRef("a", "BTC"), LegRef("b", "BTC")]))
    assert "b snapshot 4.0" in orders.log  # after a's order too (not at 0.0 beside its own, nor at 2.0)
    assert list(snaps) == [LegRef("a", "BTC"), LegRef("b", "BTC")]


def test_a_hedge_pieced_together_keeps_the_first_decision_mid_any_piece_read() -> None:
    """A maker-hedge's hedge leg is the sum of market pieces; a first piece that sent nothing (its gap below the
    minimum) read no quote: the leg's decision mid is the first one read, so its slippage is still measured."""
    from fundarb_core.execution.atomic import _combine

    spec = OrderSpec(venue="b", symbol="BTC", side=Side.SELL, quantity=Decimal(2), intent_id="h")
    parts = [
        OrderResult(spec=spec),
        OrderResult(spec=spec, filled_qty=Decimal(1), avg_price=Decimal(99), decision_mid=Decimal(100)),
        OrderResult(spec=spec, filled_qty=Decimal(1), avg_price=Decimal(98), decision_mid=Decimal(101)),
    ]
    combined = _combine(spec, parts)
    assert (combined.filled_qty, combined.avg_price, combined.decision_mid) == (
        Decimal(2),
        Decimal("98.5"),
        Decimal(100),
    )
