"""The built-in action types: `close_position`, `reduce_size`, `open_position` and `transfer_funds`.

Each is idempotent under a crash at any point, by deriving what it sends from the action's id:

- `close_position` goes through the close port (the position is marked CLOSING with its attempt number before
  any order; a resumed close re-asks for the same client order ids, and the executor adopts what the venue has);
- `reduce_size` saves the quantities it will shed before sending, and sends them under ids derived from the action;
- `open_position` opens under a position id derived from the action (found again after a crash, never reopened);
- `transfer_funds` requests its transfer under an idempotency key derived from the action (or its batch), and the
  route's state machine takes each step once.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Hashable, Sequence
from decimal import Decimal
from typing import Any, Literal, TypeVar

import attrs

from fundarb_core.actions.handler import ActionContext, ActionFailed, Outcome, RetryLater, RunningAction, Wait
from fundarb_core.actions.ports import TransferPort
from fundarb_core.actions.transfers import TransferService, describe
from fundarb_core.config.validators import non_empty, non_negative, open_fraction, positive
from fundarb_core.errors import StoreError
from fundarb_core.events import Alert
from fundarb_core.execution import Urgency
from fundarb_core.model import ExitReason, PositionStatus, Side
from fundarb_core.model.records import PositionRecord, TransferRecord, TransferState
from fundarb_core.store._transfers import CANCELLABLE
from fundarb_core.venues import Rounding

__all__ = [
    "CloseDetails",
    "ClosePositionHandler",
    "OpenDetails",
    "OpenPositionHandler",
    "ReduceDetails",
    "ReduceSizeHandler",
    "TransferDetails",
    "TransferFundsHandler",
    "derived_id",
]

ZERO = Decimal(0)
ONE = Decimal(1)


def derived_id(*parts: str) -> str:
    """A 32-hex-digit id derived from `parts` (the same parts give the same id after a restart)."""
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:32]


def _reason(action: RunningAction) -> ExitReason:
    try:
        return ExitReason(action.reason)
    except ValueError:
        return ExitReason.REBALANCE


P = TypeVar("P")


def _port(action: RunningAction, port: P | None, what: str) -> P:
    if port is None:
        raise ActionFailed(f"{action.record.action_type} needs a running bot (no {what} port in the action context)")
    return port


async def _position(action: RunningAction) -> PositionRecord:
    if action.position_id is None:
        raise ActionFailed(f"{action.record.action_type} needs a position_id")
    position = await action.context.store.positions.get(action.position_id)
    if position is None:
        raise ActionFailed(f"no position {action.position_id}")
    return position


# -- close_position --------------------------------------------------------------------------------------------


@attrs.frozen
class CloseDetails:
    """`urgency`: normal (the close policy's maker-first path), urgent, or emergency (market at once)."""

    urgency: Literal["normal", "urgent", "emergency"] = "normal"


class ClosePositionHandler:
    """Close both legs through the close port; a position already closed is a success (nothing sent)."""

    def __init__(self, context: ActionContext) -> None:
        self.context = context

    async def run(self, action: RunningAction) -> Outcome:
        position = await _position(action)
        if position.status is PositionStatus.CLOSED:
            return {"position_id": position.id, "already_closed": True, "realized_pnl": position.realized_pnl}
        if position.status is PositionStatus.FAILED:
            return {"position_id": position.id, "already_closed": True, "note": "the position never opened"}
        if position.status is PositionStatus.OPENING:
            raise RetryLater("the position is still opening")
        details: CloseDetails = action.details
        closer = _port(action, self.context.closer, "close")
        closed = await closer.close_by_id(position.id, _reason(action), Urgency(details.urgency))
        if closed.status is not PositionStatus.CLOSED:
            exposure = {k: str(v) for k, v in closed.state.open_exposure.items()}
            raise RetryLater(f"close did not finish; open exposure {exposure}")
        return {
            "position_id": closed.id,
            "realized_pnl": closed.realized_pnl,
            "emergency": bool(closed.state.emergency),
        }


# -- reduce_size -----------------------------------------------------------------------------------------------


@attrs.frozen
class ReduceDetails:
    """Shed `fraction` of both legs (0 < fraction < 1), reduce-only, through the close policy."""

    fraction: Decimal = attrs.field(validator=open_fraction)
    level: str | None = None  # the threshold that asked for it (recorded on the position, so it fires once)


class ReduceSizeHandler:
    """Reduce both legs by the same quantity; the plan is saved before any order, so a resume never sheds twice."""

    def __init__(self, context: ActionContext) -> None:
        self.context = context

    async def run(self, action: RunningAction) -> Outcome:
        details: ReduceDetails = action.details
        reducer = _port(action, self.context.reducer, "reduce")
        position = await _position(action)
        if position.status is not PositionStatus.OPEN:
            raise ActionFailed(f"position {position.id} is {position.status.value}; only an open position is reduced")
        snaps, unreachable = await reducer.snapshots(position)
        if unreachable:
            raise RetryLater(f"cannot see {', '.join(unreachable)}")
        saved = action.state.get("reduce")
        if saved is None:
            sizes = [abs(s.quantity) for s in snaps.values()]
            if min(sizes) == 0:
                raise ActionFailed("a leg is gone; the closer handles that, not a reduction")
            step = reducer.step(position)
            qty = (min(sizes) * details.fraction / step).to_integral_value(rounding=Rounding.DOWN.value) * step
            if qty <= 0:  # recorded (zero shed) so that this level does not ask again every tick
                await reducer.record_reduction(position.id, {}, level=details.level, action_id=action.id)
                return {"position_id": position.id, "reduced": "0", "note": "below one size step"}
            saved = {
                leg.venue: {"side": (Side.SELL if snap.quantity > 0 else Side.BUY).value, "qty": str(qty)}
                for leg, snap in snaps.items()
            }
            await action.save(reduce=saved)
            await action.checkpoint("reduce_planned")
        plan = {venue: (Side(leg["side"]), Decimal(leg["qty"])) for venue, leg in saved.items()}
        # From here orders reach the venues: the action can no longer be cancelled, only finished.
        await action.save(cancellable=False, cancel_refusal="its reduce orders were sent")
        outcome = await reducer.shed(position, snaps, plan, action.reason or "reduce", action_id=action.id)
        filled, errors = dict(outcome.filled), list(outcome.errors)
        if not any(filled.values()):  # same order ids next time: adopted, not sent twice
            raise RetryLater(f"nothing was shed: {'; '.join(errors) or 'no fill'}")
        try:
            position = await reducer.record_reduction(position.id, filled, level=details.level, action_id=action.id)
        except StoreError as exc:
            # Shed but not recorded (the store briefly unreachable, the position written meanwhile): failing here
            # would leave its level unrecorded, and the risk manager would plan it again: a second reduction. Tried
            # again instead: the same order ids are asked for (adopted, not sent twice), and the fills recorded.
            raise RetryLater(f"shed {filled} but not recorded: {exc}") from exc
        if not outcome.even:
            # Recorded as it is; the closer's severe-imbalance rule flattens the pair if the gap is large.
            raise ActionFailed(f"legs reduced unevenly {filled}: {'; '.join(errors) or 'fills fell short'}")
        return {"position_id": position.id, "reduced": filled, "errors": errors or None}


# -- open_position ---------------------------------------------------------------------------------------------


@attrs.frozen
class OpenDetails:
    """Reopen on the chosen pair (`symbol`, `long_venue`, `short_venue`), or the best opportunity now when unset.

    `size_usd` overrides `strategy.position_size_usd`. Nothing qualifying now is a success with `opened: null`.
    """

    symbol: str | None = None
    long_venue: str | None = None
    short_venue: str | None = None
    size_usd: Decimal | None = attrs.field(default=None, validator=attrs.validators.optional(positive))
    exclude_position_pair: bool = False  # the best opportunity other than the pair of `position_id`


class OpenPositionHandler:
    """Open a new pair under a position id derived from the action: a resumed action finds it, never reopens."""

    def __init__(self, context: ActionContext) -> None:
        self.context = context

    async def run(self, action: RunningAction) -> Outcome:
        details: OpenDetails = action.details
        chosen = (details.symbol, details.long_venue, details.short_venue)
        if any(chosen) and not all(chosen):
            raise ActionFailed("a chosen pair needs symbol, long_venue and short_venue together")
        new_id = derived_id("open", action.id)
        existing = await self.context.store.positions.get(new_id)
        if existing is not None:  # opened before a crash (or by an earlier run of this attempt): never twice
            opened = existing.id if existing.status is PositionStatus.OPEN else None
            return {"opened": opened, "position_id": existing.id, "status": existing.status.value, "resumed": True}
        exclude = None
        if details.exclude_position_pair and action.position_id is not None:
            old = await self.context.store.positions.get(action.position_id)
            if old is not None:
                exclude = (old.symbol, old.long_venue, old.short_venue)
        await action.checkpoint("open_decided")
        opener = _port(action, self.context.opener, "open")
        outcome = await opener.open_for_action(
            new_id,
            pair=chosen if all(chosen) else None,  # type: ignore[arg-type]
            size_usd=details.size_usd,
            exclude=exclude,
        )
        if isinstance(outcome, str):
            return {"opened": None, "why": outcome}
        return {
            "opened": outcome.id if outcome.status is PositionStatus.OPEN else None,
            "status": outcome.status.value,
            "symbol": outcome.symbol,
            "long_venue": outcome.long_venue,
            "short_venue": outcome.short_venue,
        }


# -- transfer_funds --------------------------------------------------------------------------------------------


@attrs.frozen
class TransferDetails:
    """Move `amount` of `asset` from `from_venue` to `to_venue`; or, with `rebalance` (venue → target share of
    the two venues' equity, summing to 1), move whatever brings the two venues back to that split.

    `route` names a `[transfers.<route>]` section (default: the first configured route serving the pair). Amounts
    below `min_amount` are not moved (the action succeeds with nothing moved).
    """

    from_venue: str | None = None
    to_venue: str | None = None
    amount: Decimal | None = None
    rebalance: dict[str, Decimal] | None = None
    asset: str = attrs.field(default="USD", validator=non_empty)
    route: str | None = None
    min_amount: Decimal = attrs.field(default=Decimal(1), validator=non_negative)

    def __attrs_post_init__(self) -> None:
        if self.rebalance is None:
            if self.amount is None or self.from_venue is None or self.to_venue is None:
                raise ValueError("a transfer needs amount, from_venue and to_venue (or rebalance = {venue = share})")
            if self.amount <= 0:
                raise ValueError(f"amount must be positive, found {self.amount}")
            if self.from_venue == self.to_venue:
                raise ValueError(f"from_venue and to_venue are both {self.from_venue!r}")
        else:
            if len(self.rebalance) != 2:
                raise ValueError(f"rebalance names exactly two venues, found {sorted(self.rebalance)}")
            if sum(self.rebalance.values(), ZERO) != 1 or any(s < 0 for s in self.rebalance.values()):
                raise ValueError(f"rebalance shares must be ≥ 0 and sum to 1, found {dict(self.rebalance)}")
            if self.amount is not None:
                raise ValueError("give either amount or rebalance, not both")

    def key(self) -> Hashable:
        if self.rebalance is not None:
            return ("rebalance", self.route, tuple(sorted(self.rebalance.items())), self.asset)
        return ("fixed", self.route, self.from_venue, self.to_venue, self.asset)


class TransferFundsHandler:
    """Request one transfer per action or batch (idempotent key), then drive its route's state machine."""

    def __init__(self, context: ActionContext) -> None:
        self.context = context
        self._service: TransferPort | None = None
        self._planning = asyncio.Lock()

    @property
    def service(self) -> TransferPort:
        if self._service is None:
            self._service = self.context.transfers or TransferService.from_context(self.context)
        return self._service

    def batch_key(self, action: RunningAction) -> Hashable | None:
        details: TransferDetails = action.details
        return details.key()

    async def run(self, action: RunningAction) -> Outcome:
        return await self.run_batch([action])

    async def run_batch(self, actions: Sequence[RunningAction]) -> Outcome:
        lead = min(actions, key=lambda a: a.id)
        key = str(lead.state.get("batch") or f"action-{lead.id}")
        try:
            return await self._run_batch(actions, lead, key)
        except Exception as exc:
            # Whatever went wrong (the route, the store, a bug), a transfer past submission is never given up:
            # funds may have left the source. Keep trying, and tell the operator once.
            try:
                current = await self.context.store.transfers.get_by_key(key)
            except Exception:  # the store itself is unreachable: we cannot tell, so we wait (a wait loses nothing)
                return Wait(self.context.clock.now() + self.context.config.actions.retry_backoff, f"store: {exc}")
            if current is None or current.state in CANCELLABLE or current.state.final:
                raise
            try:
                return await self._stuck(actions, current, exc)
            except Exception:
                return Wait(self.context.clock.now() + self.context.config.actions.retry_backoff, str(exc))

    async def _run_batch(self, actions: Sequence[RunningAction], lead: RunningAction, key: str) -> Outcome:
        transfer = await self.context.store.transfers.get_by_key(key)
        if transfer is None:
            async with self._planning:  # rebalances see each other's transfers: planned one at a time
                planned = await self._plan(actions)
                if isinstance(planned, dict):
                    return planned
                from_venue, to_venue, amount, route, asset = planned
                transfer, _ = await self.context.store.transfers.request(
                    idempotency_key=key,
                    route=route,
                    from_venue=from_venue,
                    to_venue=to_venue,
                    asset=asset,
                    amount=amount,
                    action_id=lead.id,
                )
            await lead.checkpoint("transfer_requested")
        approvals = min(a.approvals for a in actions)
        outcome = await self.service.drive(transfer, approvals=approvals)
        current = outcome if isinstance(outcome, TransferRecord) else await self._reload(transfer.id)
        if current.state not in CANCELLABLE:
            for a in actions:
                if a.state.get("cancellable") is not False:
                    await a.save(cancellable=False, cancel_refusal=f"transfer {current.id} is {current.state.value}")
        if not isinstance(outcome, TransferRecord):
            return outcome
        if outcome.state is TransferState.CONFIRMED:
            return {**describe(outcome), "batched": len(actions)}
        raise ActionFailed(f"transfer {outcome.id} {outcome.state.value}: {outcome.error or 'no reason given'}")

    async def _stuck(self, actions: Sequence[RunningAction], transfer: TransferRecord, exc: Exception) -> Outcome:
        why = f"transfer {transfer.id} is {transfer.state.value} and cannot move on ({type(exc).__name__}: {exc})"
        lead = min(actions, key=lambda a: a.id)
        if lead.state.get("stuck") != why:
            await lead.save(stuck=why, cancellable=False, cancel_refusal=f"transfer {transfer.id} is in flight")
            await self.context.events(
                Alert(alert="transfer_stuck", action_id=lead.id, message=why, details={"why": why})
            )
        retry = self.context.config.actions.retry_backoff
        return Wait(self.context.clock.now() + retry, f"{why}; trying again")

    async def _reload(self, transfer_id: str) -> TransferRecord:
        record = await self.context.store.transfers.get(transfer_id)
        assert record is not None
        return record

    def _usd(self, amount: Decimal, asset: str, what: str) -> Decimal:
        value = self.context.config.bot.usd(amount, asset)
        if value is None:
            raise ActionFailed(f"rebalance: {what} is in {asset}, which has no [bot] collateral_usd peg")
        return value

    async def _plan(self, actions: Sequence[RunningAction]) -> tuple[str, str, Decimal, str, str] | dict[str, Any]:
        """From, to, amount, route and asset of the transfer (fixed amounts summed; a rebalance computed now)."""
        details: TransferDetails = actions[0].details
        if details.rebalance is None:
            assert details.from_venue is not None
            assert details.to_venue is not None
            amount = sum((a.details.amount for a in actions), ZERO)
            from_venue, to_venue = details.from_venue, details.to_venue
        else:
            venues = sorted(details.rebalance)
            balances = {}
            for name in venues:
                venue = self.context.venues.get(name)
                if venue is None:
                    raise ActionFailed(f"rebalance names venue {name!r}, which is not configured")
                balances[name] = await self.context.venue_gateway.balance(name)
            # Venues may settle in different assets (Aster USDT, Lighter USDC): everything is compared in USD at the
            # `[bot] collateral_usd` pegs, never added one for one without one.
            usd = self._usd
            # What each venue will hold once the transfers already under way land (not yet withdrawn: still at
            # the source; withdrawn: on its way to the target).
            projected = {name: usd(balances[name].equity, balances[name].asset, name) for name in venues}
            available = {name: usd(balances[name].available, balances[name].asset, name) for name in venues}
            for t in await self.context.store.transfers.list_unfinished():
                before_withdrawal = t.state in CANCELLABLE or t.state is TransferState.SUBMITTED
                moving = usd(t.amount, t.asset, f"transfer {t.id}")
                if t.from_venue in projected and before_withdrawal:
                    projected[t.from_venue] -= moving
                    available[t.from_venue] -= moving
                if t.to_venue in projected and t.state is not TransferState.DEPOSITED:  # deposited: already there
                    projected[t.to_venue] += moving
            total = sum(projected.values(), ZERO)
            a, b = venues
            surplus_a = projected[a] - total * details.rebalance[a]
            from_venue, to_venue = (a, b) if surplus_a > 0 else (b, a)
            amount = max(ZERO, min(abs(surplus_a), available[from_venue])) / usd(ONE, details.asset, "the transfer")
            amount = amount.quantize(Decimal("0.01"), rounding=Rounding.DOWN.value)
        if amount < details.min_amount or amount <= 0:
            return {"moved": "0", "note": f"{amount} is below min_amount {details.min_amount}"}
        route = self.service.route_for(from_venue, to_venue, details.asset, details.route)
        return from_venue, to_venue, amount, route, details.asset


def register_builtin(register: Any) -> None:
    register("close_position", CloseDetails, ClosePositionHandler, closes_position=True)
    register("reduce_size", ReduceDetails, ReduceSizeHandler)
    register("open_position", OpenDetails, OpenPositionHandler)
    register("transfer_funds", TransferDetails, TransferFundsHandler)
