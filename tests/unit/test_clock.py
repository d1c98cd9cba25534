"""Clocks: simulated time moves only when driven; nothing here waits for real time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from fundarb_core.clock import EPOCH, Clock, ScaledClock, SimClock, WallClock, as_seconds, wait_for


def test_every_clock_satisfies_the_protocol() -> None:
    for clock in (WallClock(), ScaledClock(10), SimClock()):
        assert isinstance(clock, Clock)


def test_sim_clock_needs_an_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimClock(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_as_seconds() -> None:
    assert as_seconds(timedelta(minutes=2)) == 120.0
    assert as_seconds(3) == 3.0


async def test_advance_fires_timers_in_deadline_order() -> None:
    clock = SimClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(label: str, delay: float) -> None:
        await clock.sleep(delay)
        woke.append((label, clock.monotonic()))

    # Started out of deadline order on purpose.
    tasks = [asyncio.create_task(sleeper(label, delay)) for label, delay in [("c", 30), ("a", 10), ("b", 20)]]
    await clock.advance(15)
    assert woke == [("a", 10.0)]
    assert clock.monotonic() == 15.0
    assert clock.pending == 2

    await clock.advance(timedelta(seconds=100))
    assert woke == [("a", 10.0), ("b", 20.0), ("c", 30.0)]
    assert clock.monotonic() == 115.0
    assert clock.now() == EPOCH + timedelta(seconds=115)
    assert clock.pending == 0
    await asyncio.gather(*tasks)


async def test_woken_task_acts_before_time_moves_on() -> None:
    clock = SimClock()
    trail: list[float] = []

    async def chain() -> None:
        await clock.sleep(5)
        trail.append(clock.monotonic())
        await clock.sleep(5)  # scheduled from the first wake-up: due at 10, inside the same advance
        trail.append(clock.monotonic())

    task = asyncio.create_task(chain())
    await clock.advance(12)
    assert trail == [5.0, 10.0]
    await task


async def test_equal_deadlines_wake_in_the_order_they_slept() -> None:
    clock = SimClock()
    order: list[int] = []

    async def sleeper(index: int) -> None:
        await clock.sleep(1)
        order.append(index)

    tasks = [asyncio.create_task(sleeper(i)) for i in range(5)]
    await clock.advance(1)
    assert order == [0, 1, 2, 3, 4]
    await asyncio.gather(*tasks)


async def test_cancelled_sleeper_is_dropped() -> None:
    clock = SimClock()
    task = asyncio.create_task(clock.sleep(10))
    await asyncio.sleep(0)
    assert clock.next_deadline() == 10.0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert clock.next_deadline() is None
    assert clock.pending == 0


async def test_sleep_until_and_past_deadlines() -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    clock = SimClock(start)

    async def job() -> datetime:
        await clock.sleep_until(start + timedelta(hours=8))
        await clock.sleep_until(start)  # already past: returns at once
        await clock.sleep(-3)  # negative: at once
        return clock.now()

    assert await clock.run(job()) == start + timedelta(hours=8)


async def test_run_jumps_time_whenever_the_loop_is_idle() -> None:
    clock = SimClock()

    async def worker() -> str:
        for _ in range(24):
            await clock.sleep(timedelta(hours=1))
        return "done"

    loop = asyncio.get_running_loop()
    before = loop.time()
    assert await clock.run(worker()) == "done"
    assert clock.monotonic() == 24 * 3600
    # A simulated day must cost (far) less than a real second; there is no real sleep to wait for.
    assert loop.time() - before < 1.0


async def test_run_drives_several_tasks() -> None:
    clock = SimClock()
    log: list[tuple[str, float]] = []

    async def ticker(label: str, period: float, count: int) -> None:
        for _ in range(count):
            await clock.sleep(period)
            log.append((label, clock.monotonic()))

    async def main() -> None:
        await asyncio.gather(ticker("fast", 1, 3), ticker("slow", 2.5, 2))

    await clock.run(main())
    assert log == [("fast", 1.0), ("fast", 2.0), ("slow", 2.5), ("fast", 3.0), ("slow", 5.0)]


async def test_run_limit_raises_in_simulated_time() -> None:
    clock = SimClock()
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            while True:
                await clock.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError, match="simulated time limit"):
        await clock.run(forever(), limit=timedelta(minutes=30))
    assert clock.monotonic() == 1800.0
    assert cancelled.is_set()


async def test_wait_for_times_out_in_simulated_time() -> None:
    clock = SimClock()
    inner_cancelled = asyncio.Event()

    async def slow() -> str:
        try:
            await clock.sleep(3600)
        except asyncio.CancelledError:
            inner_cancelled.set()
            raise
        return "late"

    with pytest.raises(TimeoutError, match=r"timed out after 30\.0 s"):
        await clock.run(wait_for(clock, slow(), timedelta(seconds=30)))
    assert clock.monotonic() == 30.0
    assert inner_cancelled.is_set()
    assert clock.pending == 0


async def test_wait_for_returns_the_result_in_time() -> None:
    clock = SimClock()

    async def quick() -> str:
        await clock.sleep(5)
        return "ok"

    assert await clock.run(wait_for(clock, quick(), 30)) == "ok"
    assert clock.monotonic() == 5.0
    assert clock.pending == 0  # the timer is gone too


async def test_wait_for_cancels_the_awaitable_when_the_caller_is_cancelled() -> None:
    clock = SimClock()
    inner_cancelled = asyncio.Event()

    async def slow() -> None:
        try:
            await clock.sleep(3600)
        except asyncio.CancelledError:
            inner_cancelled.set()
            raise

    outer = asyncio.create_task(wait_for(clock, slow(), 7200))
    await clock.advance(10)
    outer.cancel()
    await asyncio.gather(outer, return_exceptions=True)
    assert inner_cancelled.is_set()
    assert clock.pending == 0


def test_scaled_clock_refuses_non_positive_speed() -> None:
    with pytest.raises(ValueError, match="speed must be positive"):
        ScaledClock(0)
