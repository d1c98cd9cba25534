"""`fundarb optimize`: Optuna searches a space of config values; each trial is a backtest.

Optuna is the engine: its TPE sampler proposes, its median pruner stops hopeless trials on the running objective
(reported once per simulated day), and its RDB storage holds the study, so workers started anywhere with the same
storage URL (a PostgreSQL database) join one study, each trial run once. `--workers K` starts K processes here.
The objective is the net APR on capital (or the daily Sharpe ratio); a trial whose drawdown passes the cap is
infeasible and stopped where it passes it (pruned, its reason kept in the trial's `infeasible` attribute).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from queue import Empty
from typing import Any, Final

import attrs

from fundarb_core.app.backtest import BacktestResult, run_backtest
from fundarb_core.app.optimize_space import Space, apply
from fundarb_core.config import Config, parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins
from fundarb_core.secrets import MASK
from fundarb_core.store import mask_url

__all__ = [
    "OBJECTIVES",
    "Job",
    "Outcome",
    "best_config",
    "close_storage",
    "figures",
    "open_storage",
    "opened_study",
    "run_study",
    "score",
    "storage_session",
    "summarize",
]

OBJECTIVES: Final = ("apr", "sharpe")
FIGURES: Final = ("apr", "sharpe", "max_drawdown", "net_pnl", "trades", "funding", "fees")
DAY: Final = 86_400.0

Report = Callable[[dict[str, Any]], Any]  # progress events, see `run_study`


@attrs.frozen
class Job:
    """One study: what to backtest, the space, where the study lives. Picklable (a worker process gets a copy)."""

    config_data: dict[str, Any]  # the config file's raw tables
    space: Space
    start: datetime
    end: datetime
    history_dir: Path
    storage: str  # SQLAlchemy URL: sqlite:///… or postgresql://…
    study: str
    objective: str = "apr"
    max_drawdown: Decimal | None = None
    seed: int | None = 0
    prune: bool = True

    def fingerprint(self) -> dict[str, Any]:
        """What makes trials comparable; a study made with other settings is refused, not mixed."""
        digest = hashlib.sha256(json.dumps(self.config_data, sort_keys=True, default=str).encode()).hexdigest()
        return {"config_sha256": digest[:16], "space": self.space.as_dict(), "from": self.start.isoformat(),
                "to": self.end.isoformat(), "objective": self.objective,
                "max_drawdown": str(self.max_drawdown) if self.max_drawdown is not None else None}  # fmt: skip


@attrs.frozen
class Outcome:
    """How a run of workers ended."""

    trials_run: int
    interrupted: bool = False
    errors: tuple[str, ...] = ()


def score(summary: Mapping[str, Any], objective: str) -> float:
    """The objective's value from a backtest's summary: APR, or Sharpe (0 where it is undefined, e.g. no trade)."""
    if objective == "sharpe":
        return float(summary["sharpe"]) if summary.get("sharpe") is not None else 0.0
    return float(summary["apr"])


def figures(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The figures kept with each trial (and shown side by side in a walk-forward report)."""
    return {k: summary.get(k) for k in FIGURES}


def open_storage(url: str, *, heartbeat: bool = True) -> Any:
    """Optuna's RDB storage on a SQLite file or PostgreSQL (psycopg, whatever driver the URL names)."""
    import optuna
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(
            [f"--storage {mask_url(url)}: not a database URL (sqlite:///PATH or postgresql://…)"]
        ) from None
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
        kwargs["engine_kwargs"] = {"pool_pre_ping": True}
        if heartbeat:  # a worker that dies mid-trial (power, kill -9) has its trial failed by the others
            kwargs.update(heartbeat_interval=60, grace_period=180)
    elif parsed.get_backend_name() == "sqlite":
        if parsed.database:
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError([f"--storage {url}: cannot create {folder} ({exc.strerror or exc})"]) from None
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}  # several local workers write one file
    try:
        with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna; it has been there since 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(parsed.render_as_string(hide_password=False), **kwargs)
    except Exception as exc:  # the driver's reason, first line, without the password
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else ""
        if parsed.password:
            reason = reason.replace(str(parsed.password), MASK)
        raise ConfigError(
            [f"--storage {mask_url(url)}: cannot open the study storage ({type(exc).__name__}: {reason})"]
        ) from None


def close_storage(storage: Any) -> None:
    """Close the storage's database connections (SQLAlchemy's pool) now, not when the garbage collector runs."""
    storage.scoped_session.remove()
    storage.engine.dispose()


_SESSIONS: dict[str, Any] = {}


@contextlib.contextmanager
def storage_session(url: str) -> Iterator[None]:
    """Keep one storage open for `url` while inside: each opening checks the schema, a tenth of a second."""
    if url in _SESSIONS:
        yield
        return
    _SESSIONS[url] = open_storage(url, heartbeat=False)
    try:
        yield
    finally:
        close_storage(_SESSIONS.pop(url))


@contextlib.contextmanager
def _storage(url: str, *, heartbeat: bool = False) -> Iterator[Any]:
    """The session's storage for `url` if there is one (and no heartbeat is needed), else one opened for now."""
    if url in _SESSIONS and not (heartbeat and not url.startswith("sqlite")):
        yield _SESSIONS[url]
        return
    storage = open_storage(url, heartbeat=heartbeat)
    try:
        yield storage
    finally:
        close_storage(storage)


@contextlib.contextmanager
def opened_study(job: Job) -> Iterator[Any]:
    """The job's study (which must exist), its connections closed on leaving."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _storage(job.storage) as storage:
        yield optuna.load_study(study_name=job.study, storage=storage)


def _sampler(job: Job, worker: int, shared: bool) -> Any:
    import optuna

    seed = None if job.seed is None else job.seed + worker
    # Workers that share a study pretend a running trial scored badly, so they do not all propose the same point.
    return optuna.samplers.TPESampler(seed=seed, constant_liar=shared, n_startup_trials=5)


def _pruner(job: Job) -> Any:
    import optuna

    if not job.prune:
        return optuna.pruners.NopPruner()
    days = max(1, int((job.end - job.start).total_seconds() // DAY))
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(1, days // 4))


def ensure_study(job: Job) -> int:
    """Create the study, or join it when it was made with the same settings; returns its number of trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _storage(job.storage) as storage:
        study = optuna.create_study(study_name=job.study, storage=storage, direction="maximize", load_if_exists=True)
        mine, theirs = job.fingerprint(), study.user_attrs.get("fundarb")
        if theirs is None:
            study.set_user_attr("fundarb", mine)
        elif theirs != mine:
            differ = ", ".join(k for k in mine if mine[k] != theirs.get(k))
            raise ConfigError([f"study {job.study!r} in {mask_url(job.storage)} was made with another {differ}: "
                               "name a new study with --study, or run with the same settings"])  # fmt: skip
        return len(study.get_trials(deepcopy=False))


class _Infeasible(Exception):
    pass


class _Stopped(Exception):
    """Ctrl-C reached a running backtest (an ordinary exception, so the backtest cleans up on its way out)."""


# Set by Ctrl-C while a worker runs. The bot's asyncio loop must not see SIGINT itself: asyncio.run turns it into
# a cancellation, which the bot's tasks may absorb, so the signal would be lost.
_STOP = threading.Event()


@contextlib.contextmanager
def _ctrl_c_sets_stop() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _STOP.clear()
    previous = signal.signal(signal.SIGINT, lambda *_: _STOP.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _STOP.clear()


class _Watch:
    """Fed each tick's equity: the running drawdown against the cap, the running objective once per day."""

    def __init__(self, job: Job, trial: Any) -> None:
        self.job, self.trial = job, trial
        self.first: float | None = None
        self.peak = 0.0
        self.day = 0
        self.closes: list[float] = []

    def __call__(self, at: datetime, equity: Decimal) -> None:
        if _STOP.is_set():
            raise _Stopped
        value = float(equity)
        if self.first is None:
            self.first = self.peak = value
            self.closes.append(value)
        self.peak = max(self.peak, value)
        cap = self.job.max_drawdown
        if cap is not None and self.peak > 0 and (self.peak - value) / self.peak > float(cap):
            raise _Infeasible(f"drawdown {(self.peak - value) / self.peak:.4f} passed the cap {cap} on {at:%Y-%m-%d}")
        day = int((at - self.job.start).total_seconds() // DAY)
        if day <= self.day:
            return
        self.day = day
        self.closes.append(value)
        running = self.running(day)
        if running is not None:
            import optuna

            self.trial.report(running, day)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"day {day}: running {self.job.objective} {running:.4f} below the median")

    def running(self, day: int) -> float | None:
        assert self.first is not None
        if self.job.objective == "apr":
            return (self.closes[-1] - self.first) / self.first * 365 / day if self.first > 0 else None
        returns = [b / a - 1 for a, b in zip(self.closes, self.closes[1:], strict=False) if a > 0]
        if len(returns) < 3:
            return None
        mean = sum(returns) / len(returns)
        var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
        return mean / var**0.5 * 365**0.5 if var > 0 else None


def backtest(job: Job, plugins: Plugins, values: Mapping[str, Any], start: datetime, end: datetime,
             on_equity: Any = None, on_progress: Any = None) -> BacktestResult:  # fmt: skip
    """One backtest of the config with `values` set."""
    config = configured(job, plugins, values)
    return asyncio.run(run_backtest(config, plugins, start, end, history_dir=job.history_dir,
                                    out_dir=job.history_dir, on_progress=on_progress, on_equity=on_equity))  # fmt: skip


def configured(job: Job, plugins: Plugins, values: Mapping[str, Any]) -> Config:
    """The job's config with `values` set, validated (`ConfigError` when the combination is refused)."""
    return parse_config(apply(job.config_data, values), plugins)


def run_worker(
    job: Job, worker: int, trials: int, report: Report, plugins: Plugins | None = None, *, shared: bool = False
) -> None:
    """Run `trials` trials of the study (which must exist) in this process, reporting progress events.

    `shared`: other workers run trials of this study at the same time.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # not a traceback per trial stopped by Ctrl-C
    plugins = plugins if plugins is not None else Plugins().load()
    with _storage(job.storage, heartbeat=True) as storage:
        study = optuna.load_study(study_name=job.study, storage=storage, sampler=_sampler(job, worker, shared),
                                  pruner=_pruner(job))  # fmt: skip
        _optimize(study, job, worker, trials, report, plugins)


def _optimize(study: Any, job: Job, worker: int, trials: int, report: Report, plugins: Plugins) -> None:
    import optuna

    total = (job.end - job.start).total_seconds()

    def objective(trial: Any) -> float:
        if _STOP.is_set():
            raise KeyboardInterrupt
        report({"worker": worker, "kind": "trial", "number": trial.number})
        trial.set_user_attr("worker", worker)
        values = job.space.suggest(trial)
        watch = _Watch(job, trial)
        last = [0.0]

        def on_progress(done: float, _: float) -> None:
            if done - last[0] >= total / 50:
                last[0] = done
                report({"worker": worker, "kind": "tick", "number": trial.number, "fraction": done / total})

        try:
            configured(job, plugins, values)
        except ConfigError as exc:  # a combination the config refuses (e.g. severe above erosion threshold)
            trial.set_user_attr("infeasible", "; ".join(exc.problems))
            raise optuna.TrialPruned(exc.problems[0]) from None
        try:  # any other error (no history for the period, a broken store) fails the trial and stops the worker
            result = backtest(job, plugins, values, job.start, job.end, watch, on_progress)
        except _Stopped:
            raise KeyboardInterrupt from None  # Optuna marks the trial failed and stops
        except _Infeasible as exc:
            trial.set_user_attr("infeasible", str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        summary = result.as_dict()
        dd = Decimal(summary["max_drawdown"])
        if job.max_drawdown is not None and dd > job.max_drawdown:
            trial.set_user_attr("infeasible", f"drawdown {dd} passed the cap {job.max_drawdown}")
            raise optuna.TrialPruned(f"drawdown {dd} passed the cap {job.max_drawdown}")
        trial.set_user_attr("figures", figures(summary))  # one write: each is a transaction
        return score(summary, job.objective)

    def after(study: Any, trial: Any) -> None:
        try:
            best = study.best_value
        except ValueError:
            best = None
        report({"worker": worker, "kind": "done", "number": trial.number, "state": trial.state.name,
                "value": trial.value, "best": best})  # fmt: skip
        if _STOP.is_set():
            raise KeyboardInterrupt  # between trials: stop before the next one starts

    with _ctrl_c_sets_stop():
        study.optimize(objective, n_trials=trials, callbacks=[after], gc_after_trial=False)


def _process_main(job: Job, worker: int, trials: int, queue: Any) -> None:
    """A worker process: quiet logs, progress to the parent through `queue`, Ctrl-C ends it without a traceback."""
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    try:
        run_worker(job, worker, trials, queue.put, shared=True)
    except KeyboardInterrupt:
        queue.put({"worker": worker, "kind": "stopped"})
    except Exception as exc:
        queue.put({"worker": worker, "kind": "error", "message": f"{type(exc).__name__}: {exc}"})
    finally:
        queue.put({"worker": worker, "kind": "end"})


def run_study(job: Job, trials: int, workers: int, report: Report, plugins: Plugins | None = None) -> Outcome:
    """Create or join the study and run `trials` trials in all, split over `workers` processes (one: this one).

    Events passed to `report`: {"worker", "kind": "trial" | "tick" | "done" | "stopped" | "error" | "end", ...}.
    Ctrl-C stops every worker; trials finished before it are in the study.
    """
    before = ensure_study(job)
    shares = [trials // workers + (1 if i < trials % workers else 0) for i in range(workers)]
    if workers == 1:
        try:
            run_worker(job, 0, trials, report, plugins, shared=not job.storage.startswith("sqlite"))
        except KeyboardInterrupt:
            return Outcome(_finished(job) - before, interrupted=True)
        return Outcome(_finished(job) - before)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads and open databases
    queue = context.Queue()
    procs = [context.Process(target=_process_main, args=(job, i, n, queue), daemon=True)
             for i, n in enumerate(shares) if n > 0]  # fmt: skip
    for proc in procs:
        proc.start()
    running, errors, interrupted = len(procs), [], False
    try:
        while running:
            try:
                event = queue.get(timeout=1.0)
            except Empty:
                if not any(proc.is_alive() for proc in procs):  # a worker killed before it could say "end"
                    break
                continue
            if event["kind"] == "end":
                running -= 1
            elif event["kind"] == "error":
                errors.append(f"worker {event['worker'] + 1}: {event['message']}")
            report(event)
    except KeyboardInterrupt:
        interrupted = True
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGINT)
    for proc in procs:
        proc.join(timeout=60)
        if proc.is_alive():
            proc.terminate()
            proc.join()
    return Outcome(_finished(job) - before, interrupted=interrupted, errors=tuple(errors))


def _finished(job: Job) -> int:
    with opened_study(job) as study:
        return sum(1 for t in study.get_trials(deepcopy=False) if t.state.is_finished())


def summarize(job: Job, top: int = 10) -> dict[str, Any]:
    """The study as data: counts per state, the best trials (config values and figures); deterministic."""
    import optuna

    with opened_study(job) as study:
        trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]
    ranked = sorted(complete, key=lambda t: (-float(t.value or 0.0), t.number))[:top]
    rows = [{"number": t.number, "value": t.value, "params": job.space.config_values(t.params),
             **{k: t.user_attrs.get("figures", {}).get(k) for k in FIGURES}} for t in ranked]  # fmt: skip
    return {
        "study": job.study,
        "objective": job.objective,
        "max_drawdown_cap": str(job.max_drawdown) if job.max_drawdown is not None else None,
        "from": job.start.isoformat(),
        "to": job.end.isoformat(),
        "space": job.space.as_dict(),
        "trials": dict(sorted(states.items())),
        "best": rows[0] if rows else None,
        "top": rows,
    }


def best_config(job: Job, params: Mapping[str, Any], plugins: Plugins | None) -> dict[str, Any]:
    """The config file's tables with the best values set, validated as a whole."""
    data = apply(job.config_data, params)
    parse_config(data, plugins)
    return data
