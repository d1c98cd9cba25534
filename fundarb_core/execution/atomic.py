"""Open several legs at once; return delta-neutral (within one step of the coarser venue) or flat."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

import attrs
from loguru import logger

from fundarb_core.events import Alert, Record, Severity, null_record
from fundarb_core.execution import ids
from fundarb_core.execution.order_executor import OrderExecutor
from fundarb_core.execution.specs import CloseLegSpec, OrderResult, OrderSpec
from fundarb_core.execution.telemetry import Telemetry
from fundarb_core.model import ExecutionMode

__all__ = ["AtomicExecutor", "AtomicResult"]

ZERO = Decimal(0)


@attrs.frozen
class AtomicResult:
    """`quantities` are what each leg holds after hedging or rollback, in the order of the specs."""

    ok: bool
    quantities: tuple[Decimal, ...]
    results: tuple[OrderResult, ...]
    hedges: tuple[OrderResult, ...]
    rollbacks: tuple[OrderResult, ...]
    telemetry: Telemetry
    error: str | None = None

    @property
    def flat(self) -> bool:
        return all(q == 0 for q in self.quantities)


class AtomicExecutor:
    """Executes legs concurrently; if one fills and another does not, hedges the difference, else rolls back."""

    def __init__(
        self,
        orders: OrderExecutor,
        *,
        hedge_attempts: int = 3,
        hedge_timeout: timedelta = timedelta(seconds=5),
        rollback_rounds: int = 3,
        record: Record = null_record,
    ) -> None:
        self.orders = orders
        self.rollback_rounds = rollback_rounds
        self.record = record
        self.hedge_attempts = hedge_attempts
        self.hedge_timeout = hedge_timeout

    def coarser_step(self, specs: Sequence[OrderSpec]) -> Decimal:
        return max(self.orders.instruments[s.venue][s.symbol].step_size for s in specs)

    async def _run_all(self, specs: Sequence[OrderSpec]) -> list[OrderResult]:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self.orders.execute(spec)) for spec in specs]
        return [t.result() for t in tasks]

    async def open(self, specs: Sequence[OrderSpec]) -> AtomicResult:
        """Open all legs at once (same quantity each, on every venue's grid)."""
        clock = self.orders.clock
        decision_at = clock.monotonic()
        results = await self._run_all(specs)
        held = [r.filled_qty for r in results]
        step = self.coarser_step(specs)
        hedges: list[OrderResult] = []
        rollbacks: list[OrderResult] = []
        error = None
        if max(held) - min(held) >= step:
            # Hedge the legs that are behind up to the one that got furthest: bounded limit tries, then market.
            target = max(held)
            for round_ in range(1, self.hedge_attempts + 1):
                behind = [(i, target - held[i]) for i in range(len(specs)) if target - held[i] >= step]
                if not behind:
                    break
                mode = ExecutionMode.MARKET_ONLY if round_ == self.hedge_attempts else ExecutionMode.LIMIT_WITH_FALLBACK
                hedge_specs = [
                    attrs.evolve(
                        specs[i],
                        quantity=gap,
                        intent_id=ids.hedge_intent(specs[i].intent_id, round_),
                        mode=mode,
                        timeout=self.hedge_timeout,
                    )
                    for i, gap in behind
                ]
                logger.warning("open imbalance {}; hedging (round {})", held, round_)
                for (i, _), result in zip(behind, await self._run_all(hedge_specs), strict=True):
                    hedges.append(result)
                    held[i] += result.filled_qty
            if max(held) - min(held) >= step:
                error = f"hedge failed, legs hold {held}; rolled back"
                logger.error(error)
                for round_ in range(1, self.rollback_rounds + 1):
                    if all(q == 0 for q in held):
                        break
                    round_results = await self._rollback(specs, held, round_)
                    rollbacks += round_results
                    for i, (spec, result) in enumerate(zip(specs, round_results, strict=True)):
                        if result.spec is not spec:
                            held[i] -= result.filled_qty
                if any(q != 0 for q in held):
                    error = f"hedge and rollback failed: legs hold {held}"
                    await self.record(
                        Alert(
                            position_id=specs[0].position_id,
                            alert="open_unbalanced",
                            message=error,
                            level=Severity.CRITICAL,
                            details={
                                "open_exposure": {
                                    f"{s.venue}:{s.symbol}": str(q * s.side.sign)
                                    for s, q in zip(specs, held, strict=True)
                                }
                            },
                        )
                    )
        done_at = clock.monotonic()
        ok = error is None and min(held) > 0
        telemetry = Telemetry.from_results([*results, *hedges], decision_at, done_at)
        return AtomicResult(ok, tuple(held), tuple(results), tuple(hedges), tuple(rollbacks), telemetry, error)

    async def _rollback(self, specs: Sequence[OrderSpec], held: list[Decimal], round_: int) -> list[OrderResult]:
        """Close whatever each leg holds with reduce-only market orders (a placeholder result for flat legs)."""
        todo = [
            CloseLegSpec(
                venue=spec.venue,
                symbol=spec.symbol,
                side=spec.side.opposite,
                quantity=qty,
                intent_id=ids.rollback_intent(spec.intent_id, round_),
                mode=ExecutionMode.MARKET_ONLY,
                slippage_bps=spec.slippage_bps * 2,
                max_market_attempts=5,
                position_id=spec.position_id,
            )
            if qty > 0
            else None
            for spec, qty in zip(specs, held, strict=True)
        ]
        live = [s for s in todo if s is not None]
        done = iter(await self._run_all(live)) if live else iter(())
        out = []
        for spec, close in zip(specs, todo, strict=True):
            out.append(next(done) if close is not None else OrderResult(spec=spec))
        return out
