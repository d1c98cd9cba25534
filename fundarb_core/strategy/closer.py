"""The closer's decisions: for each open position, exit or stay, how urgently, and whether a plan carries it out.

Missing leg, liquidation risk and severe imbalance bypass the risk manager (critical exits close at once, then may
ask for a plan). Otherwise the configured risk manager decides; when none is configured or it errs, the same exit
rules with their defaults do (`fundarb_core.strategy.exits`). On an exit the risk manager's plan is journalled and
the action runner closes the position as the plan's closing step; an empty plan means "close now".
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from loguru import logger

from fundarb_core.actions import ActionFailed, ActionRunner, as_plan
from fundarb_core.clock import Clock
from fundarb_core.config import Config
from fundarb_core.errors import VenueError
from fundarb_core.events import Alert, Severity
from fundarb_core.execution import Urgency, VenueGateway
from fundarb_core.model import ExitReason, PositionStatus
from fundarb_core.model.records import ActionStatus, PositionRecord
from fundarb_core.plugins import Registry
from fundarb_core.positions import PositionBook
from fundarb_core.store import Store
from fundarb_core.strategy.exits import ExitRules, Waterfall
from fundarb_core.strategy.monitor import Monitor
from fundarb_core.strategy.risk import ExitDecision, PlanContext, PositionView, RiskManager
from fundarb_core.venues import PositionSnapshot

__all__ = ["CRITICAL", "Closer"]

ZERO = Decimal(0)
CRITICAL = frozenset(
    {ExitReason.LEG_LIQUIDATED, ExitReason.LIQUIDATION_RISK, ExitReason.SEVERE_IMBALANCE, ExitReason.MAX_LOSS}
)
Pair = tuple[str, str, str]


class Closer:
    """Decides exits for open positions and carries them out (directly, or through a journalled plan)."""

    def __init__(
        self,
        config: Config,
        registry: Registry,
        store: Store,
        clock: Clock,
        gateway: VenueGateway,
        monitor: Monitor,
        book: PositionBook,
        risk: RiskManager | None,
        runner: ActionRunner | None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.store = store
        self.clock = clock
        self.gateway = gateway
        self.monitor = monitor
        self.book = book
        self.risk = risk
        self.runner = runner
        self.fallback = Waterfall.of(ExitRules())

    # -- decisions ---------------------------------------------------------------------------------------------

    def evaluate(
        self, position: PositionRecord, snaps: Mapping[str, PositionSnapshot], best: set[Pair]
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
        view = self.monitor.view(position, snaps, best, self.clock.now())
        if view is None:
            return ExitDecision.stay()
        if self.risk is not None:
            try:
                return self.risk.should_exit(view)
            except Exception as exc:  # a plugin's bug must not stop risk management
                logger.opt(exception=exc).error("risk manager failed; using the default exit rules")
        return self.fallback.should_exit(view)

    def closes(self, action_type: str) -> bool:
        """Whether `action_type` declares that it closes its position."""
        return self.registry.closes_position(action_type)

    async def planned_positions(self) -> dict[str, str]:
        """Positions whose plan has an unfinished close ("close": that plan carries out their exit) or reduction
        ("reduce": one at a time). An unfinished reduction does not hold back an exit: the exit's plan is journalled
        too, the runner never runs both at once on one position, and whichever runs second finds the position
        smaller (the close closes what is left) or closed (the reduction fails, harmlessly)."""
        if self.runner is None:
            return {}
        unfinished = await self.store.actions.list(
            statuses=[ActionStatus.PENDING, ActionStatus.RUNNING, ActionStatus.WAITING, ActionStatus.AWAITING_APPROVAL]
        )
        planned: dict[str, str] = {}
        for a in unfinished:
            if a.position_id is None:
                continue
            if self.closes(a.action_type):
                planned[a.position_id] = "close"  # an unfinished close wins over a reduction
            elif a.action_type == "reduce_size":
                planned.setdefault(a.position_id, "reduce")
        return planned

    # -- one tick ----------------------------------------------------------------------------------------------

    async def run(self, positions: list[PositionRecord], best: set[Pair], marks: list[PositionRecord]) -> None:
        """Decide and act for every open position; positions that stay get their marks appended to `marks`."""
        planned = await self.planned_positions() if positions else {}
        for position in positions:
            if position.status is PositionStatus.OPENING:
                continue  # being opened now, or interrupted: start-up reconciliation handles it
            try:
                await self._one(position, planned, best, marks)
            except Exception as exc:  # one position's trouble must not leave the others unguarded
                logger.bind(position=position.id).opt(exception=exc).error("managing the position failed; next tick")
                await self.book.record(
                    Alert(
                        position_id=position.id, alert="position_fault", level=Severity.CRITICAL,
                        message=f"managing {position.symbol} failed: {type(exc).__name__}: {exc}",
                        details={"error": type(exc).__name__},
                    )
                )  # fmt: skip

    async def _one(
        self, position: PositionRecord, planned: Mapping[str, str], best: set[Pair], marks: list[PositionRecord]
    ) -> None:
        """Decide and act for one open position."""
        snaps = await self.monitor.snapshots(position)
        if snaps is None:
            return  # a venue cannot be seen: closing one side blind could leave us naked; retry next tick
        decision = self.evaluate(position, snaps, best)
        if not decision.exit or decision.reason is None:
            marks.append(self.monitor.with_marks(position, snaps))
            if decision.reduce is not None and position.id not in planned:
                await self.submit_plan(position, snaps, best, decision)
            return
        critical = decision.reason in CRITICAL or position.status is not PositionStatus.OPEN
        if planned.get(position.id) == "close" and not critical:
            return  # its plan is carrying the exit out
        if not critical and await self.spread_too_wide(position):
            logger.bind(position=position.id).info("exit {} deferred: book spread too wide", decision.reason)
            return
        if not critical and await self.submit_plan(position, snaps, best, decision):
            return  # the runner closes it (this tick) as the plan's first step
        if decision.reason in (ExitReason.LEG_LIQUIDATED, ExitReason.SEVERE_IMBALANCE):
            urgency = Urgency.EMERGENCY
        else:
            urgency = Urgency.URGENT if critical else Urgency.NORMAL
        position = await self.book.reload(position.id)
        closed = await self.book.close(position, decision.reason, urgency)
        if closed.status is PositionStatus.CLOSED and planned.get(position.id) != "close":
            # Closed at once (a critical exit, or no plan): the plan may still move funds or reopen.
            await self.submit_plan(closed, snaps, best, decision, closed=True)

    async def submit_plan(
        self,
        position: PositionRecord,
        snaps: Mapping[str, PositionSnapshot],
        best: set[Pair],
        decision: ExitDecision,
        *,
        closed: bool = False,
    ) -> bool:
        """Ask the risk manager for the plan after `decision` and journal it; False when there is none to run."""
        if self.runner is None or self.risk is None:
            if decision.reduce is not None:
                logger.bind(position=position.id).info("reduce asked, but the action runner is off: staying")
            return False
        now = self.clock.now()
        view = self.monitor.view(position, snaps, best, now) or PositionView(
            position=position, now=now, entry_spread=position.entry_spread or ZERO,
            current_spread=ZERO, rates={}, snapshots=dict(snaps),
        )  # fmt: skip
        reason = decision.reason or ExitReason.REBALANCE
        context = PlanContext(decision, tuple(self.gateway.venues), tuple(self.config.transfers), closed)
        try:
            plan = as_plan(self.risk.generate_actions(view, reason, context))
            plan.planned("check")  # a malformed plan (a key twice, an unknown `after`) is refused here, whole
        except Exception as exc:  # a plugin's bug must not stop the exit: close now, as without a plan
            logger.opt(exception=exc).error("risk manager failed to build a plan; closing without one")
            return False
        if not plan:
            return False
        closes = any(self.closes(a.action_type) and a.position_id == position.id for a in plan.actions)
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

    async def spread_too_wide(self, position: PositionRecord) -> bool:
        for venue_name in (position.long_venue, position.short_venue):
            try:
                # One try: a venue that cannot quote now defers a non-critical exit to the next tick.
                bbo = await self.gateway.bbo(venue_name, position.symbol, retry=False)
            except VenueError:
                return True
            if (bbo.ask - bbo.bid) / bbo.mid > self.config.exit.wide_spread:
                return True
        return False
