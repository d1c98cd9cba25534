"""Time for fundarb: all strategy, execution and action code reads time and sleeps only through a `Clock`.

Three clocks:

- `WallClock`: real time, for live trading.
- `ScaledClock`: simulated time that runs `speed` times faster than real time, for accelerated paper runs.
- `SimClock`: virtual time that moves only when told (`advance`) or, in `run`, whenever every task is waiting on
  the clock. Tests and backtests use it: a simulated day passes in milliseconds and runs are reproducible.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["EPOCH", "Clock", "ScaledClock", "SimClock", "WallClock", "as_seconds", "io_hold", "wait_for"]

T = TypeVar("T")

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def as_seconds(delay: float | timedelta) -> float:
    """Return a delay as seconds, accepting either a number of seconds or a `timedelta`."""
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


@runtime_checkable
class Clock(Protocol):
    """What fundarb code may ask of time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Return seconds on a clock that never goes back (for measuring durations)."""
        ...

    async def sleep(self, delay: float | timedelta) -> None:
        """Suspend the caller for `delay` of this clock's time."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Suspend the caller until this clock's `now()` reaches `when` (returns at once if it has)."""
        ...


class WallClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, delay: float | timedelta) -> None:
        await asyncio.sleep(max(0.0, as_seconds(delay)))

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep((when - self.now()).total_seconds())


class ScaledClock:
    """Simulated time running `speed` times faster than the wall clock, starting at `start`."""

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._start = start or datetime.now(UTC)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    async def sleep(self, delay: float | timedelta) -> None:
        await asyncio.sleep(max(0.0, as_seconds(delay)) / self.speed)

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep((when - self.now()).total_seconds())


class SimClock:
    """Virtual time that moves only when driven.

    `advance(delta)` moves time forward, waking each sleeper at its own deadline in order and letting the woken
    tasks run before time moves on. `run(coro)` drives the clock automatically: whenever the event loop has nothing
    ready to run, time jumps to the next deadline. Either way no real time is spent waiting.
    """

    def __init__(self, start: datetime = EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock start must be timezone-aware")
        self._start = start
        self._elapsed = 0.0
        self._now = (0.0, start)
        self._seq = itertools.count()
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._holds = 0
        self._released: asyncio.Future[None] | None = None  # `run` waits on it while I/O is held

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Keep `run` from moving time while real I/O (a database write, a socket) is in flight.

        Without it, another task's timer would let simulated time jump ahead while this task waits on a thread:
        runs would stop being reproducible and hours could pass during one write.
        """
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds and self._released is not None and not self._released.done():
                self._released.set_result(None)

    def now(self) -> datetime:
        if self._now[0] != self._elapsed:  # asked many times between two moves of time: built once per move
            self._now = (self._elapsed, self._start + timedelta(seconds=self._elapsed))
        return self._now[1]

    def monotonic(self) -> float:
        return self._elapsed

    @property
    def pending(self) -> int:
        """How many sleepers are waiting on this clock."""
        return sum(1 for _, _, fut in self._timers if not fut.done())

    def next_deadline(self) -> float | None:
        """Return the monotonic time of the earliest live sleeper, or None."""
        self._drop_cancelled()
        return self._timers[0][0] if self._timers else None

    async def sleep(self, delay: float | timedelta) -> None:
        seconds = max(0.0, as_seconds(delay))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self._elapsed + seconds, next(self._seq), fut))
        await fut

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep((when - self.now()).total_seconds())

    async def advance(self, delta: float | timedelta) -> None:
        """Move time forward by `delta`, firing every timer that falls due, in deadline order."""
        target = self._elapsed + max(0.0, as_seconds(delta))
        await _settle()
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > target:
                break
            self._elapsed = max(self._elapsed, deadline)
            self._fire_due()
            await _settle()
        self._elapsed = target
        await _settle()

    async def run(
        self, coro: Coroutine[Any, Any, T], *, limit: float | timedelta | None = None, speed: float | None = None
    ) -> T:
        """Run `coro` to completion, jumping time forward whenever the loop is idle.

        `limit` bounds how much simulated time may pass; past it, `TimeoutError` is raised (the task is cancelled).
        `speed` paces the jumps so simulated time runs at most `speed` times faster than real time (work never
        makes the simulation skip ahead); None runs as fast as the machine allows.
        """
        real_start, sim_start = time.monotonic(), self._elapsed
        task = asyncio.ensure_future(coro)
        horizon = None if limit is None else self._elapsed + as_seconds(limit)
        try:
            while not task.done():
                await _settle()
                if task.done():
                    break
                deadline = self.next_deadline()
                if self._holds:
                    # Real I/O is in flight: wait until it is done (or briefly, should a holder be cancelled).
                    self._released = asyncio.get_running_loop().create_future()
                    await asyncio.wait({self._released}, timeout=0.05)
                    continue
                if deadline is None:
                    # Nothing waits on the clock: the task waits on real I/O (a thread, a socket). Let it work.
                    await asyncio.sleep(0.001)
                    continue
                if horizon is not None and deadline > horizon:
                    self._elapsed = horizon
                    raise TimeoutError(f"simulated time limit of {limit} reached")
                if speed is not None:
                    ahead = (deadline - sim_start) / speed - (time.monotonic() - real_start)
                    if ahead > 0:
                        await asyncio.sleep(min(ahead, 0.05))  # real pacing; re-check: work may have arrived
                        continue
                self._elapsed = max(self._elapsed, deadline)
                self._fire_due()
            return task.result()
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def _fire_due(self) -> None:
        while self._timers and self._timers[0][0] <= self._elapsed:
            _, _, fut = heapq.heappop(self._timers)
            if not fut.done():
                fut.set_result(None)

    def _drop_cancelled(self) -> None:
        while self._timers and self._timers[0][2].done():
            heapq.heappop(self._timers)


async def _settle(max_rounds: int = 1000) -> None:
    """Yield to the event loop until nothing is ready to run (bounded), so woken tasks act before time moves."""
    loop = asyncio.get_running_loop()
    ready = getattr(loop, "_ready", None)  # CPython's run queue; absent on other loops
    if ready is None:
        for _ in range(max_rounds):
            await asyncio.sleep(0)
        return
    # A plain callback looks at the queue once per round of the loop (a task stepping through `sleep(0)` each round
    # would cost several times as much, and the clock's driver runs this all the time).
    done = loop.create_future()
    rounds = quiet = 0

    def look() -> None:
        nonlocal rounds, quiet
        if done.done():  # the waiter was cancelled
            return
        if len(ready) == 0:
            quiet += 1
            if quiet == 2:  # one more round after the first empty one: a task woken by the last may queue work
                done.set_result(None)
                return
        else:
            quiet = 0
            rounds += 1
            if rounds >= max_rounds:
                done.set_result(None)
                return
        loop.call_soon(look)

    loop.call_soon(look)
    await done


# `timeout` is this function's purpose: it measures it on `clock`, which asyncio.timeout cannot.
def io_hold(clock: object) -> contextlib.AbstractAsyncContextManager[None]:
    """`clock.hold()` for a simulated clock, a no-op otherwise: wrap real I/O done under a clock with it."""
    hold = getattr(clock, "hold", None)
    return hold() if hold is not None else contextlib.nullcontext()


async def wait_for(clock: Clock, awaitable: Awaitable[T], timeout: float | timedelta) -> T:  # noqa: ASYNC109
    """Await `awaitable` for at most `timeout` of `clock` time; raise `TimeoutError` past it.

    Like `asyncio.wait_for`, the awaitable is cancelled on timeout, and also when the caller is cancelled.
    """
    inner = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep(timeout))
    try:
        done, _ = await asyncio.wait({inner, timer}, return_when=asyncio.FIRST_COMPLETED)
        if inner in done:
            return inner.result()
        raise TimeoutError(f"timed out after {as_seconds(timeout)} s")
    finally:
        for task in (inner, timer):
            if not task.done():
                task.cancel()
        await asyncio.gather(inner, timer, return_exceptions=True)
