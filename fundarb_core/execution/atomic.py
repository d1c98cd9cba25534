"""Open several legs at once; return delta-neutral (within one step of the coarser venue) or flat.

Two ways to open a pair (`OpenMode`):

- `both_maker`: both legs post maker orders at once, each re-priced and falling back to market on its own; the legs
  that end behind are hedged up to the furthest.
- `maker_hedge`: only the leg where a taker fill would cost most (taker − maker fee + half the spread) posts as
  maker; each time it fills, the other leg is hedged at once with a market order for what is unhedged (partial fills
  hedged as they come, on the coarser venue's step). What is still behind at the end is hedged as in `both_maker`.

Either way the same guarantee holds when `open` returns: the legs are within one step of the coarser venue (hedged
up, or the legs ahead trimmed down, reduce-only, when those behind cannot be topped up but hold at least half as
much), or rolled back flat, or an `open_unbalanced` alert carries the exposure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Literal

import attrs
from loguru import logger

from fundarb_core.events import Alert, Record, Severity, null_record
from fundarb_core.execution import ids
from fundarb_core.execution.order_executor import OrderExecutor
from fundarb_core.execution.specs import CloseLegSpec, OrderResult, OrderSpec
from fundarb_core.execution.telemetry import Telemetry
from fundarb_core.model import ExecutionMode
from fundarb_core.venues import Rounding

__all__ = ["OPEN_MODES", "AtomicExecutor", "AtomicResult", "OpenMode"]

ZERO = Decimal(0)
OpenMode = Literal["both_maker", "maker_hedge"]
OPEN_MODES: tuple[OpenMode, ...] = ("both_maker", "maker_hedge")


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

    async def open(self, specs: Sequence[OrderSpec], *, mode: OpenMode = "both_maker") -> AtomicResult:
        """Open all legs (same quantity each, on every venue's grid): at once, or one as maker and the other
        hedged as it fills (`mode`, see the module's doc; `maker_hedge` needs exactly two legs, else both_maker)."""
        clock = self.orders.clock
        decision_at = clock.monotonic()
        step = self.coarser_step(specs)
        if mode == "maker_hedge" and len(specs) == 2:
            results = await self._maker_hedge(specs, step)
        else:
            results = await self._run_all(specs)
        held = [r.filled_qty for r in results]
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
                how = ExecutionMode.MARKET_ONLY if round_ == self.hedge_attempts else ExecutionMode.LIMIT_WITH_FALLBACK
                hedge_specs = [
                    attrs.evolve(
                        specs[i],
                        quantity=gap,
                        intent_id=ids.hedge_intent(specs[i].intent_id, round_),
                        mode=how,
                        timeout=self.hedge_timeout,
                    )
                    for i, gap in behind
                ]
                logger.warning("open imbalance {}; hedging (round {})", held, round_)
                for (i, _), result in zip(behind, await self._run_all(hedge_specs), strict=True):
                    hedges.append(result)
                    held[i] += result.filled_qty
            if max(held) - min(held) >= step and min(held) > 0 and 2 * min(held) >= max(held):
                # The legs behind could not be topped up (a venue refusing an order worth less than its minimum,
                # say) but hold at least half of the leg ahead: trim the legs ahead down to them instead, reduce-only
                # (no minimum value applies), which keeps a smaller hedged pair rather than paying to undo all of it.
                # Further apart, what would stay is not the pair that was sized: rolled back.
                logger.warning("open imbalance {} after hedging; trimming the legs ahead", held)
                for i, result in await self._trim(specs, held, min(held)):
                    rollbacks.append(result)
                    held[i] -= result.filled_qty
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

    async def _taker_cost(self, spec: OrderSpec) -> Decimal:
        """What a taker fill costs over a maker fill on this leg, as a fraction: fee difference + half the spread."""
        instrument = self.orders.instruments[spec.venue][spec.symbol]
        cost = (instrument.taker_fee or ZERO) - (instrument.maker_fee or ZERO)  # unknown fees: the book decides
        venue = self.orders.venues[spec.venue]
        try:
            bbo = await self.orders.gateway.call("bbo", lambda: venue.fetch_bbo_prices(spec.symbol), venue=spec.venue)
        except Exception as exc:  # no book: compare on fees alone
            logger.bind(venue=spec.venue).warning("no book for the open's leg choice ({}); fees only", exc)
            return cost
        if bbo.mid > 0 and bbo.ask >= bbo.bid:
            cost += (bbo.ask - bbo.bid) / bbo.mid / 2
        return cost

    async def _maker_hedge(self, specs: Sequence[OrderSpec], step: Decimal) -> list[OrderResult]:
        """Post the costlier leg as maker; hedge each of its fills at once on the other leg with a market order."""
        costs = [await self._taker_cost(s) for s in specs]
        m = 0 if costs[0] >= costs[1] else 1  # the maker leg: where taking would cost most
        h = 1 - m
        hedge_base = specs[h]
        hedge_instrument = self.orders.instruments[hedge_base.venue][hedge_base.symbol]
        filled = [ZERO]
        changed = asyncio.Event()

        def progress(qty: Decimal) -> None:
            filled[0] = qty
            changed.set()

        async def maker() -> OrderResult:
            try:
                return await self.orders.execute(specs[m], progress)
            finally:
                changed.set()

        parts: list[OrderResult] = []
        hedged = ZERO
        async with asyncio.TaskGroup() as group:
            task = group.create_task(maker())
            while True:
                await changed.wait()
                changed.clear()
                maker_done = task.done()  # its last fills are in `filled` already
                # What the maker leg holds beyond what is hedged, on the coarser step: a remainder below one step
                # waits for more fills (or is left: the legs then differ by less than one step).
                gap = hedge_instrument.round_qty((filled[0] - hedged) // step * step, Rounding.DOWN)
                if gap > 0:
                    part = await self.orders.execute(
                        attrs.evolve(
                            hedge_base,
                            quantity=gap,
                            intent_id=ids.hedge_intent(hedge_base.intent_id, 100 + len(parts)),
                            mode=ExecutionMode.MARKET_ONLY,
                            timeout=self.hedge_timeout,
                        )
                    )
                    parts.append(part)
                    hedged += part.filled_qty  # short of `gap`: retried at the next fill, then caught up below
                if maker_done:
                    break
        results: list[OrderResult] = [OrderResult(spec=s) for s in specs]
        results[m] = task.result()
        results[h] = _combine(hedge_base, parts) if parts else OrderResult(spec=hedge_base)
        return results

    async def _trim(
        self, specs: Sequence[OrderSpec], held: list[Decimal], low: Decimal
    ) -> list[tuple[int, OrderResult]]:
        """Bring each leg holding more than `low` down to it with a reduce-only market order; (leg, result) each."""
        ahead = [i for i, qty in enumerate(held) if qty > low]
        todo = [
            CloseLegSpec(
                venue=specs[i].venue,
                symbol=specs[i].symbol,
                side=specs[i].side.opposite,
                quantity=held[i] - low,
                intent_id=ids.trim_intent(specs[i].intent_id),
                mode=ExecutionMode.MARKET_ONLY,
                slippage_bps=specs[i].slippage_bps * 2,
                max_market_attempts=5,
                position_id=specs[i].position_id,
            )
            for i in ahead
        ]
        return list(zip(ahead, await self._run_all(todo), strict=True)) if todo else []

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


def _combine(spec: OrderSpec, parts: Sequence[OrderResult]) -> OrderResult:
    """One leg's result from the market orders that hedged it piece by piece."""
    filled = sum((p.filled_qty for p in parts), ZERO)
    notional = sum((p.filled_qty * p.avg_price for p in parts if p.avg_price is not None), ZERO)
    submits = [p.first_submit_at for p in parts if p.first_submit_at is not None]
    errors = [p.error for p in parts if p.error]
    return OrderResult(
        spec=spec,
        filled_qty=filled,
        avg_price=notional / filled if filled else None,
        fees=sum((p.fees for p in parts), ZERO),
        maker_qty=sum((p.maker_qty for p in parts), ZERO),
        decision_mid=next((p.decision_mid for p in parts if p.decision_mid is not None), None),
        client_order_ids=tuple(cid for p in parts for cid in p.client_order_ids),
        decision_at=parts[0].decision_at,
        first_submit_at=min(submits) if submits else None,
        done_at=parts[-1].done_at,
        error="; ".join(errors) or None,
    )
