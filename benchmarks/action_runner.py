#!/usr/bin/env python3
"""The action runner's own cost: plans journalled and run per second with a handler that does nothing.

    .venv/bin/python benchmarks/action_runner.py [--plans 200]

Each plan is three steps (a, then b and c together, then d), journalled in one transaction and run through the
journal's moves (start, succeed) on a SQLite file (WAL, synchronous=FULL: every move is fsynced before the next
step). The figure is the overhead the runner adds to what the handlers themselves do (closing, transferring):
per action, and per plan from submit to its last action succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fundarb_core import hookimpl
from fundarb_core.actions import ActionContext, ActionPlan, ActionRunner, RebalanceAction
from fundarb_core.clock import SimClock
from fundarb_core.config import parse_config
from fundarb_core.plugins import Plugins, Register
from fundarb_core.store import Store


class Noop:
    def __init__(self, context: ActionContext) -> None:
        pass

    async def run(self, action: Any) -> Any:
        return None


class Types:
    @hookimpl
    def fundarb_register_action_types(self, register: Register) -> None:
        register("noop", None, Noop)


async def bench(plans: int, directory: Path) -> tuple[list[float], float]:
    plugins = Plugins().load(entry_points=False)
    plugins.register(Types(), name="bench_types", distribution="bench-types")
    clock = SimClock()
    store = await Store.open(directory / "fundarb.db", clock=clock)
    context = ActionContext(clock=clock, store=store, venues={}, config=parse_config({}, plugins), plugins=plugins)
    runner = ActionRunner(context)
    per_plan = []
    started = time.perf_counter()
    try:
        for _ in range(plans):
            t0 = time.perf_counter()
            noop = RebalanceAction("noop")
            await runner.submit(ActionPlan.of(noop, [noop, noop], noop))
            await runner.run_due()
            per_plan.append(time.perf_counter() - t0)
    finally:
        await store.close()
    return per_plan, time.perf_counter() - started


def main(quick: bool = False) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=int, default=40 if quick else 200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fundarb-bench-") as directory:
        per_plan, total = asyncio.run(bench(args.plans, Path(directory)))
    ms = sorted(t * 1000 for t in per_plan)
    actions = 4 * args.plans
    print(f"   SQLite: {args.plans} plans × 4 actions: {actions / total:,.0f} actions/s, "
          f"{total / actions * 1000:.2f} ms per action")  # fmt: skip
    print(f"   per plan (submit → last action succeeded): p50 {statistics.median(ms):.1f} ms, "
          f"p99 {ms[int(len(ms) * 0.99) - 1]:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
