"""One order's life: price from the book, place with a deterministic id, watch fills, re-price, fall back.

Every failure mode of a venue is handled here and only here:
- transient errors (timeout before send, 5xx, 429) back off in clock time and retry the *same* client id;
- an ambiguous outcome is reconciled with `get_order` before anything is sent again;
- a duplicate-id rejection means the order already reached the venue: adopt it instead of sending another.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

import attrs
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.display import at_step, money
from fundarb_core.errors import AmbiguousOutcome, ExecutionError, VenueError, VenueRejected
from fundarb_core.events import Alert, OrderDone, Record, null_record
from fundarb_core.execution._fills import Fills
from fundarb_core.execution.gateway import RetryPolicy, VenueGateway
from fundarb_core.execution.ids import client_order_id
from fundarb_core.execution.journal import NULL_JOURNAL, OrderJournal
from fundarb_core.execution.specs import SEEN_POSITION_TRUSTED, OrderResult, OrderSpec
from fundarb_core.execution.streams import OrderStreamHub
from fundarb_core.model import ExecutionMode, OrderStatus, OrderType, RejectReason, Side, TimeInForce
from fundarb_core.venues import BBO, Instrument, OrderState, Rounding, Venue

__all__ = ["OrderExecutor", "RetryPolicy"]  # RetryPolicy: re-exported from the gateway

if TYPE_CHECKING:
    from loguru import Logger

T = TypeVar("T")
ZERO = Decimal(0)
_REASONS = {reason.value: reason for reason in RejectReason}
_LAZY = logger.opt(lazy=True)  # arguments are functions, called only when the line is written (bind keeps this)


def _where(spec: OrderSpec, log: Logger = logger) -> Logger:
    """`log` bound to the spec's venue, symbol and intent (made where a line is written: one logger per order)."""
    return log.bind(venue=spec.venue, symbol=spec.symbol, intent=spec.intent_id)


class OrderExecutor:
    """Executes one `OrderSpec` on its venue. Venues and their instruments are looked up by the spec's venue name."""

    def __init__(
        self,
        venues: Mapping[str, Venue],
        instruments: Mapping[str, Mapping[str, Instrument]],
        clock: Clock,
        *,
        journal: OrderJournal = NULL_JOURNAL,
        record: Record = null_record,
        retry: RetryPolicy | None = None,
        gateway: VenueGateway | None = None,
    ) -> None:
        self.venues = venues
        self.instruments = instruments
        self.clock = clock
        self.journal = journal
        self.record = record
        self.gateway = gateway or VenueGateway(venues, clock, retry)
        self.retry = self.gateway.retry
        self._hubs: dict[str, OrderStreamHub] = {}
        self._unresolved: set[str] = set()  # orders sent with an outcome still unknown (see `_submit`)

    def _hub(self, venue: Venue) -> OrderStreamHub | None:
        if not venue.capabilities.order_stream:
            return None
        hub = self._hubs.get(venue.name)
        if hub is None:
            hub = self._hubs[venue.name] = OrderStreamHub(venue, self.clock)
        return hub

    async def aclose(self) -> None:
        """Stop the stream readers."""
        for hub in self._hubs.values():
            await hub.stop()
        self._hubs.clear()

    async def _reconcile(self, venue: Venue, symbol: str, cid: str) -> OrderState | None:
        """Ask the venue what became of `cid` (None: it never arrived)."""
        return await self.gateway.call(f"get_order {cid}", lambda: venue.get_order(symbol, cid), venue=venue.name)

    async def _submit(
        self,
        venue: Venue,
        spec: OrderSpec,
        cid: str,
        send: Callable[[], Awaitable[OrderState]],
        *,
        market: bool,
        price: Decimal,
        quantity: Decimal,
    ) -> OrderState | None:
        """Send an order exactly once. Returns its state, or None if the venue definitely does not have it.

        The intent is journalled first. Raises `VenueRejected` for a definite rejection (journalled as rejected).
        """
        tif = TimeInForce.IOC if market else TimeInForce.POST_ONLY
        if await self.journal.record_intent(spec, cid, market=market, price=price, time_in_force=tif):
            # Journalled before: a resumed execution, whose order may have reached the venue (and filled) before the
            # restart. Asked for first: a venue may take a client id again once its first order is done (Binance's
            # rule, unique among open orders), and this process's own memory of what it sent is gone.
            found = await self._reconcile(venue, spec.symbol, cid)
            if found is not None:
                await self.journal.record_state(found)
                return found
        attempt = 0
        state: OrderState | None
        while True:
            try:
                state = await send()
            except AmbiguousOutcome as exc:
                logger.bind(venue=spec.venue).warning("order {} outcome unknown; reconciling by client id", cid)
                state = await self._reconcile(venue, spec.symbol, cid)
                if state is not None:
                    break
                # Not seen (yet): sending the same client id again is safe (the venue deduplicates by it), a few
                # times. After that the order may still show up (accepted, not yet visible): it is not sent again,
                # and the execution reports it as possibly live (see `_finish_orders`) instead of as never sent.
                if attempt + 1 >= self.retry.attempts:
                    self._unresolved.add(cid)
                    raise ExecutionError(
                        f"{spec.venue}: outcome of order {cid} unknown after {attempt + 1} tries; not sent again"
                    ) from exc
                await self.clock.sleep(self.retry.delay(attempt, exc))
            except VenueRejected as exc:
                if exc.reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID:
                    state = await self._reconcile(venue, spec.symbol, cid)
                    if state is None:  # the venue has it (it says so), but does not show it yet: possibly live
                        self._unresolved.add(cid)
                        raise ExecutionError(f"{spec.venue}: {cid} refused as duplicate but not found") from exc
                    break
                await self.journal.record_state(
                    OrderState(
                        client_order_id=cid, venue_order_id=None, symbol=spec.symbol, side=spec.side,
                        type=OrderType.MARKET if market else OrderType.LIMIT, time_in_force=tif, quantity=quantity,
                        price=price, reduce_only=spec.reduce_only, status=OrderStatus.REJECTED,
                        reject_reason=_REASONS.get(exc.reason), updated_at=self.clock.now(),
                    )
                )  # fmt: skip
                raise
            except VenueError as exc:
                if not exc.transient:
                    raise
                if attempt + 1 >= self.retry.attempts:
                    # Transient means nothing was done, but make sure before giving up.
                    state = await self._reconcile(venue, spec.symbol, cid)
                    if state is not None:
                        break
                    return None
                await self.clock.sleep(self.retry.delay(attempt, exc))
            except Exception as exc:  # a plugin let something untyped escape after sending: the outcome is unknown
                logger.bind(venue=spec.venue).opt(exception=exc).error(
                    "order {}: untyped {} after sending; reconciling by client id", cid, type(exc).__name__
                )
                state = await self._reconcile(venue, spec.symbol, cid)
                if state is not None:
                    break
                if attempt + 1 >= self.retry.attempts:  # as an unknown outcome: possibly live, not never sent
                    self._unresolved.add(cid)
                    raise ExecutionError(
                        f"{spec.venue}: outcome of order {cid} unknown after {attempt + 1} tries; not sent again"
                    ) from exc
            else:
                break
            attempt += 1
        assert state is not None
        await self.journal.record_state(state)
        return state

    # -- pricing -----------------------------------------------------------------------------------------------

    @staticmethod
    def maker_price(spec: OrderSpec, bbo: BBO, instrument: Instrument) -> Decimal:
        """Post-only price: the touch improved by the offset, but never crossing (one tick inside at most)."""
        offset = bbo.mid * spec.limit_offset_bps / 10_000
        tick = instrument.tick_size
        if spec.side is Side.BUY:
            price = instrument.round_price(bbo.bid + offset, Rounding.DOWN)
            return max(tick, min(price, bbo.ask - tick))
        price = instrument.round_price(bbo.ask - offset, Rounding.UP)
        return max(price, bbo.bid + tick)

    # -- the life of one order ---------------------------------------------------------------------------------

    async def execute(self, spec: OrderSpec, progress: Callable[[Decimal], None] | None = None) -> OrderResult:
        """Execute `spec` to completion (filled, timed out, or failed); never raises for venue trouble.

        `progress`, if given, is called with the quantity filled so far each time it grows (as fills are seen).
        """
        if not spec.intent_id:
            raise ValueError(f"{spec.venue} {spec.symbol}: a spec needs an intent id (see fundarb_core.execution.ids)")
        asked = spec
        venue = self.venues[spec.venue]
        instrument = self.instruments[spec.venue][spec.symbol]
        decision_at = self.clock.monotonic()
        fills = Fills(progress)
        ids: list[str] = []
        first_submit: list[float] = []
        error: str | None = None
        try:
            target = instrument.round_qty(spec.quantity, Rounding.DOWN)
            tried = await self._adopt_journalled(spec, venue, fills, ids)
            if tried["L"] or tried["M"]:  # earlier orders may have filled since the caller saw the position
                spec = attrs.evolve(spec, seen_quantity=None, seen_at=None)  # (the result names the spec asked)
            if spec.mode is not ExecutionMode.MARKET_ONLY:  # market only: its first order's quote is the decision's
                bbo = await self._quote(spec, venue)
                fills.decision_mid = bbo.mid
                try:
                    await self._limit_phase(spec, venue, instrument, target, fills, ids, first_submit, tried["L"])
                except VenueRejected as exc:
                    if spec.mode is ExecutionMode.LIMIT_ONLY:
                        raise
                    _where(spec).warning("limit phase refused ({}); falling back to market", exc)
            remaining = target - fills.qty
            if remaining > 0 and spec.mode is not ExecutionMode.LIMIT_ONLY:
                await self._market_phase(spec, venue, instrument, target, fills, ids, first_submit, tried["M"])
        except (VenueError, ExecutionError) as exc:
            error = str(exc)
            _where(spec).error("execution stopped: {}", exc)
        except BaseException:
            # Cancelled (a sibling leg failed, the bot stops) or a bug: still leave no order open, none unrecorded.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._settle(spec, venue, fills, ids))
            raise
        stuck = await self._settle(spec, venue, fills, ids)
        if stuck:
            error = f"{error + '; ' if error else ''}orders possibly still live: {', '.join(stuck)}"
        result = OrderResult(
            spec=asked,
            filled_qty=fills.qty,
            avg_price=fills.avg,
            fees=fills.fees,
            maker_qty=fills.maker,
            decision_mid=fills.decision_mid,
            client_order_ids=tuple(dict.fromkeys(ids)),
            decision_at=decision_at,
            first_submit_at=first_submit[0] if first_submit else None,
            done_at=self.clock.monotonic(),
            error=error,
        )
        _where(spec, _LAZY).info(  # lazy: the line is formatted only when it is written
            "{}",
            lambda: (
                f"{spec.side.value} {at_step(spec.quantity, instrument.step_size)} {spec.symbol}: "
                f"filled {at_step(result.filled_qty, instrument.step_size)} "
                f"avg {at_step(result.avg_price, instrument.tick_size)} fees {money(result.fees)} ({len(ids)} orders)"
            ),
        )
        await self.record(
            OrderDone(
                position_id=spec.position_id,
                venue=spec.venue,
                symbol=spec.symbol,
                side=spec.side.value,
                intent_id=spec.intent_id,
                client_order_ids=tuple(dict.fromkeys(ids)),
                quantity=spec.quantity,
                filled=fills.qty,
                avg_price=fills.avg,
                fees=fills.fees,
                maker_qty=fills.maker,
                reduce_only=spec.reduce_only,
                error=error,
            )
        )
        return result

    async def _adopt_journalled(self, spec: OrderSpec, venue: Venue, fills: Fills, ids: list[str]) -> dict[str, int]:
        """A resumed execution (its intent journalled orders before, in a process that stopped or in an earlier try):
        make each of those orders final at the venue (cancelled if it still rests) before anything is sent, and count
        what they filled when `quantity` is the intent's whole (`remaining_only` unset). Otherwise a limit phase,
        its deadline renewed, would send a new order before reaching a market order that had filled the rest. Ids
        are deterministic per intent, kind and try: they are found in order until one was never journalled. Returns
        how many of each kind there were: new orders are numbered after them (an id is never sent twice)."""
        tried = {"L": 0, "M": 0}
        journalled = getattr(self.journal, "journalled", None)
        if journalled is None:  # a journal that cannot say (tests, benchmarks): nothing to resume from
            return tried
        counted = not spec.remaining_only
        for kind in tried:
            while await journalled(cid := client_order_id(spec.intent_id, kind, tried[kind] + 1)):
                tried[kind] += 1
                if counted:
                    ids.append(cid)  # before asking: settled, or reported stuck, whatever happens next
                try:
                    state = await self._reconcile(venue, spec.symbol, cid)
                    if state is not None and not state.final:  # left resting: final before anything else is sent
                        state = await self._cancel(venue, spec, cid)
                except (VenueError, ExecutionError):
                    if not counted:  # not among this execution's orders, which `_settle` reports: said here
                        await self.record(
                            Alert(
                                position_id=spec.position_id, alert="orders_unresolved",
                                message=f"{spec.venue} {spec.symbol}: an order of an earlier try possibly still live",
                                details={"venue": spec.venue, "symbol": spec.symbol, "orders": [cid]},
                            )
                        )  # fmt: skip
                    raise  # nothing is sent beside it
                if state is None:
                    continue  # journalled, never sent (or refused): nothing at the venue
                if counted:
                    fills.record(state)
                await self.journal.record_state(state)
        if tried["L"] or tried["M"]:
            _where(spec).info("resumed: {} orders journalled before, {} filled", sum(tried.values()), fills.qty)
        return tried

    async def _limit_phase(
        self,
        spec: OrderSpec,
        venue: Venue,
        instrument: Instrument,
        target: Decimal,
        fills: Fills,
        ids: list[str],
        first_submit: list[float],
        tried: int = 0,
    ) -> None:
        deadline = self.clock.monotonic() + spec.timeout.total_seconds()
        attempt = tried  # new orders are numbered after those a resumed execution adopted
        crossings = 0
        while self.clock.monotonic() < deadline:
            remaining = instrument.round_qty(target - fills.qty, Rounding.DOWN)
            if remaining < instrument.min_qty:
                return
            bbo = await self._quote(spec, venue)
            price = self.maker_price(spec, bbo, instrument)
            if not spec.reduce_only and remaining * price < instrument.min_notional:
                return
            attempt += 1
            cid = client_order_id(spec.intent_id, "L", attempt)
            ids.append(cid)
            if not first_submit:
                first_submit.append(self.clock.monotonic())
            try:
                state = await self._submit(
                    venue,
                    spec,
                    cid,
                    lambda cid=cid, price=price, qty=remaining: venue.place_limit_order(  # type: ignore[misc]
                        spec.symbol, spec.side, qty, price,
                        client_order_id=cid, time_in_force=TimeInForce.POST_ONLY, reduce_only=spec.reduce_only,
                    ),
                    market=False,
                    price=price,
                    quantity=remaining,
                )  # fmt: skip
            except VenueRejected as exc:
                if exc.reason == RejectReason.POST_ONLY_WOULD_CROSS:
                    crossings += 1
                    if crossings > 20:
                        return  # the book keeps moving through us: leave it to the fallback
                    await self.clock.sleep(spec.poll_interval)
                    continue
                if exc.reason == RejectReason.REDUCE_ONLY_WOULD_INCREASE:
                    return  # nothing left to reduce: the position is already flat
                raise
            if state is None:
                continue
            fills.record(state)
            if not state.final:
                state = await self._watch(spec, venue, instrument, state, deadline, fills)
                fills.record(state)

    async def _watch(
        self, spec: OrderSpec, venue: Venue, instrument: Instrument, state: OrderState, deadline: float, fills: Fills
    ) -> OrderState:
        """Wait for fills until filled, the touch moves away (re-price) or the deadline; cancel if still open. Each
        fill seen is counted at once, so a `maker_hedge` open hedges a partial fill when it happens."""
        cid = state.client_order_id
        next_reprice = self.clock.monotonic() + spec.reprice_interval.total_seconds()
        hub = self._hub(venue)
        polls = 0
        while not state.final:
            now = self.clock.monotonic()
            if now >= deadline:
                break
            wait = min(spec.poll_interval.total_seconds(), max(0.0, deadline - now))
            polls += 1
            if hub is not None:
                # Streamed venues: wake on an update; poll only every few waits as a safety net.
                seen = await hub.wait(cid, wait)
                if seen is not None and seen.filled_qty >= state.filled_qty:
                    state = seen
                    fills.record(state)
                if polls % 5 and seen is not None and (state.final or self.clock.monotonic() < next_reprice):
                    continue
            else:
                await self.clock.sleep(wait)
            latest = await self._reconcile(venue, spec.symbol, cid)
            if latest is None:
                raise ExecutionError(f"{spec.venue}: order {cid} vanished")
            state = latest
            fills.record(state)
            if state.final or self.clock.monotonic() < next_reprice:
                continue
            next_reprice = self.clock.monotonic() + spec.reprice_interval.total_seconds()
            bbo = await self._quote(spec, venue)
            if self.maker_price(spec, bbo, instrument) != state.price:
                break  # the touch moved: cancel and re-price
        if not state.final:
            state = await self._cancel(venue, spec, cid)
        return state

    async def _settle(self, spec: OrderSpec, venue: Venue, fills: Fills, ids: list[str]) -> list[str]:
        """Make every order sent final (cancelled if need be) and journal its final state; return the stuck ids."""
        stuck = await self._finish_orders(spec, venue, fills, ids)
        for state in fills.counted.values():
            await self.journal.record_state(state)
        if stuck:
            await self.record(
                Alert(
                    position_id=spec.position_id,
                    alert="orders_unresolved",
                    message=f"{spec.venue} {spec.symbol}: orders possibly still live",
                    details={"venue": spec.venue, "symbol": spec.symbol, "orders": stuck},
                )
            )
        return stuck

    async def _finish_orders(self, spec: OrderSpec, venue: Venue, fills: Fills, ids: list[str]) -> list[str]:
        """Make every order of this execution final and count its fills; return the ids that could not be."""
        stuck = []
        for cid in dict.fromkeys(ids):
            known = fills.counted.get(cid)
            if known is not None and known.final:
                continue
            for attempt in range(self.retry.attempts):
                try:
                    state = await self._reconcile(venue, spec.symbol, cid)
                    if state is None and cid not in self._unresolved:
                        break  # it never reached the venue
                    if state is None:  # sent with an unknown outcome: it may still show up, and fill
                        await self.clock.sleep(self.retry.delay(attempt, VenueError("", venue=spec.venue)))
                        continue
                    self._unresolved.discard(cid)
                    if not state.final:
                        state = await self._cancel(venue, spec, cid, tries=1)  # this loop is the retry
                    fills.record(state)
                    if state.final:
                        break
                except (VenueError, ExecutionError) as exc:
                    logger.bind(venue=spec.venue).warning("cannot settle order {} yet: {}", cid, exc)
                await self.clock.sleep(self.retry.delay(attempt, VenueError("", venue=spec.venue)))
            else:
                stuck.append(cid)
        self._unresolved.difference_update(ids)  # reported stuck (with an alert) if still unknown
        return stuck

    async def _cancel(self, venue: Venue, spec: OrderSpec, cid: str, tries: int | None = None) -> OrderState:
        """Cancel `cid` and return its final state as the venue reports it after the cancel.

        A cancel's reply may be partial (not yet final, or fills without their fees): then the order is asked for
        once more, so what is recorded is the venue's final word (a fill that raced the cancel included).
        """
        tries = tries or self.retry.attempts
        for attempt in range(tries):  # a cancel whose outcome stays unknown is tried a few times
            try:
                state = await self.gateway.call(
                    f"cancel {cid}", lambda: venue.cancel_order(spec.symbol, cid), venue=spec.venue
                )
                break
            except VenueRejected:
                found = await self._reconcile(venue, spec.symbol, cid)
                if found is None:
                    raise ExecutionError(f"{spec.venue}: cannot cancel {cid}: unknown to the venue") from None
                return found
            except AmbiguousOutcome as exc:
                found = await self._reconcile(venue, spec.symbol, cid)
                if found is not None and found.final:
                    return found
                if attempt + 1 < tries:
                    await self.clock.sleep(self.retry.delay(attempt, exc))
        else:  # the caller settles it later, or reports it stuck (and the bot asks again every tick)
            raise ExecutionError(f"{spec.venue}: cancel of {cid} unanswered {tries} times")
        if state.final and not state.filled_qty:
            return state
        latest = await self._reconcile(venue, spec.symbol, cid)
        return latest if latest is not None and latest.final and latest.filled_qty >= state.filled_qty else state

    async def _quote(self, spec: OrderSpec, venue: Venue) -> BBO:
        """The spec's symbol's best bid and offer on `venue` (transient errors retried by the gateway)."""
        return await self.gateway.call("bbo", lambda: venue.fetch_bbo_prices(spec.symbol), venue=spec.venue)

    async def _market_phase(
        self,
        spec: OrderSpec,
        venue: Venue,
        instrument: Instrument,
        target: Decimal,
        fills: Fills,
        ids: list[str],
        first_submit: list[float],
        tried: int = 0,
    ) -> None:
        last = tried + spec.max_market_attempts  # numbered after those a resumed execution adopted
        for attempt in range(tried + 1, last + 1):
            remaining = instrument.round_qty(target - fills.qty, Rounding.DOWN)
            bbo: BBO | None = None
            trusted = False  # sized from the position the caller saw, not from one read here
            if spec.reduce_only:
                # Never more than the live position: it may have shrunk (liquidation, a fill we have not seen). What
                # the caller saw is as good when no order of this spec has gone out since and it is still young once
                # the quote is in (only the intent's journal write comes between that and the order).
                position = spec.seen_quantity
                if position is not None and spec.seen_at is not None and not ids:
                    bbo = await self._quote(spec, venue)
                    trusted = self.clock.monotonic() - spec.seen_at <= SEEN_POSITION_TRUSTED
                if not trusted:
                    snap = await self.gateway.call(
                        "snapshot", lambda: venue.get_position_snapshot(spec.symbol), venue=spec.venue
                    )
                    position = snap.quantity
                assert position is not None
                closing_side_ok = (position > 0 and spec.side is Side.SELL) or (position < 0 and spec.side is Side.BUY)
                if not closing_side_ok:
                    return
                remaining = min(remaining, instrument.close_qty(position))
            if remaining < instrument.min_qty:
                return
            if bbo is None:
                bbo = await self._quote(spec, venue)
            if fills.decision_mid is None:
                fills.decision_mid = bbo.mid
            worst = instrument.round_price(
                spec.worst_price(bbo.mid), Rounding.UP if spec.side is Side.BUY else Rounding.DOWN
            )
            cid = client_order_id(spec.intent_id, "M", attempt)
            ids.append(cid)
            if not first_submit:
                first_submit.append(self.clock.monotonic())
            try:
                state = await self._submit(
                    venue,
                    spec,
                    cid,
                    lambda cid=cid, worst=worst, qty=remaining: venue.place_market_order(  # type: ignore[misc]
                        spec.symbol, spec.side, qty, worst_price=worst, client_order_id=cid,
                        reduce_only=spec.reduce_only,
                    ),
                    market=True,
                    price=worst,
                    quantity=remaining,
                )  # fmt: skip
            except VenueRejected as exc:
                if exc.reason == RejectReason.REDUCE_ONLY_WOULD_INCREASE:
                    if not trusted or attempt == last:
                        return
                    continue  # sized from what the caller saw and the position shrank since: read it, try again
                if attempt == last:
                    raise
                logger.bind(venue=spec.venue).warning("market order {} refused ({}); retrying", cid, exc)
                continue
            if state is None:
                continue
            fills.record(state)
            if not state.final:
                # Acknowledged before it filled (a venue may answer a market order at once, matching it after):
                # no other order goes out before this one is final, or its fills, seen late, would be sent again.
                state = await self._until_final(spec, venue, state, fills)
            if state.status is OrderStatus.FILLED:
                return

    async def _until_final(self, spec: OrderSpec, venue: Venue, state: OrderState, fills: Fills) -> OrderState:
        """Ask for a market order until it is final (counting each fill seen); cancel it if still not final after
        the spec's timeout. Raises `ExecutionError` when it vanishes or cannot be made final (then `_settle`
        reports it stuck: the position stays guarded, and no order is added to it)."""
        cid = state.client_order_id
        deadline = self.clock.monotonic() + spec.timeout.total_seconds()
        while not state.final and self.clock.monotonic() < deadline:
            await self.clock.sleep(min(spec.poll_interval.total_seconds(), deadline - self.clock.monotonic()))
            latest = await self._reconcile(venue, spec.symbol, cid)
            if latest is None:  # acknowledged, not shown (yet): it may still fill
                self._unresolved.add(cid)
                raise ExecutionError(f"{spec.venue}: market order {cid} acknowledged but not found")
            state = latest
            fills.record(state)
        if not state.final:
            state = await self._cancel(venue, spec, cid)
            fills.record(state)
        return state
