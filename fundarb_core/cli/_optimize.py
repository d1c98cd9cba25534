"""`fundarb optimize`: search config values with Optuna, each trial a backtest; walk-forward; shared studies."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from fundarb_core.cli import fail, get_plugins
from fundarb_core.cli._data import WHEN, history_dir


def _walk(value: str | None) -> tuple[timedelta, timedelta] | None:
    if value is None:
        return None
    from fundarb_core.convert import parse_duration

    train, sep, test = value.partition(":")
    try:
        spans = parse_duration(train), parse_duration(test)
    except (ValueError, TypeError):
        spans = None
    if not sep or spans is None or min(spans) <= timedelta(0):
        fail(f"--walk-forward: expected TRAIN:TEST durations such as 60d:30d, found {value!r}")
    return spans


def _cap(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        cap = Decimal(value)
    except InvalidOperation:
        cap = Decimal(-1)
    if not 0 < cap < 1:
        fail(f"--max-drawdown: expected a fraction of the peak between 0 and 1 (e.g. 0.05), found {value!r}")
    return cap


class _Bars:
    """A live progress bar per worker, fed the workers' events."""

    def __init__(self, progress: Any, shares: list[int]) -> None:
        self.progress = progress
        self.done = [0] * len(shares)
        self.tasks = [progress.add_task(f"worker {i + 1}", total=n, trial="-", best="-")
                      for i, n in enumerate(shares) if n > 0]  # fmt: skip

    def __call__(self, event: dict[str, Any]) -> None:
        w = event["worker"]
        if w >= len(self.tasks):
            return
        task, kind = self.tasks[w], event["kind"]
        if kind == "trial":
            self.progress.update(task, trial=f"#{event['number']}", completed=self.done[w])
        elif kind == "tick":
            self.progress.update(task, completed=self.done[w] + event["fraction"])
        elif kind == "done":
            self.done[w] += 1
            best = f"{event['best']:.4f}" if event.get("best") is not None else "-"
            self.progress.update(task, completed=self.done[w], best=best)


def _run(job: Any, trials: int, workers: int, show: bool, walk: tuple[timedelta, timedelta] | None) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fundarb_core.app.optimize import run_study
    from fundarb_core.app.optimize_walk import walk_forward

    shares = [trials // workers + (1 if i < trials % workers else 0) for i in range(workers)]
    columns = (TextColumn("{task.description} trial {task.fields[trial]}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("study best {task.fields[best]}"), TimeElapsedColumn())  # fmt: skip
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=not show) as progress:
        state: dict[str, _Bars] = {"bars": _Bars(progress, shares)}

        def report(event: dict[str, Any]) -> None:
            state["bars"](event)

        if walk is None:
            return run_study(job, trials, workers, report, get_plugins()), None

        def on_window(i: int, n: int, wjob: Any) -> None:
            for task in progress.task_ids:
                progress.remove_task(task)
            progress.console.print(
                f"window {i}/{n}: optimise on {wjob.start:%Y-%m-%d %H:%M} → {wjob.end:%Y-%m-%d %H:%M}"
            )
            state["bars"] = _Bars(progress, shares)

        result = walk_forward(job, walk[0], walk[1], trials, workers, report, get_plugins(), on_window)
        return None, result


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), required=True, help="Config file.")
@click.option("--space", "space_path", type=click.Path(path_type=Path), required=True, help="Search space (TOML).")
@click.option("--trials", type=click.IntRange(min=0), default=20, show_default=True,
              help="Trials this command runs (split over --workers; per window with --walk-forward; "
              "0: only the report).")  # fmt: skip
@click.option("--from", "start", type=WHEN, required=True, help="Start of the backtest period (UTC).")
@click.option("--to", "end", type=WHEN, required=True, help="End of the backtest period (UTC, exclusive).")
@click.option("--storage", default=None, help="Study storage URL (PostgreSQL shares a study between machines; "
              "default: SQLite in the data directory).")  # fmt: skip
@click.option("--study", "study_name", default=None, help="Study name (default: from the files and the period).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes here.")
@click.option("--objective", type=click.Choice(["apr", "sharpe"]), default="apr", show_default=True,
              help="Net APR on capital, or the Sharpe ratio of daily returns.")  # fmt: skip
@click.option("--max-drawdown", "max_drawdown", default=None, help="Drawdown cap (fraction of the peak, e.g. 0.05): "
              "a trial passing it is infeasible.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Sampler seed (worker i uses seed + i).")
@click.option("--no-prune", is_flag=True, help="Run every trial to the end (no median pruning).")
@click.option(
    "--walk-forward",
    "walk_forward",
    default=None,
    metavar="TRAIN:TEST",
    help="Optimise on each TRAIN window, score the best on the following TEST window (e.g. 60d:30d).",
)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Where the history store lives.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Report directory (default: in data dir).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def optimize(config_path: Path, space_path: Path, trials: int, start: datetime, end: datetime, storage: str | None,
             study_name: str | None, workers: int, objective: str, max_drawdown: str | None, seed: int,
             no_prune: bool, walk_forward: str | None, data_dir: Path | None, out: Path | None,
             as_json: bool) -> None:  # fmt: skip
    """Search config values (strategy, exit, risk manager, close policy) for the best backtest, with Optuna.

    Each trial is a backtest over --from → --to of the config with the space's values set. Writes the best
    parameters as a ready config file (best.toml), the optimisation-history and parameter-importance charts and
    an HTML report. With a PostgreSQL --storage the same command on several machines joins one study.
    """

    import attrs
    from loguru import logger

    from fundarb_core.app.optimize import Job, storage_session, summarize
    from fundarb_core.app.optimize_space import load_space
    from fundarb_core.cli._load import load
    from fundarb_core.config import read_toml
    from fundarb_core.errors import ConfigError, StoreError

    if end <= start:
        fail(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})")
    walk, cap = _walk(walk_forward), _cap(max_drawdown)
    load(config_path)  # the config itself is valid (one line per problem, exit 2)
    raw = read_toml(config_path)  # its raw tables, which the space is checked against
    try:
        space = load_space(space_path, raw, get_plugins())
    except ConfigError as exc:
        fail(list(exc.problems))
    history = history_dir(config_path, data_dir)
    name = study_name or f"{config_path.stem}.{space_path.stem}.{start:%Y%m%d}-{end:%Y%m%d}.{objective}"
    url = storage or f"sqlite:///{(history / 'optuna.sqlite3').resolve()}"
    job = Job(config_data=raw, space=space, start=start, end=end, history_dir=history, storage=url, study=name,
              objective=objective, max_drawdown=cap, seed=seed, prune=not no_prune)  # fmt: skip
    out_dir = (out or history / "optimize" / name).expanduser()
    logger.remove()  # every trial's bot logs every order; here only errors reach stderr
    logger.add(sys.stderr, level="ERROR")
    with storage_session(url):
        try:
            outcome, walked = _run(job, trials, workers, sys.stderr.isatty() and not as_json, walk)
        except ConfigError as exc:
            fail(list(exc.problems))
        except StoreError as exc:
            fail(str(exc))
        if walked is not None:
            last = walked["windows"][-1]
            job = attrs.evolve(job, start=datetime.fromisoformat(last["train"][0]),
                               end=datetime.fromisoformat(last["train"][1]), study=last["study"])  # fmt: skip
        summary = summarize(job)
        files = _write(job, summary, out_dir, walked)
    interrupted = walked["interrupted"] if walked is not None else outcome.interrupted
    errors = list(walked["errors"] if walked is not None else outcome.errors)
    if as_json:
        doc = {"study": summary, "files": {k: str(v) for k, v in files.items()}, "interrupted": interrupted}
        if walked is not None:
            doc["walk_forward"] = walked
        click.echo(json.dumps(doc, indent=2, sort_keys=True, default=str))
    else:
        _print(summary, walked, files)
    for line in errors:
        click.echo(line, err=True)
    if interrupted:
        click.echo("stopped (Ctrl-C): the finished trials are kept in the study; run again to continue", err=True)
        sys.exit(130)
    if errors:
        sys.exit(1)


def _write(job: Any, summary: dict[str, Any], out: Path, walked: dict[str, Any] | None) -> dict[str, Path]:
    from fundarb_core.app.optimize import best_config
    from fundarb_core.app.optimize_report import (
        importances,
        write_best_config,
        write_history_chart,
        write_html,
        write_importance_chart,
    )

    files: dict[str, Path] = {}
    charts = {"history": write_history_chart(job, out / "history.png")}
    charts["importance"] = write_importance_chart(job, importances(job), out / "importance.png")
    files.update({k: v for k, v in charts.items() if v is not None})
    if summary["best"] is not None:
        data = best_config(job, summary["best"]["params"], get_plugins())
        files["config"] = write_best_config(data, summary, out / "best.toml")
    files["report"] = write_html(summary, charts, out / "report.html", walked)
    return files


def _print(summary: dict[str, Any], walked: dict[str, Any] | None, files: dict[str, Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    from fundarb_core.app.optimize_report import walk_rows

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # a log or a pipe: no wrapping of the numbers
    counts = ", ".join(f"{n} {state}" for state, n in summary["trials"].items())
    console.print(f"study {summary['study']}: {counts}; objective {summary['objective']}")
    if walked is not None:
        table = Table(
            title=f"walk-forward: {walked['train']} train → {walked['test']} test (in-sample | out-of-sample)"
        )
        rows = walk_rows(walked)
        for col in rows[0] if rows else ["window"]:
            table.add_column(col)
        for row in rows:
            table.add_row(*(_cell(v) for v in row.values()))
        console.print(table)
        console.print(f"mean {walked['objective']}: in-sample {_cell(walked['mean_in_sample'])} · out-of-sample "
                      f"{_cell(walked['mean_out_of_sample'])} · out-of-sample net PnL "
                      f"{walked['out_of_sample_net_pnl']} USD")  # fmt: skip
    if summary["top"]:
        table = Table(title=f"best trials ({summary['from'][:10]} → {summary['to'][:10]})")
        columns = ["number", "value", "apr", "sharpe", "max_drawdown", "net_pnl", "trades"]
        params = list(summary["space"])
        for col in columns + params:
            table.add_column(col)
        for row in summary["top"]:
            table.add_row(*(_cell(row.get(c)) for c in columns), *(_cell(row["params"].get(p)) for p in params))
        console.print(table)
    else:
        console.print("no trial finished: no best parameters (all pruned or infeasible?)")
    for kind, path in files.items():
        console.print(f"{kind}: {path}")


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
