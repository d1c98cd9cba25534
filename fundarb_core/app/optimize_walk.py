"""Walk-forward analysis for `fundarb optimize`: optimise on each training window, score its best on the test window
that follows (days the search never saw), and set in-sample beside out-of-sample."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from fundarb_core.app.optimize import FIGURES, Job, Report, backtest, figures, run_study, score, summarize
from fundarb_core.convert import format_duration
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins

__all__ = ["walk_forward", "windows"]


def windows(
    start: datetime, end: datetime, train: timedelta, test: timedelta
) -> list[tuple[datetime, datetime, datetime]]:
    """Walk-forward windows (train from, train to = test from, test to), stepping by the test length; only whole
    test windows inside [start, end)."""
    out = []
    at = start
    while at + train + test <= end:
        out.append((at, at + train, at + train + test))
        at += test
    return out


def walk_forward(
    job: Job,
    train: timedelta,
    test: timedelta,
    trials: int,
    workers: int,
    report: Report,
    plugins: Plugins,
    on_window: Callable[[int, int, Job], Any] | None = None,
) -> dict[str, Any]:
    """Optimise on each training window, score its best on the following test window, side by side."""
    spans = windows(job.start, job.end, train, test)
    if not spans:
        raise ConfigError([f"--walk-forward: {job.start:%Y-%m-%d} → {job.end:%Y-%m-%d} holds no training window "
                           f"of {train} followed by a test window of {test}"])  # fmt: skip
    rows: list[dict[str, Any]] = []
    interrupted, errors = False, list[str]()
    for i, (a, b, c) in enumerate(spans, start=1):
        wjob = attrs.evolve(job, start=a, end=b, study=f"{job.study}.wf{i}")
        if on_window is not None:
            on_window(i, len(spans), wjob)
        outcome = run_study(wjob, trials, workers, report, plugins)
        best = summarize(wjob, top=1)["best"]
        row: dict[str, Any] = {"window": i, "train": [a.isoformat(), b.isoformat()],
                               "test": [b.isoformat(), c.isoformat()], "study": wjob.study, "best_trial": None,
                               "params": None, "in_sample": None, "out_of_sample": None}  # fmt: skip
        if best is not None:
            row.update(best_trial=best["number"], params=best["params"],
                       in_sample={"objective": best["value"], **{k: best[k] for k in FIGURES}})  # fmt: skip
        errors += outcome.errors
        if best is not None and not (outcome.interrupted or outcome.errors):  # no test of a search cut short
            summary = backtest(job, plugins, best["params"], b, c).as_dict()
            row["out_of_sample"] = {"objective": score(summary, job.objective), **figures(summary)}
        rows.append(row)
        if outcome.interrupted or outcome.errors:
            interrupted = outcome.interrupted
            break
    scored = [r for r in rows if r["in_sample"] is not None and r["out_of_sample"] is not None]

    def mean(side: str) -> float | None:
        return sum(r[side]["objective"] for r in scored) / len(scored) if scored else None

    oos_net = sum((Decimal(r["out_of_sample"]["net_pnl"]) for r in scored), Decimal(0))
    return {"objective": job.objective, "train": format_duration(train), "test": format_duration(test), "windows": rows,
            "mean_in_sample": mean("in_sample"), "mean_out_of_sample": mean("out_of_sample"),
            "out_of_sample_net_pnl": str(oos_net), "interrupted": interrupted, "errors": errors}  # fmt: skip
