"""The bot: wires config, plugins, store, venues and clock; scans, opens, monitors, closes; shuts down cleanly.

Every decision that matters is in the store before it acts: a position is created (OPENING) before its orders are
sent, marked CLOSING (with its close attempt number) before any close order, and each order's intent is journalled
before it is sent. Client order ids derive from those ids and attempts, so after a crash the same orders are asked
for by id — a venue refuses the duplicate and the executor adopts what is there. Nothing is sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import attrs
from loguru import logger

from fundarb_core.actions import ActionContext, ActionFailed, ActionRunner, RunReport, as_plan
from fundarb_core.actions.handler import Checkpoint
from fundarb_core.app.journal import StoreJournal
from fundarb_core.clock import Clock
from fundarb_core.config import Config
from fundarb_core.errors import ConfigError, VenueError
from fundarb_core.events import Event, EventKind
from fundarb_core.execution import (
    AtomicExecutor,
    AtomicResult,
    CloseExecutor,
    LegRef,
    OrderExecutor,
    OrderSpec,
    Urgency,
)
from fundarb_core.model import ExitReason, PositionStatus, Side
from fundarb_core.model.records import ActionStatus, ControlCommand, PositionRecord
from fundarb_core.plugins import Plugins
from fundarb_core.store import Store
from fundarb_core.strategy.pnl import PnL, pnl_from
from fundarb_core.strategy.risk import ExitDecision, PlanContext, PositionView, RiskManager, legacy_should_exit
from fundarb_core.strategy.scanner import Opportunity, Scanner
from fundarb_core.venues import FundingRate, Instrument, PositionSnapshot, Rounding, Venue, VenueContext

__all__ = ["Bot", "build_venues"]

ZERO = Decimal(0)
CRITICAL = {ExitReason.LEG_LIQUIDATED, ExitReason.LIQUIDATION_RISK, ExitReason.SEVERE_IMBALANCE, ExitReason.MAX_LOSS}


def build_venues(config: Config, plugins: Plugins, context: VenueContext) -> dict[str, Venue]:
    """Build every configured venue through its registered factory."""
    venues: dict[str, Venue] = {}
    for name, section in config.venues.items():
        registration = plugins.registry.get("venues", section.kind)
        venues[name] = registration.factory(name, section.config, context)
    return venues


def _policy(config: Config, plugins: Plugins) -> Any:
    section = config.close_policy
    kind = section.kind if section is not None else "maker_first"
    if ("close_policies", kind) not in plugins.registry:
        raise ConfigError([f"close_policy.kind: close policy {kind!r} is not installed{plugins.broken_hint()}"])
    registration = plugins.registry.get("close_policies", kind)
    settings = (
        section.config if section is not None else (registration.config_cls() if registration.config_cls else None)
    )
    return registration.factory(settings, config.strategy.limit_offset_bps)


def _risk_manager(config: Config, plugins: Plugins) -> RiskManager | None:
    section = config.risk_manager
    if section is None:
        return None
    manager: RiskManager = plugins.registry.get("risk_managers", section.kind).factory(section.config)
    return manager


@attrs.define
class Tick:
    """What one monitor tick saw, for the live view and tests."""

    at: datetime
    opportunities: list[Opportunity] = attrs.field(factory=list)
    opened: list[str] = attrs.field(factory=list)
    closed: list[str] = attrs.field(factory=list)


class Bot:
    """One funding-arb bot over a store and a set of venues."""

    def __init__(
        self,
        config: Config,
        plugins: Plugins,
        clock: Clock,
        store: Store,
        venues: Mapping[str, Venue],
        instruments: Mapping[str, Mapping[str, Instrument]],
        *,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.config = config
        self.plugins = plugins
        self.clock = clock
        self.store = store
        self.venues = dict(venues)
        self.instruments = instruments
        self.orders = OrderExecutor(venues, instruments, clock, journal=StoreJournal(store), emit=self.emit)
        self.atomic = AtomicExecutor(self.orders, emit=self.emit)
        self.closer = CloseExecutor(
            self.orders, _policy(config, plugins), severe_imbalance=config.exit.severe_imbalance, emit=self.emit
        )
        self.risk = _risk_manager(config, plugins)
        self.scanner = Scanner(config.strategy, instruments)
        self.paused = False
        self.halted = False
        self.rates: dict[str, Mapping[str, FundingRate]] = {}
        self.last_tick: Tick | None = None
        self.opportunities: list[Opportunity] = []  # from the last scan
        self._tick_snapshots: dict[tuple[str, str], PositionSnapshot] = {}  # this tick's bulk snapshots
        self.events: list[Event] = []  # recent, for the live view
        self._funding_since: datetime | None = None
        self._recorded_payments: set[tuple[str, str]] = set()  # (venue, payment id) stored by this process
        self._tick: Tick | None = None
        self._open_lock = asyncio.Lock()  # reopens check limits and legs, then open: one at a time
        self.runner = self._runner(checkpoint) if config.actions.enabled else None
        self.last_actions: RunReport | None = None

    def _runner(self, checkpoint: Checkpoint | None) -> ActionRunner:
        context = ActionContext(
            clock=self.clock,
            store=self.store,
            venues=self.venues,
            config=self.config,
            plugins=self.plugins,
            trader=self,
            emit=self.emit,
        )
        if checkpoint is not None:
            context.checkpoint = checkpoint
        return ActionRunner(context, owner="bot")  # settings: the config's [actions]

    @classmethod
    async def create(
        cls,
        config: Config,
        plugins: Plugins,
        clock: Clock,
        store: Store,
        context: VenueContext,
        *,
        checkpoint: Checkpoint | None = None,
    ) -> Bot:
        venues = build_venues(config, plugins, context)
        instruments = {name: dict(await v.load_instruments()) for name, v in venues.items()}
        return cls(config, plugins, clock, store, venues, instruments, checkpoint=checkpoint)

    # -- events ------------------------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        self.events.append(event)
        del self.events[:-50]
        self.plugins.emit(event)

    async def _record(self, kind: str, data: Mapping[str, Any], position_id: str | None = None) -> None:
        await self.store.events.append(kind, dict(data), position_id=position_id)
        self.emit(Event(kind, self.clock.now(), dict(data, position_id=position_id)))

    # -- rates and scanning ------------------------------------------------------------------------------------

    async def fetch_rates(self) -> dict[str, Mapping[str, FundingRate]]:
        async def one(name: str, venue: Venue) -> tuple[str, Mapping[str, FundingRate]]:
            try:
                return name, await self.orders.call("rates", lambda: venue.fetch_funding_rates())
            except VenueError as exc:
                logger.bind(venue=name).warning("funding rates unavailable: {}", exc)
                return name, self.rates.get(name, {})

        results = await asyncio.gather(*(one(n, v) for n, v in self.venues.items()))
        self.rates = dict(results)
        return self.rates

    def spread(self, symbol: str, long_venue: str, short_venue: str) -> Decimal | None:
        try:
            return self.rates[short_venue][symbol].hourly - self.rates[long_venue][symbol].hourly
        except KeyError:
            return None

    # -- opening -----------------------------------------------------------------------------------------------

    def _quantity(self, opp: Opportunity, size_usd: Decimal | None = None) -> Decimal | None:
        cfg = self.config.strategy
        long_i = self.instruments[opp.long_venue][opp.symbol]
        short_i = self.instruments[opp.short_venue][opp.symbol]
        step = max(long_i.step_size, short_i.step_size)
        size = min(size_usd or cfg.position_size_usd, cfg.max_position_usd)
        qty = (size / opp.mark / step).to_integral_value(rounding=Rounding.DOWN.value) * step
        if qty < max(long_i.min_qty_at(opp.mark), short_i.min_qty_at(opp.mark)):
            return None
        return qty

    def _venue_exposure(self, positions: list[PositionRecord]) -> dict[str, Decimal]:
        exposure: dict[str, Decimal] = {}
        for p in positions:
            for venue in (p.long_venue, p.short_venue):
                exposure[venue] = exposure.get(venue, ZERO) + p.notional_usd
        return exposure

    async def open_new(self, opportunities: list[Opportunity], tick: Tick) -> None:
        cfg = self.config.strategy
        open_positions = await self.store.positions.list_open()
        # A venue nets positions per symbol, so each (venue, symbol) may carry one leg; a symbol may still be
        # traded on several disjoint venue pairs at once.
        busy = {(v, p.symbol) for p in open_positions for v in (p.long_venue, p.short_venue)}
        exposure = self._venue_exposure(open_positions)
        reserved = await self._reserved_slots()
        new = 0
        for opp in opportunities:
            if new >= cfg.max_new_per_tick or len(open_positions) + new + reserved >= cfg.max_positions:
                break
            qty = self._admissible(opp, busy, exposure)
            if qty is None:
                continue
            busy |= {(opp.long_venue, opp.symbol), (opp.short_venue, opp.symbol)}
            position = await self.open_position(opp, qty)
            if position is not None and position.status is PositionStatus.OPEN:
                new += 1
                tick.opened.append(position.id)
                for v in (opp.long_venue, opp.short_venue):
                    exposure[v] = exposure.get(v, ZERO) + qty * opp.mark

    def _admissible(
        self,
        opp: Opportunity,
        busy: set[tuple[str, str]],
        exposure: Mapping[str, Decimal],
        size_usd: Decimal | None = None,
    ) -> Decimal | None:
        """The quantity to open `opp` with, or None when a leg's (venue, symbol) is taken, the size is below the
        venues' minimum, or either venue would go over `max_venue_usd`."""
        if {(opp.long_venue, opp.symbol), (opp.short_venue, opp.symbol)} & busy:
            return None
        qty = self._quantity(opp, size_usd)
        if qty is None:
            return None
        notional = qty * opp.mark
        limit = self.config.strategy.max_venue_usd
        if any(exposure.get(v, ZERO) + notional > limit for v in (opp.long_venue, opp.short_venue)):
            return None
        return qty

    async def open_position(
        self,
        opp: Opportunity,
        qty: Decimal,
        *,
        position_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> PositionRecord | None:
        """Record the position (OPENING) first, set leverage, open both legs at once, record the outcome."""
        cfg = self.config.strategy
        now = self.clock.now()
        record = await self.store.positions.create(
            id=position_id,
            symbol=opp.symbol,
            long_venue=opp.long_venue,
            short_venue=opp.short_venue,
            long_quantity=qty,
            short_quantity=qty,
            notional_usd=qty * opp.mark,
            status=PositionStatus.OPENING,
            entry_spread=opp.spread,
            details={"net_apr": str(opp.net_apr), "close_attempt": 0, **dict(details or {})},
        )
        try:
            for venue_name in (opp.long_venue, opp.short_venue):
                leverage = min(cfg.leverage, self.instruments[venue_name][opp.symbol].max_leverage)
                await self.orders.call("leverage", partial(self.venues[venue_name].set_leverage, opp.symbol, leverage))
        except VenueError as exc:
            self.scanner.note_failed_entry(opp.symbol, now)
            await self.store.positions.update(attrs.evolve(record, status=PositionStatus.FAILED))
            await self._record(EventKind.OPEN_FAILED, {"symbol": opp.symbol, "error": str(exc)}, record.id)
            return None
        specs = [
            OrderSpec(
                venue=name, symbol=opp.symbol, side=side, quantity=qty, intent_id=f"{record.id}:open:{name}",
                limit_offset_bps=cfg.limit_offset_bps, timeout=cfg.open_timeout, position_id=record.id,
            )
            for name, side in ((opp.long_venue, Side.BUY), (opp.short_venue, Side.SELL))
        ]  # fmt: skip
        result = await self.atomic.open(specs)
        record = await self._reload(record.id)
        filled = dict(zip((opp.long_venue, opp.short_venue), result.quantities, strict=True))
        legs = tuple(
            attrs.evolve(leg, filled_quantity=filled[leg.venue], entry_price=_avg(result, leg.venue))
            for leg in record.legs
        )
        if result.flat:
            self.scanner.note_failed_entry(opp.symbol, now)
            status = PositionStatus.FAILED
        else:
            status = PositionStatus.OPEN  # an unbalanced open is caught by the closer as a severe imbalance
        record = await self.store.positions.update(
            attrs.evolve(record, status=status, legs=legs, opened_at=self.clock.now() if not result.flat else None)
        )
        kind = EventKind.POSITION_OPENED if status is PositionStatus.OPEN else EventKind.OPEN_FAILED
        await self._record(
            kind,
            {"symbol": opp.symbol, "long": opp.long_venue, "short": opp.short_venue, "qty": str(qty),
             "net_apr": str(opp.net_apr), "error": result.error, **result.telemetry.as_dict()},
            record.id,
        )  # fmt: skip
        return record

    async def _reserved_slots(self) -> int:
        """Slots held for plans' pending reopens: the scanner does not take the place a plan will reopen into."""
        if self.runner is None:
            return 0
        pending = await self.store.actions.list(
            statuses=[ActionStatus.PENDING, ActionStatus.WAITING, ActionStatus.AWAITING_APPROVAL]
        )
        return sum(1 for a in pending if a.action_type == "open_position")

    async def open_for_action(
        self,
        position_id: str,
        *,
        pair: tuple[str, str, str] | None = None,
        size_usd: Decimal | None = None,
        exclude: tuple[str, str, str] | None = None,
    ) -> PositionRecord | str:
        """Open the chosen pair, or the best opportunity now, under `position_id` (an action's reopen).

        The same limits as the scanner's opens apply. Returns the position, or why nothing was opened.
        """
        async with self._open_lock:
            return await self._open_for_action(position_id, pair=pair, size_usd=size_usd, exclude=exclude)

    async def _open_for_action(
        self,
        position_id: str,
        *,
        pair: tuple[str, str, str] | None,
        size_usd: Decimal | None,
        exclude: tuple[str, str, str] | None,
    ) -> PositionRecord | str:
        if self.paused or self.halted:
            return "the bot is paused"
        await self.fetch_rates()
        cfg = self.config.strategy
        open_positions = await self.store.positions.list_open()
        if len(open_positions) >= cfg.max_positions:
            return f"already {len(open_positions)} open positions (strategy.max_positions)"
        busy = {(v, p.symbol) for p in open_positions for v in (p.long_venue, p.short_venue)}
        exposure = self._venue_exposure(open_positions)
        for opp in self.scanner.scan(self.rates, self.clock.now()):
            if (pair is not None and opp.pair != pair) or (exclude is not None and opp.pair == exclude):
                continue
            qty = self._admissible(opp, busy, exposure, size_usd)
            if qty is None:
                continue
            await self.open_position(opp, qty, position_id=position_id, details={"opened_by_action": True})
            return await self._reload(position_id)
        if pair is not None:
            return f"{' '.join(pair)} is not an opportunity now (or its legs or limits are taken)"
        return "no opportunity qualifies now"

    async def record_reduction(
        self, position_id: str, shed: Mapping[str, Decimal], *, level: str | None = None, action_id: str | None = None
    ) -> PositionRecord:
        """Store a partial reduction: each leg's size less what was shed there, notional scaled to match.

        Once per `action_id`: a resumed action that recorded its reduction before a crash does not shed it twice.
        """
        position = await self._reload(position_id)
        if action_id is not None and any(
            isinstance(r, dict) and r.get("action_id") == action_id for r in position.details.get("reductions", [])
        ):
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
        reductions = [
            *position.details.get("reductions", []),
            {"level": level, "shed": dict(shed), "action_id": action_id},
        ]
        position = await self.store.positions.update(
            attrs.evolve(
                position, legs=legs, notional_usd=notional, details={**position.details, "reductions": reductions}
            )
        )
        await self._record(
            EventKind.POSITION_REDUCED,
            {"symbol": position.symbol, "shed": {k: str(v) for k, v in shed.items()}, "level": level},
            position.id,
        )
        return position

    async def _reload(self, position_id: str) -> PositionRecord:
        record = await self.store.positions.get(position_id)
        assert record is not None
        return record

    # -- monitoring and closing --------------------------------------------------------------------------------

    async def _bulk_snapshots(self, positions: list[PositionRecord]) -> dict[tuple[str, str], PositionSnapshot]:
        """One request per venue for every leg on it, where the venue offers the bulk call (others: per leg)."""
        wanted: dict[str, set[str]] = {}
        for p in positions:
            for venue_name in (p.long_venue, p.short_venue):
                wanted.setdefault(venue_name, set()).add(p.symbol)

        async def one(name: str, symbols: set[str]) -> dict[tuple[str, str], PositionSnapshot]:
            bulk = getattr(self.venues[name], "get_position_snapshots", None)
            if bulk is None:
                return {}
            try:
                got = await self.orders.call("snapshots", partial(bulk, sorted(symbols)))
            except VenueError as exc:
                logger.bind(venue=name).warning("bulk snapshots unavailable: {}", exc)
                return {}
            return {(name, symbol): snap for symbol, snap in got.items()}

        out: dict[tuple[str, str], PositionSnapshot] = {}
        for part in await asyncio.gather(*(one(n, s) for n, s in wanted.items())):
            out.update(part)
        return out

    async def snapshots(self, position: PositionRecord) -> dict[str, PositionSnapshot] | None:
        cached = self._tick_snapshots
        pair = [(position.long_venue, position.symbol), (position.short_venue, position.symbol)]
        if all(key in cached for key in pair):
            return {venue: cached.pop((venue, symbol)) for venue, symbol in pair}  # used once: later calls go live
        legs = [LegRef(position.long_venue, position.symbol), LegRef(position.short_venue, position.symbol)]
        snaps, unreachable = await self.closer.snapshots(legs)
        if unreachable:
            return None
        return {leg.venue: snap for leg, snap in snaps.items()}

    def view(
        self, position: PositionRecord, snaps: Mapping[str, PositionSnapshot], best: set[tuple[str, str, str]]
    ) -> PositionView | None:
        """What the risk manager sees of `position` now (None without both venues' funding rates)."""
        current = self.spread(position.symbol, position.long_venue, position.short_venue)
        if current is None:
            return None
        return PositionView(
            position=position,
            now=self.clock.now(),
            entry_spread=position.entry_spread or ZERO,
            current_spread=current,
            rates={v: self.rates[v][position.symbol] for v in (position.long_venue, position.short_venue)},
            snapshots=dict(snaps),
            best_opportunity_spread=current
            if (position.symbol, position.long_venue, position.short_venue) in best
            else None,
        )

    def evaluate(
        self, position: PositionRecord, snaps: Mapping[str, PositionSnapshot], best: set[tuple[str, str, str]]
    ) -> ExitDecision:
        """The closer's decision for one position (see ARCHITECTURE §6)."""
        cfg = self.config.exit
        long_snap, short_snap = snaps[position.long_venue], snaps[position.short_venue]
        if position.status is PositionStatus.CLOSING or position.status is PositionStatus.CLOSE_FAILED:
            return ExitDecision(True, position.exit_reason or ExitReason.MANUAL, "resuming a close")
        if long_snap.quantity == 0 or short_snap.quantity == 0:
            return ExitDecision(True, ExitReason.LEG_LIQUIDATED, "a leg is gone")
        for snap in (long_snap, short_snap):
            distance = snap.liquidation_distance()
            if distance is not None and distance < cfg.liquidation_distance:
                return ExitDecision(True, ExitReason.LIQUIDATION_RISK, f"liquidation distance {distance:.3f}")
        sizes = abs(long_snap.quantity), abs(short_snap.quantity)
        if (max(sizes) - min(sizes)) / max(sizes) > cfg.severe_imbalance:
            return ExitDecision(True, ExitReason.SEVERE_IMBALANCE, f"legs {sizes}")
        now = self.clock.now()
        opened = position.opened_at or position.created_at
        if now - opened < cfg.min_hold:
            return ExitDecision.stay()
        view = self.view(position, snaps, best)
        if view is None:
            return ExitDecision.stay()
        if self.risk is not None:
            try:
                return self.risk.should_exit(view)
            except Exception as exc:  # a plugin's bug must not stop risk management
                logger.opt(exception=exc).error("risk manager failed; using the legacy heuristics")
        decision = legacy_should_exit(view, erosion_threshold=cfg.erosion_threshold, max_age=cfg.max_age)
        if decision.reason is ExitReason.PROFIT_EROSION and view.best_opportunity_spread is not None:
            return ExitDecision.stay()  # erosion hold guard: this very pair is still the best opportunity
        return decision

    async def close_position(self, position: PositionRecord, reason: ExitReason, urgency: Urgency) -> PositionRecord:
        """Mark CLOSING (with the attempt number) before any order, close from live snapshots, record the outcome."""
        attempt = int(position.details.get("close_attempt", 0))
        if position.status is not PositionStatus.CLOSING:
            attempt += 1  # a CLOSING position is a close interrupted by a crash: same attempt, same order ids
        position = await self.store.positions.update(
            attrs.evolve(
                position,
                status=PositionStatus.CLOSING,
                exit_reason=position.exit_reason or reason,
                details={**position.details, "close_attempt": attempt, "urgency": urgency.value},
            )
        )
        legs = [LegRef(position.long_venue, position.symbol), LegRef(position.short_venue, position.symbol)]
        result = await self.closer.close(position.id, legs, reason.value, urgency, attempt=attempt)
        position = await self._reload(position.id)
        if result.closed:
            pnl = await self.pnl(position.id)
            position = await self.store.positions.update(
                attrs.evolve(
                    position,
                    status=PositionStatus.CLOSED,
                    closed_at=self.clock.now(),
                    realized_pnl=pnl.net,
                    details={**position.details, **pnl.as_dict(), "emergency": result.emergency},
                )
            )
            await self._record(
                EventKind.POSITION_CLOSED,
                {"symbol": position.symbol, "reason": reason.value, **pnl.as_dict(), **result.telemetry.as_dict()},
                position.id,
            )
            if self._tick is not None:
                self._tick.closed.append(position.id)
        else:
            exposure = {f"{k.venue}:{k.symbol}": str(v) for k, v in result.open_exposure.items()}
            position = await self.store.positions.update(
                attrs.evolve(
                    position,
                    status=PositionStatus.CLOSE_FAILED,
                    details={**position.details, "open_exposure": exposure},
                )
            )
            await self._record(
                EventKind.CLOSE_FAILED, {"symbol": position.symbol, "open_exposure": exposure}, position.id
            )
        return position

    async def pnl(self, position_id: str) -> PnL:
        await self.record_funding()
        orders = await self.store.orders.list(position_id=position_id)
        funding = await self.store.funding.list(position_id=position_id)
        return pnl_from(orders, funding)

    async def record_funding(self) -> None:
        """Store venue funding payments against the open position they belong to (idempotent by payment id)."""
        # Open positions only: a closing position records its funding (in `pnl`) before it is marked closed.
        positions = await self.store.positions.list_open()
        owner: dict[tuple[str, str], list[PositionRecord]] = {}
        for p in positions:
            for leg_venue in (p.long_venue, p.short_venue):
                owner.setdefault((leg_venue, p.symbol), []).append(p)
        since = self._funding_since or min((p.created_at for p in positions), default=self.clock.now())
        for name, venue in self.venues.items():
            try:
                payments = await self.orders.call("funding", partial(venue.fetch_funding_payments, None, since))
            except VenueError as exc:
                logger.bind(venue=name).warning("funding payments unavailable: {}", exc)
                continue
            for payment in payments:
                if (name, payment.payment_id) in self._recorded_payments:
                    continue  # stored by an earlier tick (the window overlaps): adding it again changes nothing
                candidates = [
                    p
                    for p in owner.get((name, payment.symbol), [])
                    if p.created_at <= payment.at  # from the first order sent: a leg may fill before the other
                    and (p.closed_at is None or payment.at <= p.closed_at)
                ]
                await self.store.funding.add(
                    venue=name,
                    venue_payment_id=payment.payment_id,
                    symbol=payment.symbol,
                    amount=payment.amount,
                    at=payment.at,
                    rate=payment.rate,
                    position_id=candidates[0].id if candidates else None,
                )
                self._recorded_payments.add((name, payment.payment_id))
        self._funding_since = self.clock.now() - timedelta(hours=1)

    async def evaluate_and_close_positions(self, tick: Tick) -> None:
        positions = await self.store.positions.list_open()
        self._tick_snapshots = await self._bulk_snapshots(positions)
        best = Scanner.best_pairs(self.rates)  # for the erosion hold guard: is this pair still the best for its symbol
        marks: list[PositionRecord] = []  # positions that stay open: their marks are written in one transaction
        try:
            await self._evaluate_all(positions, best, tick, marks)
        finally:
            await self.store.positions.update_many(marks)

    async def _planned_positions(self) -> dict[str, str]:
        """Positions whose plan has an unfinished close (that plan carries out their exit) or reduction (one
        reduction at a time). An unfinished reduction does not hold back an exit: the exit's plan is journalled
        too, the runner never runs both at once on one position, and whichever runs second finds the position
        smaller (the close closes what is left) or closed (the reduction fails, harmlessly)."""
        if self.runner is None:
            return {}
        unfinished = await self.store.actions.list(
            statuses=[ActionStatus.PENDING, ActionStatus.RUNNING, ActionStatus.WAITING, ActionStatus.AWAITING_APPROVAL]
        )
        planned: dict[str, str] = {}
        for a in unfinished:
            if a.position_id is None or a.action_type not in ("close_position", "reduce_size"):
                continue
            if planned.get(a.position_id) != "close_position":  # an unfinished close wins over a reduction
                planned[a.position_id] = a.action_type
        return planned

    async def _evaluate_all(
        self, positions: list[PositionRecord], best: set[tuple[str, str, str]], tick: Tick, marks: list[PositionRecord]
    ) -> None:
        planned = await self._planned_positions() if positions else {}
        for position in positions:
            if position.status is PositionStatus.OPENING:
                continue  # being opened now, or interrupted: start-up reconciliation handles it
            snaps = await self.snapshots(position)
            if snaps is None:
                continue  # a venue cannot be seen: closing one side blind could leave us naked; retry next tick
            decision = self.evaluate(position, snaps, best)
            if not decision.exit or decision.reason is None:
                marks.append(self._with_marks(position, snaps))
                if decision.reduce is not None and position.id not in planned:
                    await self.submit_plan(position, snaps, best, decision)
                continue
            critical = decision.reason in CRITICAL or position.status is not PositionStatus.OPEN
            if planned.get(position.id) == "close_position" and not critical:
                continue  # its plan is carrying the exit out
            if not critical and await self._spread_too_wide(position):
                logger.bind(position=position.id).info("exit {} deferred: book spread too wide", decision.reason)
                continue
            if not critical and await self.submit_plan(position, snaps, best, decision):
                continue  # the runner closes it (this tick) as the plan's first step
            if decision.reason in (ExitReason.LEG_LIQUIDATED, ExitReason.SEVERE_IMBALANCE):
                urgency = Urgency.EMERGENCY
            else:
                urgency = Urgency.URGENT if critical else Urgency.NORMAL
            position = await self._reload(position.id)
            closed = await self.close_position(position, decision.reason, urgency)
            if closed.status is PositionStatus.CLOSED and planned.get(position.id) != "close_position":
                # Closed at once (a critical exit, or no plan): the plan may still move funds or reopen.
                await self.submit_plan(closed, snaps, best, decision, closed=True)

    async def submit_plan(
        self,
        position: PositionRecord,
        snaps: Mapping[str, PositionSnapshot],
        best: set[tuple[str, str, str]],
        decision: ExitDecision,
        *,
        closed: bool = False,
    ) -> bool:
        """Ask the risk manager for the plan after `decision` and journal it; False when there is none to run."""
        if self.runner is None or self.risk is None:
            if decision.reduce is not None:
                logger.bind(position=position.id).info("reduce asked, but the action runner is off: staying")
            return False
        view = self.view(position, snaps, best) or PositionView(
            position=position, now=self.clock.now(), entry_spread=position.entry_spread or ZERO,
            current_spread=ZERO, rates={}, snapshots=dict(snaps),
        )  # fmt: skip
        reason = decision.reason or ExitReason.REBALANCE
        context = PlanContext(decision, tuple(self.venues), tuple(self.config.transfers), closed)
        try:
            plan = as_plan(self.risk.generate_actions(view, reason, context))
            plan.planned("check")  # a malformed plan (a key twice, an unknown `after`) is refused here, whole
        except Exception as exc:  # a plugin's bug must not stop the exit: close now, as without a plan
            logger.opt(exception=exc).error("risk manager failed to build a plan; closing without one")
            return False
        if not plan:
            return False
        closes = any(a.action_type == "close_position" and a.position_id == position.id for a in plan.actions)
        if decision.exit and not closed and not closes:
            # An exit's plan must close the position; one that does not runs after the bot closed it itself.
            logger.bind(position=position.id).warning("the exit plan does not close the position: closing first")
            return False
        try:
            records = await self.runner.submit(plan)
        except (ActionFailed, ValueError, TypeError) as exc:
            logger.bind(position=position.id).error("plan refused ({}); closing without it", exc)
            return False
        logger.bind(position=position.id).info(
            "exit {}: plan {} ({})", reason.value, records[0].plan_id, " → ".join(r.action_type for r in records)
        )
        return True

    async def run_actions(self) -> RunReport | None:
        """Run the journalled actions that are due (plans submitted this tick run now)."""
        if self.runner is None:
            return None
        self.last_actions = await self.runner.run_due()
        return self.last_actions

    def _with_marks(self, position: PositionRecord, snaps: Mapping[str, PositionSnapshot]) -> PositionRecord:
        """The position with this tick's marks, funding accrued, liquidation distance and current spread."""
        current = self.spread(position.symbol, position.long_venue, position.short_venue)
        details = {
            **position.details,
            "marks": {v: str(s.mark_price) for v, s in snaps.items()},
            "funding_accrued": {v: str(s.funding_accrued) for v, s in snaps.items()},
            "liquidation_distance": {v: str(s.liquidation_distance()) for v, s in snaps.items()},
            "unrealized_pnl": str(sum((s.unrealized_pnl for s in snaps.values()), ZERO)),
            "current_spread": str(current) if current is not None else None,
        }
        return attrs.evolve(position, details=details)

    async def _spread_too_wide(self, position: PositionRecord) -> bool:
        for venue_name in (position.long_venue, position.short_venue):
            try:
                bbo = await self.venues[venue_name].fetch_bbo_prices(position.symbol)
            except VenueError:
                return True
            if (bbo.ask - bbo.bid) / bbo.mid > self.config.exit.wide_spread:
                return True
        return False

    # -- control, kill switch, reconciliation ------------------------------------------------------------------

    async def apply_control(self) -> None:
        for command in await self.store.control.consume():
            logger.info("operator command: {}", command.command)
            if command.command is ControlCommand.PAUSE:
                self.paused = True
            elif command.command is ControlCommand.RESUME:
                self.paused = False
            elif command.command is ControlCommand.HALT:
                self.halted = True
            await self._record(EventKind.ALERT, {"alert": "operator", "command": command.command.value})

    async def check_max_loss(self) -> None:
        limit = self.config.bot.max_loss_usd
        if limit is None or self.paused:
            return
        closed = await self.store.positions.list(statuses=[PositionStatus.CLOSED])
        realized = sum((p.realized_pnl or ZERO for p in closed), ZERO)
        unrealized = ZERO
        for p in await self.store.positions.list_open():
            unrealized += Decimal(str(p.details.get("unrealized_pnl") or 0))
        if realized + unrealized <= -limit:
            self.paused = True
            await self._record(
                EventKind.ALERT,
                {"alert": "max_loss", "realized": str(realized), "unrealized": str(unrealized), "limit": str(limit)},
            )
            for position in await self.store.positions.list_open():
                if position.status is not PositionStatus.OPENING:
                    await self.close_position(position, ExitReason.MAX_LOSS, Urgency.URGENT)

    async def reconcile_orders(self) -> list[str]:
        """Ask the venues, by client order id, about every order the store has no final outcome for.

        A live order left by a crash is cancelled (nothing may rest unmanaged: it could fill later, unhedged) and
        its final state recorded, fills included. An intent the venue never saw stays as it is: the action that
        made it re-asks for the same id when it resumes.
        """
        report = []
        for order in await self.store.orders.list_unfinished():
            venue = self.venues.get(order.venue)
            if venue is None:
                report.append(f"order {order.client_order_id} on {order.venue}: venue not configured")
                continue
            cid, symbol = order.client_order_id, order.symbol
            try:
                state = await self.orders.call("reconcile", partial(venue.get_order, symbol, cid))
                if state is not None and not state.status.final:
                    state = await self.orders.call("cancel", partial(venue.cancel_order, symbol, cid))
            except VenueError as exc:
                report.append(f"order {cid} on {order.venue}: cannot reconcile now ({exc})")
                continue
            if state is None:
                continue
            await self.orders.journal.record_state(state)
            report.append(f"order {cid} on {order.venue}: {state.status.value}, filled {state.filled_qty}")
        return report

    async def reconcile_startup(self) -> list[str]:
        """Compare the store with the venues: settle orders left unfinished, finish interrupted opens, flag what
        does not match. Returns a report."""
        report = await self.reconcile_orders()
        for position in await self.store.positions.list_open():
            snaps = await self.snapshots(position)
            if snaps is None:
                report.append(f"{position.id} {position.symbol}: a venue is unreachable; will retry")
                continue
            qty = {v: s.quantity for v, s in snaps.items()}
            if position.status is PositionStatus.OPENING:
                if all(q == 0 for q in qty.values()):
                    await self.store.positions.update(attrs.evolve(position, status=PositionStatus.FAILED))
                    report.append(f"{position.id} {position.symbol}: interrupted open left nothing; marked failed")
                else:
                    await self.store.positions.update(
                        attrs.evolve(position, status=PositionStatus.OPEN, opened_at=position.created_at)
                    )
                    report.append(f"{position.id} {position.symbol}: interrupted open adopted ({qty})")
            elif position.status is PositionStatus.CLOSING:
                report.append(f"{position.id} {position.symbol}: interrupted close will resume ({qty})")
            else:
                report.append(f"{position.id} {position.symbol}: {position.status.value} ({qty})")
        known = {(p.long_venue, p.symbol) for p in await self.store.positions.list_open()}
        known |= {(p.short_venue, p.symbol) for p in await self.store.positions.list_open()}
        for name, venue in self.venues.items():
            for symbol in self.instruments[name]:
                if (name, symbol) in known:
                    continue
                try:
                    snap = await venue.get_position_snapshot(symbol)
                except VenueError:
                    continue
                if snap.quantity != 0:
                    report.append(f"untracked position on {name}: {symbol} {snap.quantity} (not managed by fundarb)")
        for line in report:
            logger.info("reconcile: {}", line)
        return report

    # -- the loop ----------------------------------------------------------------------------------------------

    async def tick(self, *, scan: bool) -> Tick:
        tick = self._tick = Tick(self.clock.now())
        await self.apply_control()
        await self.fetch_rates()
        if scan:
            tick.opportunities = self.opportunities = self.scanner.scan(self.rates, self.clock.now())
        await self.evaluate_and_close_positions(tick)
        await self.run_actions()
        await self.record_funding()
        await self.check_max_loss()
        if scan and not self.paused and not self.halted:
            await self.open_new(tick.opportunities, tick)
        self.last_tick = tick
        return tick

    async def run(
        self,
        *,
        duration: timedelta | None = None,
        stop: asyncio.Event | None = None,
        on_tick: Callable[[Tick, float], Any] | None = None,
    ) -> None:
        """Tick until `duration` passes, `stop` is set or an operator halts; then close venues cleanly."""
        stop = stop or asyncio.Event()
        started = self.clock.monotonic()
        cfg = self.config.strategy
        interval = min(cfg.monitor_interval, cfg.scan_interval).total_seconds()
        next_scan = 0.0
        await self.reconcile_startup()
        if self.runner is not None:
            await self.runner.resume()
        while not stop.is_set() and not self.halted:
            elapsed = self.clock.monotonic() - started
            if duration is not None and elapsed >= duration.total_seconds():
                break
            scan = elapsed >= next_scan
            if scan:
                next_scan = elapsed + cfg.scan_interval.total_seconds()
            tick = await self.tick(scan=scan)
            if on_tick is not None:
                on_tick(tick, elapsed)
            await self.clock.sleep(interval)
        await self.shutdown()

    async def shutdown(self) -> None:
        await self.orders.aclose()
        for venue in self.venues.values():
            await venue.close()


def _avg(result: AtomicResult, venue: str) -> Decimal | None:
    for r in (*result.results, *result.hedges):
        if r.spec.venue == venue and r.avg_price is not None:
            return r.avg_price
    return None
