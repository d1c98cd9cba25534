"""The bot: wires config, plugins, store, venues and clock into the strategy, and runs the loop.

What each tick does lives below it — the scanner, opener, monitor, closer and reconciliation in `strategy`, a
position's lifecycle and the event recorder in `positions`, orders in `execution`. Here: the wiring, the operator's
control commands, the kill switch, and the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs
from loguru import logger

from fundarb_core.actions import ActionContext, ActionRunner, RunReport
from fundarb_core.actions.handler import Checkpoint
from fundarb_core.app._liquidations import LiquidationWatch
from fundarb_core.app.wiring import build_venues, close_policy, risk_manager
from fundarb_core.clock import Clock
from fundarb_core.config import Config
from fundarb_core.events import Alert, Event, OperatorCommand, Severity
from fundarb_core.execution import AtomicExecutor, CloseExecutor, OrderExecutor, Urgency, VenueGateway
from fundarb_core.model import ExitReason, PositionStatus
from fundarb_core.model.records import ControlCommand, PositionRecord
from fundarb_core.plugins import Plugins
from fundarb_core.positions import EventRecorder, FundingLedger, PositionBook, StoreJournal
from fundarb_core.positions.losses import LossLedger, tripped
from fundarb_core.store import Store
from fundarb_core.strategy.closer import Closer
from fundarb_core.strategy.costs import CostModel
from fundarb_core.strategy.market import Market
from fundarb_core.strategy.monitor import Monitor
from fundarb_core.strategy.opener import Opener, Switches
from fundarb_core.strategy.reconcile import Reconciler
from fundarb_core.strategy.scanner import Opportunity, Scanner
from fundarb_core.strategy.signal import SpreadSignal
from fundarb_core.strategy.sizing import Sizer
from fundarb_core.venues import FundingRate, Instrument, Venue, VenueContext

__all__ = ["Bot", "Tick", "build_venues"]

T = TypeVar("T")


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
        self.config, self.plugins, self.clock, self.store = config, plugins, clock, store
        self.venues = dict(venues)
        self.instruments = instruments
        self.switches = Switches()
        self.recorder = EventRecorder(store, clock, plugins.emit)
        self.gateway = VenueGateway(self.venues, clock)
        journal = StoreJournal(store)
        self.orders = OrderExecutor(
            venues, instruments, clock, journal=journal, record=self.recorder, gateway=self.gateway
        )
        closer = CloseExecutor(
            self.orders, close_policy(config, plugins), severe_imbalance=config.exit.severe_imbalance
        )
        self.funding = FundingLedger(store, clock, self.gateway)
        self.losses = LossLedger(store, self.gateway, config.bot.collateral_usd)
        self.loss_tripped = False  # the kill switch fired: every tick closes what is still open
        # Each scan is stored for the dashboard and the API (`store.scans`); a backtest, which has neither, skips it.
        self.record_scans = True
        self.book = PositionBook(
            store, clock, self.gateway, instruments, AtomicExecutor(self.orders, record=self.recorder), closer,
            self.recorder, self.funding,
        )  # fmt: skip
        cfg = config.strategy
        self.market = Market(self.gateway, stale_after=max(timedelta(minutes=15), 2 * cfg.monitor_interval))
        self.signal = SpreadSignal(cfg.signal_window)
        self.costs = CostModel(
            cfg, instruments, close_market_only=_close_market_only(config), transfers=_plan_transfers(config)
        )
        self.scanner = Scanner(cfg, instruments, signal=self.signal, costs=self.costs)
        self.monitor = Monitor(self.gateway, self.market, self.signal)
        self.risk = risk_manager(config, plugins)
        self.opener = Opener(
            config.strategy, store, clock, self.market, self.scanner, Sizer(config.strategy, instruments), self.book,
            self.switches, plans=config.actions.enabled,
        )  # fmt: skip
        self.runner = self._runner(checkpoint) if config.actions.enabled else None
        self.closer = Closer(
            config, plugins.registry, store, clock, self.gateway, self.monitor, self.book, self.risk, self.runner
        )
        self.reconciler = Reconciler(store, self.gateway, journal, self.monitor, instruments)
        self.last_tick: Tick | None = None
        self.opportunities: list[Opportunity] = []  # from the last scan
        self.last_actions: RunReport | None = None
        self.faults: dict[str, int] = {}  # failed tick steps, by step, since start
        self._learnt_at: datetime | None = None

    def _runner(self, checkpoint: Checkpoint | None) -> ActionRunner:
        context = ActionContext(
            self.clock, self.store, self.venues, self.config, self.plugins, closer=self.book, reducer=self.book,
            opener=self.opener, gateway=self.gateway, recorder=self.recorder,
        )  # fmt: skip
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

    # -- state the live view and the CLI read ------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self.switches.paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self.switches.paused = value

    @property
    def halted(self) -> bool:
        return self.switches.halted

    @property
    def rates(self) -> dict[str, Mapping[str, FundingRate]]:
        return self.market.rates

    @property
    def events(self) -> Sequence[Event]:
        """The most recent events, oldest first."""
        return list(self.recorder.recent)

    async def fetch_rates(self) -> dict[str, Mapping[str, FundingRate]]:
        return await self.market.refresh()

    async def close_position(self, position: PositionRecord, reason: ExitReason, urgency: Urgency) -> PositionRecord:
        """Close `position` now, through the same path as the closer (the CLI's `fundarb close`, embedding)."""
        return await self.book.close(position, reason, urgency)

    # -- control and kill switch -------------------------------------------------------------------------------

    async def apply_control(self) -> None:
        for command in await self.store.control.consume():
            logger.info("operator command: {}", command.command)
            if command.command is ControlCommand.PAUSE:
                self.switches.paused = True
            elif command.command is ControlCommand.RESUME:
                self.switches.paused = False
            elif command.command is ControlCommand.HALT:
                self.switches.halted = True
            await self.recorder(OperatorCommand(command=command.command.value))

    async def check_max_loss(self) -> None:
        """The kill switch: once everything the positions made or lost (`positions.losses`: price PnL realised and
        unrealised, fees, funding) reaches −`max_loss_usd`, pause and close every open position."""
        limit = self.config.bot.max_loss_usd
        if limit is None:
            return  # an operator's pause does not turn the limit off: paused positions can still lose
        if not self.loss_tripped:
            account = await self.losses.account()
            if not tripped(account, limit):
                return
            self.loss_tripped = True
            self.switches.paused = True
            await self.recorder(
                Alert(
                    alert="max_loss", level=Severity.CRITICAL,
                    message=f"loss {account.net} reached the limit {limit}: closing everything, pausing",
                    details={**account.as_dict(), "limit": str(limit)},
                )
            )  # fmt: skip
        # Tripped: close every open position, this tick and every later one until none is left; one position's
        # failed close never keeps the others open.
        for position in await self.store.positions.list_open():
            if position.status is PositionStatus.OPENING:
                continue
            try:
                await self.book.close(position, ExitReason.MAX_LOSS, Urgency.URGENT)
            except Exception as exc:  # retried at the next tick
                logger.bind(position=position.id).opt(exception=exc).error("kill switch: close failed, retrying")

    # -- the loop ----------------------------------------------------------------------------------------------

    async def update_signal(self) -> None:
        """Seed new (venue, symbol) estimates from settled history, then fold this tick's rates in; warn about the
        market data excluded this tick (see `Market`)."""
        now = self.clock.now()
        for (venue, symbol), why in self.market.new_rejections.items():
            await self.recorder(
                Alert(
                    alert="bad_market_data", level=Severity.WARNING,
                    message=f"{venue} {symbol}: {why}; excluded this tick", details={"venue": venue, "symbol": symbol},
                )
            )  # fmt: skip
        listed: dict[str, int] = {}
        for venue_rates in self.rates.values():
            for symbol in venue_rates:
                listed[symbol] = listed.get(symbol, 0) + 1
        wanted = [
            (venue, symbol)
            for venue, venue_rates in self.rates.items()
            for symbol in venue_rates
            if listed[symbol] > 1 and (venue, symbol) not in self.signal.seeded
        ]
        if wanted:
            gate = asyncio.Semaphore(4)
            start = now - 3 * self.signal.window

            async def seed(venue_name: str, symbol: str) -> None:
                venue = self.venues.get(venue_name)
                history: Sequence[Any] = ()
                if venue is not None and venue.capabilities.funding_history:
                    try:
                        async with gate:
                            history = await venue.fetch_funding_history(symbol, start, now)  # type: ignore[attr-defined]
                    except Exception as exc:  # no history: the estimate starts from the quotes
                        logger.bind(venue=venue_name, symbol=symbol).info("no funding history to seed from: {}", exc)
                self.signal.seed(venue_name, symbol, history)

            await asyncio.gather(*(seed(v, s) for v, s in wanted))
        for venue_name, venue_hourly in self.market.hourly.items():
            self.signal.observe_hourly(venue_name, venue_hourly, now)

    async def learn_costs(self) -> None:
        """Relearn maker shares and slippage from the stored telemetry, at most every 6 hours."""
        now = self.clock.now()
        if self._learnt_at is not None and now - self._learnt_at < timedelta(hours=6):
            return
        self._learnt_at = now
        await self.costs.learn_from(self.store)

    async def evaluate_and_close_positions(self) -> None:
        positions = await self.store.positions.list_open()
        await self.monitor.prefetch(positions)  # with none open: drops the snapshots kept from an earlier tick
        if not positions:
            return
        # For the hold guard: is this pair still the best for its symbol (on the smoothed rates)? Asked of the open
        # positions' symbols alone (a position's decision and plan look at its own symbol's pair only).
        symbols = {p.symbol for p in positions}
        best = Scanner.best_pairs(self.rates, self.signal.hourly(self.rates, symbols), symbols=symbols)
        marks: list[Any] = []  # positions that stay open: their marks are written in one transaction
        try:
            await self.closer.run(positions, best, marks)
        finally:
            await self.store.positions.update_many(marks)

    async def run_actions(self) -> RunReport | None:
        """Run the journalled actions that are due (plans submitted this tick run now)."""
        if self.runner is None:
            return None
        self.last_actions = await self.runner.run_due()
        return self.last_actions

    async def tick(self, *, scan: bool) -> Tick:
        """One tick. Each step runs inside an error boundary: whatever a step raises is logged, counted and
        alerted, and the steps after it still run — above all the closer, which guards the open positions."""
        tick = Tick(self.clock.now())
        self.book.closed.clear()
        await self._guard("control", self.apply_control)
        await self._guard("interrupted opens", self.reconciler.interrupted_opens)
        await self._guard("rates", self.market.refresh)
        await self._guard("signal", self.update_signal)
        if scan:
            await self._guard("costs", self.learn_costs)
            tick.opportunities = self.opportunities = self.scanner.scan(self.rates, self.clock.now())
            if self.record_scans:
                await self._guard(
                    "scan",
                    lambda: self.store.scans.save(self.clock.now(), [attrs.asdict(o) for o in tick.opportunities]),
                )
        await self._guard("positions", self.evaluate_and_close_positions)
        await self._guard("actions", self.run_actions)
        await self._guard("funding", self.funding.record)
        await self._guard("kill switch", self.check_max_loss)
        if scan and not self.paused and not self.halted:
            usable = [o for o in tick.opportunities if not self._tripped(o.long_venue, o.short_venue)]
            tick.opened = await self._guard("open", lambda: self.opener.open_new(usable)) or []
        tick.closed = list(self.book.closed)
        self.last_tick = tick
        return tick

    def _tripped(self, *venues: str) -> bool:
        return any(self.gateway.tripped(v) for v in venues)

    async def _guard(self, step: str, run: Callable[[], Awaitable[T]]) -> T | None:
        """Run one step of the tick; an exception is logged with its traceback, counted and alerted, not raised."""
        try:
            return await run()
        except Exception as exc:
            self.faults[step] = self.faults.get(step, 0) + 1
            logger.opt(exception=exc).error("tick step {} failed ({}); the tick goes on", step, type(exc).__name__)
            with contextlib.suppress(Exception):  # the store itself may be what failed
                await self.recorder(
                    Alert(
                        alert="tick_fault", level=Severity.CRITICAL,
                        message=f"tick step {step} failed: {type(exc).__name__}: {exc}",
                        details={"step": step, "error": type(exc).__name__, "count": self.faults[step]},
                    )
                )  # fmt: skip
            return None

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
        await self.reconciler.startup()
        if self.runner is not None:
            await self.runner.resume()
        watch = LiquidationWatch(self.venues, self.clock, self.recorder)  # a liquidation notice ticks at once
        # What lives for the whole run (modules, plugins, config, instruments) leaves the cyclic collector's scans:
        # a full collection over it stalled a tick for ~100-250 ms with 1,000 positions open.
        # Unfrozen when the run ends: a process that runs bot after bot (tests, `fundarb optimize`) frees each one.
        gc.collect()
        gc.freeze()
        try:
            while not stop.is_set() and not self.halted:
                elapsed = self.clock.monotonic() - started
                if duration is not None and elapsed >= duration.total_seconds():
                    break
                scan = elapsed >= next_scan
                if scan:
                    next_scan = elapsed + cfg.scan_interval.total_seconds()
                began = self.clock.monotonic()
                tick = await self.tick(scan=scan)
                self.plugins.tick_done(tick.at, self.clock.monotonic() - began)
                if on_tick is not None:
                    on_tick(tick, elapsed)
                await watch.sleep(interval)
        finally:
            gc.unfreeze()
        await watch.stop()
        await self.shutdown()

    async def shutdown(self) -> None:
        await self.orders.aclose()
        for venue in self.venues.values():
            await venue.close()


def _close_market_only(config: Config) -> bool:
    """Whether the configured close policy always crosses the book (a close priced at taker fees)."""
    return config.close_policy is not None and config.close_policy.kind == "market_only"


def _plan_transfers(config: Config) -> bool:
    """Whether the risk manager's exit plan moves funds between venues after a close."""
    if config.risk_manager is None:
        return False
    transfer = getattr(config.risk_manager.config, "transfer_on_exit", None)
    if transfer is not None and getattr(transfer, "enabled", True):
        return True
    steps = getattr(config.risk_manager.config, "exit_plan", None) or []
    return any(getattr(step, "action_type", None) == "transfer_funds" for step in steps)
