"""A stored position's lifecycle: open, close and reduce it, each step in the store before it acts.

A position is created (OPENING) before its orders are sent, marked CLOSING (with its close attempt number) before any
close order, and a reduction is recorded once per action. Order intents derive from those ids and attempts
(`fundarb_core.execution.ids`), so after a crash the same orders are asked for by id and nothing is sent twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.errors import VenueError
from fundarb_core.events import (
    CloseFailed,
    OpenFailed,
    PositionClosed,
    PositionOpened,
    PositionReduced,
)
from fundarb_core.execution import (
    AtomicExecutor,
    AtomicResult,
    CloseExecutor,
    LegRef,
    OpenMode,
    OrderSpec,
    ReduceResult,
    Urgency,
    VenueGateway,
)
from fundarb_core.execution.ids import open_intent
from fundarb_core.model import ExitReason, PositionStatus, Side
from fundarb_core.model.records import PositionRecord
from fundarb_core.model.state import PositionState, Reduction
from fundarb_core.positions.funding import FundingLedger
from fundarb_core.positions.pnl import PnL, pnl_of
from fundarb_core.positions.recorder import EventRecorder
from fundarb_core.store import Store
from fundarb_core.venues import Instrument, PositionSnapshot

__all__ = ["OpenRequest", "PositionBook"]

ZERO = Decimal(0)


@attrs.frozen(kw_only=True)
class OpenRequest:
    """What to open: `quantity` of `symbol` long on `long_venue` and short on `short_venue`, and how."""

    symbol: str
    long_venue: str
    short_venue: str
    quantity: Decimal
    mark: Decimal
    entry_spread: Decimal
    net_apr: Decimal | None = None
    leverage: Decimal
    limit_offset_bps: Decimal
    timeout: Any  # timedelta
    open_mode: OpenMode = "maker_hedge"


class PositionBook:
    """Opens, closes and reduces stored positions through the executors, recording each fact once."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        gateway: VenueGateway,
        instruments: Mapping[str, Mapping[str, Instrument]],
        atomic: AtomicExecutor,
        closer: CloseExecutor,
        recorder: EventRecorder,
        funding: FundingLedger,
    ) -> None:
        self.store = store
        self.clock = clock
        self.gateway = gateway
        self.instruments = instruments
        self.atomic = atomic
        self.closer = closer
        self.record = recorder
        self.funding = funding
        self.closed: list[str] = []  # ids closed since the caller last cleared it (the tick's report)

    async def reload(self, position_id: str) -> PositionRecord:
        record = await self.store.positions.get(position_id)
        if record is None:
            raise LookupError(f"no position {position_id}")
        return record

    # -- open --------------------------------------------------------------------------------------------------

    async def open(
        self, request: OpenRequest, *, position_id: str | None = None, details: Mapping[str, Any] | None = None
    ) -> PositionRecord:
        """Record the position (OPENING), set leverage, open both legs at once, record the outcome (OPEN or
        FAILED)."""
        r = request
        state = PositionState(net_apr=r.net_apr).update(**dict(details or {}))
        record = await self.store.positions.create(
            id=position_id,
            symbol=r.symbol,
            long_venue=r.long_venue,
            short_venue=r.short_venue,
            long_quantity=r.quantity,
            short_quantity=r.quantity,
            notional_usd=r.quantity * r.mark,
            status=PositionStatus.OPENING,
            entry_spread=r.entry_spread,
            state=state,
        )
        try:
            for venue_name in (r.long_venue, r.short_venue):
                leverage = min(r.leverage, self.instruments[venue_name][r.symbol].max_leverage)
                await self.gateway.set_leverage(venue_name, r.symbol, leverage)
        except VenueError as exc:
            record = await self.store.positions.update(attrs.evolve(record, status=PositionStatus.FAILED))
            await self.record(
                OpenFailed(
                    position_id=record.id, symbol=r.symbol, long=r.long_venue, short=r.short_venue, error=str(exc)
                )
            )
            return record
        specs = [
            OrderSpec(
                venue=name, symbol=r.symbol, side=side, quantity=r.quantity, intent_id=open_intent(record.id, name),
                limit_offset_bps=r.limit_offset_bps, timeout=r.timeout, position_id=record.id,
            )
            for name, side in ((r.long_venue, Side.BUY), (r.short_venue, Side.SELL))
        ]  # fmt: skip
        result = await self.atomic.open(specs, mode=r.open_mode)
        record = await self.reload(record.id)
        filled = dict(zip((r.long_venue, r.short_venue), result.quantities, strict=True))
        legs = tuple(
            attrs.evolve(leg, filled_quantity=filled[leg.venue], entry_price=_avg(result, leg.venue))
            for leg in record.legs
        )
        # An unbalanced open is still OPEN: the closer catches it as a severe imbalance.
        status = PositionStatus.FAILED if result.flat else PositionStatus.OPEN
        record = await self.store.positions.update(
            attrs.evolve(record, status=status, legs=legs, opened_at=self.clock.now() if not result.flat else None)
        )
        telemetry = result.telemetry.as_dict()
        if status is PositionStatus.OPEN:
            await self.record(
                PositionOpened(
                    position_id=record.id, symbol=r.symbol, long=r.long_venue, short=r.short_venue, qty=r.quantity,
                    notional_usd=record.notional_usd, net_apr=r.net_apr, telemetry=telemetry,
                )
            )  # fmt: skip
        else:
            await self.record(
                OpenFailed(
                    position_id=record.id, symbol=r.symbol, long=r.long_venue, short=r.short_venue, qty=r.quantity,
                    error=result.error, telemetry=telemetry,
                )
            )  # fmt: skip
        return record

    # -- close -------------------------------------------------------------------------------------------------

    async def close(self, position: PositionRecord, reason: ExitReason, urgency: Urgency) -> PositionRecord:
        """Mark CLOSING (with the attempt number) before any order, close from live snapshots, record the outcome."""
        attempt = position.state.close_attempt
        if position.status is not PositionStatus.CLOSING:
            attempt += 1  # a CLOSING position is a close interrupted by a crash: same attempt, same order ids
        position = await self.store.positions.update(
            attrs.evolve(
                position,
                status=PositionStatus.CLOSING,
                exit_reason=position.exit_reason or reason,
                state=position.state.update(close_attempt=attempt, urgency=urgency.value),
            )
        )
        legs = [LegRef(position.long_venue, position.symbol), LegRef(position.short_venue, position.symbol)]
        result = await self.closer.close(position.id, legs, reason.value, urgency, attempt=attempt)
        position = await self.reload(position.id)
        if result.closed:
            pnl = await self.pnl(position.id)
            position = await self.store.positions.update(
                attrs.evolve(
                    position,
                    status=PositionStatus.CLOSED,
                    closed_at=self.clock.now(),
                    realized_pnl=pnl.net,
                    state=position.state.update(
                        price_pnl=pnl.price, funding=pnl.funding, fees=pnl.fees, net=pnl.net, emergency=result.emergency
                    ),
                )
            )
            await self.record(
                PositionClosed(
                    position_id=position.id, symbol=position.symbol, long=position.long_venue,
                    short=position.short_venue, reason=reason.value, emergency=result.emergency, price_pnl=pnl.price,
                    funding=pnl.funding, fees=pnl.fees, net=pnl.net, telemetry=result.telemetry.as_dict(),
                )
            )  # fmt: skip
            self.closed.append(position.id)
        else:
            exposure = {f"{k.venue}:{k.symbol}": v for k, v in result.open_exposure.items()}
            position = await self.store.positions.update(
                attrs.evolve(
                    position,
                    status=PositionStatus.CLOSE_FAILED,
                    state=position.state.update(open_exposure=exposure),
                )
            )
            await self.record(
                CloseFailed(
                    position_id=position.id, symbol=position.symbol, reason=reason.value, why=result.why,
                    open_exposure=exposure,
                )
            )  # fmt: skip
        return position

    async def close_by_id(self, position_id: str, reason: ExitReason, urgency: Urgency) -> PositionRecord:
        """Close the stored position `position_id` (the `close_position` action's port)."""
        return await self.close(await self.reload(position_id), reason, urgency)

    async def pnl(self, position_id: str) -> PnL:
        await self.funding.record()
        orders = await self.store.orders.list(position_id=position_id)
        return pnl_of(orders, await self.store.funding.total(position_id))

    # -- reduce ------------------------------------------------------------------------------------------------

    async def snapshots(self, position: PositionRecord) -> tuple[dict[LegRef, PositionSnapshot], list[str]]:
        """Live snapshots of both legs, and the venues that cannot be seen now."""
        legs = [LegRef(position.long_venue, position.symbol), LegRef(position.short_venue, position.symbol)]
        snaps, unreachable = await self.gateway.snapshots(legs)
        return snaps, [leg.venue for leg in unreachable]

    def step(self, position: PositionRecord) -> Decimal:
        """The coarser of the two venues' quantity steps for the position's symbol."""
        return max(self.instruments[v][position.symbol].step_size for v in (position.long_venue, position.short_venue))

    async def shed(
        self,
        position: PositionRecord,
        snapshots: Mapping[LegRef, PositionSnapshot],
        plan: Mapping[str, tuple[Side, Decimal]],
        reason: str,
        *,
        action_id: str,
    ) -> ReduceResult:
        """Send the reduction `plan` (venue → side, quantity) through the close policy; see `CloseExecutor.reduce`."""
        return await self.closer.reduce(position.id, snapshots, plan, reason, action_id=action_id)

    async def record_reduction(
        self, position_id: str, shed: Mapping[str, Decimal], *, level: str | None = None, action_id: str | None = None
    ) -> PositionRecord:
        """Store a partial reduction: each leg's size less what was shed there, notional scaled to match.

        Once per `action_id`: a resumed action that recorded its reduction before a crash does not shed it twice.
        """
        position = await self.reload(position_id)
        if action_id is not None and any(r.action_id == action_id for r in position.state.reductions):
            return position
        legs = tuple(
            attrs.evolve(
                leg,
                quantity=max(ZERO, leg.quantity - shed.get(leg.venue, ZERO)),
                filled_quantity=max(ZERO, leg.filled_quantity - shed.get(leg.venue, ZERO)),
            )
            for leg in position.legs
        )
        before = max((leg.filled_quantity for leg in position.legs), default=ZERO)
        after = max((leg.filled_quantity for leg in legs), default=ZERO)
        notional = position.notional_usd * after / before if before else position.notional_usd
        reductions = (*position.state.reductions, Reduction(dict(shed), level, action_id))
        position = await self.store.positions.update(
            attrs.evolve(position, legs=legs, notional_usd=notional, state=position.state.update(reductions=reductions))
        )
        await self.record(
            PositionReduced(
                position_id=position.id, symbol=position.symbol, shed=dict(shed), level=level, action_id=action_id
            )
        )
        logger.bind(position=position.id).info("reduced by {}", {k: str(v) for k, v in shed.items()})
        return position


def _avg(result: AtomicResult, venue: str) -> Decimal | None:
    for r in (*result.results, *result.hedges):
        if r.spec.venue == venue and r.avg_price is not None:
            return r.avg_price
    return None
