"""The one way above the venue layer to reach a venue: reads retried, writes reconciled, bulk calls announced.

- **Reads** (rates, books, snapshots, balances, funding payments, order lookups) and idempotent requests (a cancel,
  a leverage setting) go through `call`, which retries transient errors with backoff in clock time.
- **Writes** that could do something twice (placing an order) are never retried blindly: the `OrderExecutor`
  sends them once per client order id and reconciles an ambiguous outcome by that id.
- **Bulk snapshots** are used where a venue announces `Capabilities.bulk_snapshots`; elsewhere one call per leg.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.errors import RateLimited, VenueError, VenueUnavailable
from fundarb_core.venues import BBO, Balance, FundingPayment, FundingRate, OrderState, PositionSnapshot, Venue

__all__ = ["LegRef", "RetryPolicy", "VenueGateway"]

T = TypeVar("T")


class LegRef(NamedTuple):
    """Where a leg lives: a venue and a canonical symbol.

    A named tuple: a close looks legs up in its dicts some thirty times, and a tuple's hash and equality are the
    interpreter's own (an attrs class's are Python functions).
    """

    venue: str
    symbol: str


class RetryPolicy:
    """Exponential backoff for transient venue errors, in clock time; a 429's retry-after wins when given."""

    def __init__(self, attempts: int = 6, base: float = 0.25, cap: float = 8.0) -> None:
        self.attempts = attempts
        self.base = base
        self.cap = cap

    def delay(self, attempt: int, exc: VenueError) -> float:
        if isinstance(exc, RateLimited) and exc.retry_after:
            return float(exc.retry_after)
        return min(self.cap, self.base * 2.0**attempt)


def _kind(what: str) -> str:
    """The kind of a call, for the breaker: "snapshot BTC" and "snapshots" are one kind."""
    return what.split(" ", 1)[0].removesuffix("s")


class VenueGateway:
    """Every venue call the strategy, positions, actions and execution layers make.

    Also the per-venue circuit breaker: a venue where one kind of call (rates, snapshots, ...) fails `trip_after`
    times in a row (transient errors after their retries, or anything untyped a plugin let escape) is *tripped* —
    the bot opens nothing on it, but keeps guarding and closing what is there — until that call succeeds again.
    """

    def __init__(
        self, venues: Mapping[str, Venue], clock: Clock, retry: RetryPolicy | None = None, *, trip_after: int = 5
    ) -> None:
        self.venues = venues
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.trip_after = trip_after
        self.failures: dict[tuple[str, str], int] = {}  # consecutive failures per (venue, kind of call)
        self.faults: dict[str, int] = {}  # untyped exceptions per venue, since start

    def venue(self, name: str) -> Venue:
        return self.venues[name]

    def tripped(self, name: str) -> bool:
        """Whether one kind of call to `name` failed `trip_after` times in a row (and has not succeeded since)."""
        return any(n >= self.trip_after for (venue, _), n in self.failures.items() if venue == name)

    def _failed(self, name: str | None, what: str) -> None:
        if name is not None:
            key = (name, _kind(what))
            self.failures[key] = self.failures.get(key, 0) + 1
            if self.failures[key] == self.trip_after:
                logger.bind(venue=name).error(
                    "venue {} tripped: {} failed calls in a row; no new opens", name, self.trip_after
                )

    async def call(self, what: str, request: Callable[[], Awaitable[T]], *, venue: str | None = None) -> T:
        """Run a venue call that is safe to repeat (a query, a cancel), retrying transient errors.

        An exception a venue plugin lets escape untyped becomes `VenueUnavailable` here (counted in `faults`), so
        nothing above the venues sees anything but the venue error hierarchy.
        """
        attempt = 0
        while True:
            try:
                result = await request()
            except VenueError as exc:
                if not exc.transient or attempt + 1 >= self.retry.attempts:
                    if exc.transient:
                        self._failed(venue or exc.venue, what)
                    raise
                delay = self.retry.delay(attempt, exc)
                logger.bind(venue=exc.venue).warning("{} failed ({}); retrying in {:.2f}s", what, exc, delay)
                await self.clock.sleep(delay)
                attempt += 1
            except Exception as exc:  # a plugin's bug or an unchecked reply: a fault of that venue, not of the bot
                name = venue or "unknown"
                self.faults[name] = self.faults.get(name, 0) + 1
                self._failed(venue, what)
                logger.bind(venue=name).opt(exception=exc).error("{}: untyped error from the venue", what)
                raise VenueUnavailable(f"{what}: untyped {type(exc).__name__} from the venue", venue=name) from exc
            else:
                if venue is not None and self.failures:  # a success resets its kind's count (none to reset: skip)
                    self.failures.pop((venue, _kind(what)), None)
                return result

    # -- reads -------------------------------------------------------------------------------------------------

    async def funding_rates(self, name: str) -> Mapping[str, FundingRate]:
        venue = self.venues[name]
        return await self.call("rates", lambda: venue.fetch_funding_rates(), venue=name)

    async def bbo(self, name: str, symbol: str, *, retry: bool = True) -> BBO:
        """The best bid and offer; `retry=False` asks once (a caller that would rather decide later)."""
        venue = self.venues[name]
        if not retry:
            return await venue.fetch_bbo_prices(symbol)
        return await self.call("bbo", lambda: venue.fetch_bbo_prices(symbol), venue=name)

    async def balance(self, name: str) -> Balance:
        venue = self.venues[name]
        return await self.call("balance", lambda: venue.fetch_balance(), venue=name)

    async def funding_payments(self, name: str, since: datetime) -> Sequence[FundingPayment]:
        venue = self.venues[name]
        return await self.call("funding", lambda: venue.fetch_funding_payments(None, since), venue=name)

    async def get_order(self, name: str, symbol: str, client_order_id: str) -> OrderState | None:
        venue = self.venues[name]
        return await self.call(
            f"get_order {client_order_id}", lambda: venue.get_order(symbol, client_order_id), venue=name
        )

    async def cancel_order(self, name: str, symbol: str, client_order_id: str) -> OrderState:
        venue = self.venues[name]
        return await self.call(
            f"cancel {client_order_id}", lambda: venue.cancel_order(symbol, client_order_id), venue=name
        )

    async def set_leverage(self, name: str, symbol: str, leverage: Decimal) -> Decimal:
        venue = self.venues[name]
        return await self.call("leverage", lambda: venue.set_leverage(symbol, leverage), venue=name)

    async def snapshot(self, leg: LegRef) -> PositionSnapshot:
        venue = self.venues[leg.venue]
        symbol = leg.symbol
        return await self.call(f"snapshot {symbol}", lambda: venue.get_position_snapshot(symbol), venue=leg.venue)

    async def snapshots(self, legs: Sequence[LegRef]) -> tuple[dict[LegRef, PositionSnapshot], dict[LegRef, str]]:
        """Live snapshots of every leg, fetched concurrently (transient errors retried); and the legs unreachable."""
        outcomes = await _settled([self.snapshot(leg) for leg in legs])
        snaps: dict[LegRef, PositionSnapshot] = {}
        errors: dict[LegRef, str] = {}
        for leg, outcome in zip(legs, outcomes, strict=True):
            if isinstance(outcome, VenueError):
                errors[leg] = str(outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                snaps[leg] = outcome
        return snaps, errors

    async def bulk_snapshots(self, wanted: Mapping[str, set[str]]) -> dict[tuple[str, str], PositionSnapshot]:
        """One request per venue announcing `bulk_snapshots`, for every wanted symbol on it (others: nothing); by
        (venue, symbol), which a `LegRef` finds as its equal (a plain tuple: a thousand legs a tick, made cheaply)."""
        out: dict[tuple[str, str], PositionSnapshot] = {}

        async def one(name: str, symbols: set[str]) -> None:
            venue: Any = self.venues[name]
            if not venue.capabilities.bulk_snapshots:
                return
            try:
                got = await self.call("snapshots", lambda: venue.get_position_snapshots(sorted(symbols)), venue=name)
            except VenueError as exc:
                logger.bind(venue=name).warning("bulk snapshots unavailable: {}", exc)
                return
            for symbol, snap in got.items():
                out[(name, symbol)] = snap

        await asyncio.gather(*(one(n, s) for n, s in wanted.items()))
        return out


async def _settled(coros: Sequence[Coroutine[Any, Any, T]]) -> list[T | BaseException]:
    """Run `coros` concurrently; each one's result or exception, in order (`asyncio.gather(...,
    return_exceptions=True)`, with the first run in this task: one task fewer to schedule, the same concurrency).

    Cancelled while waiting, the ones still running are cancelled too.
    """
    if not coros:
        return []
    others = [asyncio.ensure_future(coro) for coro in coros[1:]]
    outcomes: list[T | BaseException] = []
    try:
        try:
            outcomes.append(await coros[0])
        except Exception as exc:
            outcomes.append(exc)
        if not all(task.done() for task in others):
            await asyncio.sleep(0)
        for task in others:
            try:
                outcomes.append(await task)
            except Exception as exc:
                outcomes.append(exc)
    finally:
        for task in others:
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # retrieved: a failure after ours is not reported as never retrieved
    return outcomes
