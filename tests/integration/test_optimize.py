"""`fundarb optimize` over tiny backtests (one symbol on two replay venues, a few hours): reproducible for one
worker, the best parameters written as a config the backtest accepts, the drawdown cap, Ctrl-C, and two worker
processes sharing one study on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import fundarb_close_maker_first.plugin as maker_first
import fundarb_risk_standard.plugin as risk_standard
import optuna
import pytest
import sqlalchemy as sa
import tomli_w
from click.testing import CliRunner

from fundarb_core.app.optimize import (
    Job,
    close_storage,
    ensure_study,
    open_storage,
    opened_study,
    run_study,
    summarize,
)
from fundarb_core.app.optimize_space import parse_space
from fundarb_core.cli import main
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins
from fundarb_core.store.history import HistoryStore
from fundarb_core.venues.replay.synthetic import (
    CANDLE_HEADER,
    FUNDING_HEADER,
    synthetic_candles,
    synthetic_funding,
    write_csv,
)

START = datetime(2025, 2, 1, tzinfo=UTC)
FROM, TO = START + timedelta(hours=2), START + timedelta(hours=6)
PG_ENV = "FUNDARB_TEST_DATABASE_URL"

VENUE = {"kind": "replay", "maker_fee": "0.0002", "taker_fee": "0.0005", "spread_bps": "2"}
CONFIG: dict[str, Any] = {
    "bot": {"log_level": "WARNING"},
    "venues": {"fast": {**VENUE}, "slow": {**VENUE, "funding_interval": "8h"}},
    "strategy": {"scan_interval": "1h", "monitor_interval": "1h", "min_net_apr": "0", "position_size_usd": "1000",
                 "entry_hold": "168h", "max_positions": 3, "open_timeout": "5s",
                 "signal_window": "0s"},  # a few hours of history: the latest quotes, so that the trials trade
    "close_policy": {"kind": "maker_first", "timeout": "5s"},
    "risk_manager": {"kind": "max_age", "max_age": "4h"},
}  # fmt: skip
SPACE: dict[str, Any] = {
    "strategy": {"position_size_usd": {"type": "int", "low": 200, "high": 3000, "step": 100}},
    "risk_manager": {"max_age": {"type": "int", "low": 1, "high": 3, "unit": "h"}},
}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("history")
    with HistoryStore.open(root) as store:
        for venue, interval in (("fast", 1), ("slow", 8)):
            write_csv(root / f"{venue}-f.csv", FUNDING_HEADER,
                      synthetic_funding(venue, ["AAA"], START, 8, seed=5, interval_hours=interval))  # fmt: skip
            write_csv(root / f"{venue}-c.csv", CANDLE_HEADER, synthetic_candles(venue, ["AAA"], START, 8, seed=5))
            store.import_csv(root / f"{venue}-f.csv")
            store.import_csv(root / f"{venue}-c.csv")
    return root


def loaded_plugins() -> Plugins:
    loaded = Plugins().load(entry_points=False)
    loaded.register(maker_first, name="close_maker_first", distribution="fundarb-close-maker-first")
    loaded.register(risk_standard, name="risk_standard", distribution="fundarb-risk-standard")
    return loaded


def make_job(history: Path, storage: str, **kwargs: Any) -> Job:
    plugins = loaded_plugins()
    space = parse_space(kwargs.pop("space", SPACE), CONFIG, plugins)
    return Job(config_data=CONFIG, space=space, start=FROM, end=TO, history_dir=history, storage=storage,
               study=kwargs.pop("study", "t"), **kwargs)  # fmt: skip


def test_one_worker_is_reproducible_and_its_best_config_backtests_to_its_value(history: Path, tmp_path: Path) -> None:
    config, space = tmp_path / "bt.toml", tmp_path / "space.toml"
    config.write_text(tomli_w.dumps(CONFIG), encoding="utf-8")
    space.write_text(tomli_w.dumps(SPACE), encoding="utf-8")
    runs = []
    for run in ("a", "b"):
        args = ["optimize", "--config", str(config), "--space", str(space), "--trials", "2", "--seed", "7",
                "--from", FROM.isoformat(), "--to", TO.isoformat(), "--data-dir", str(history),
                "--storage", f"sqlite:///{tmp_path / run}.sqlite3", "--out", str(tmp_path / run), "--json"]  # fmt: skip
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        runs.append(json.loads(result.stdout))
    first, second = runs
    assert first["study"]["top"] == second["study"]["top"], "same seed, same trials, same figures"
    assert len({json.dumps(r["params"], sort_keys=True) for r in first["study"]["top"]}) > 1, "the space was searched"
    best = first["study"]["best"]
    assert best["value"] == max(r["value"] for r in first["study"]["top"])
    # best.toml is a whole config: the backtest takes it and scores exactly what the best trial scored.
    written = tmp_path / "a" / "best.toml"
    args = ["backtest", "--config", str(written), "--data-dir", str(history), "--from", FROM.isoformat(),
            "--to", TO.isoformat(), "--out", str(tmp_path / "bt"), "--json"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert Decimal(json.loads(result.stdout)["apr"]) == Decimal(str(best["value"]))
    report = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert report.count("data:image/png;base64,") >= 1
    assert (tmp_path / "a" / "history.png").stat().st_size > 1000


def test_walk_forward_scores_each_windows_best_on_the_next_window(history: Path, tmp_path: Path) -> None:
    config, space = tmp_path / "bt.toml", tmp_path / "space.toml"
    config.write_text(tomli_w.dumps(CONFIG), encoding="utf-8")
    space.write_text(tomli_w.dumps({"risk_manager": SPACE["risk_manager"]}), encoding="utf-8")
    args = ["optimize", "--config", str(config), "--space", str(space), "--trials", "1", "--walk-forward", "2h:2h",
            "--from", FROM.isoformat(), "--to", (FROM + timedelta(hours=6)).isoformat(), "--data-dir", str(history),
            "--storage", f"sqlite:///{tmp_path}/o.sqlite3", "--out", str(tmp_path / "out"), "--json"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    walk = json.loads(result.stdout)["walk_forward"]
    hours = [[FROM + timedelta(hours=h) for h in span] for span in ([0, 2], [2, 4], [2, 4], [4, 6])]
    expected = [{"train": [a.isoformat(), b.isoformat()], "test": [c.isoformat(), d.isoformat()]}
                for (a, b), (c, d) in [(hours[0], hours[1]), (hours[2], hours[3])]]  # fmt: skip
    assert [{"train": w["train"], "test": w["test"]} for w in walk["windows"]] == expected
    storage = open_storage(f"sqlite:///{tmp_path}/o.sqlite3")
    try:
        for w in walk["windows"]:
            study = optuna.load_study(study_name=w["study"], storage=storage)
            assert w["in_sample"]["objective"] == study.best_value  # the window's best, on its own training days
            assert w["out_of_sample"]["objective"] == float(w["out_of_sample"]["apr"])  # scored on the next days
    finally:
        close_storage(storage)
    oos = sum(Decimal(w["out_of_sample"]["net_pnl"]) for w in walk["windows"])
    assert Decimal(walk["out_of_sample_net_pnl"]) == oos
    assert "Walk-forward" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_a_trial_past_the_drawdown_cap_is_infeasible_and_never_best(history: Path, tmp_path: Path) -> None:
    job = make_job(history, f"sqlite:///{tmp_path}/o.sqlite3", max_drawdown=Decimal("0.0000001"),
                   space={"risk_manager": SPACE["risk_manager"]})  # fmt: skip
    outcome = run_study(job, 1, 1, lambda _: None, loaded_plugins())
    assert outcome.trials_run == 1
    with opened_study(job) as study:
        (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial.user_attrs["infeasible"].startswith("drawdown ")
    assert summarize(job)["best"] is None


def test_ctrl_c_keeps_the_finished_trials(history: Path, tmp_path: Path) -> None:
    job = make_job(history, f"sqlite:///{tmp_path}/o.sqlite3", space={"risk_manager": SPACE["risk_manager"]})

    def report(event: dict[str, Any]) -> None:
        if event["kind"] == "tick" and event["number"] == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the second trial's backtest runs

    outcome = run_study(job, 5, 1, report, loaded_plugins())
    assert outcome.interrupted
    with opened_study(job) as study:
        states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "Ctrl-C is Python's own again"
    assert summarize(job)["best"]["number"] == 0


def test_a_study_made_with_other_settings_is_refused(history: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/o.sqlite3"
    ensure_study(make_job(history, storage))
    ensure_study(make_job(history, storage))  # the same settings join
    with pytest.raises(ConfigError, match="made with another objective"):
        ensure_study(make_job(history, storage, objective="sharpe"))


@pytest.fixture
def pg_storage() -> Iterator[str]:
    """A PostgreSQL schema of the test's own (Optuna's tables land there), dropped afterwards."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} not set: the shared-study test needs PostgreSQL, e.g. "
                    "postgresql://postgres@127.0.0.1:5432/test")  # fmt: skip
    base = sa.engine.make_url(url).set(drivername="postgresql+psycopg")
    schema = f"optuna_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.mark.postgres
def test_two_worker_processes_share_one_postgresql_study(history: Path, pg_storage: str) -> None:
    study = f"test-{uuid.uuid4().hex[:12]}"
    job = make_job(history, pg_storage, study=study, space={"risk_manager": SPACE["risk_manager"]})
    events: list[dict[str, Any]] = []
    outcome = run_study(job, 3, 2, events.append)  # two spawned processes: two trials and one
    assert outcome == type(outcome)(trials_run=3)
    with opened_study(job) as loaded:
        trials = loaded.trials
        best_value, best_number = loaded.best_value, loaded.best_trial.number
    assert sorted(t.number for t in trials) == [0, 1, 2], "each trial once"
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert {t.user_attrs["worker"] for t in trials} == {0, 1}, "both workers ran trials"
    assert sorted(e["number"] for e in events if e["kind"] == "done") == [0, 1, 2]
    assert best_value == max(t.value for t in trials if t.value is not None)
    assert best_number in {t.number for t in trials if t.value == best_value}
