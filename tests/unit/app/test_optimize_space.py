"""The search space of `fundarb optimize`: checked against the config model, drawn values in range and valid;
walk-forward windows; the running objective reported to the pruner once per simulated day."""

from __future__ import annotations

import itertools
import re
import tomllib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import optuna
import pytest
import tomli_w
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from fundarb_core.app.optimize import Job, _Watch, open_storage
from fundarb_core.app.optimize_space import Param, Space, apply, load_space, parse_space
from fundarb_core.app.optimize_walk import windows
from fundarb_core.cli import main
from fundarb_core.config import parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins

CONFIG: dict[str, Any] = {
    "venues": {"a": {"kind": "sim"}, "b": {"kind": "sim"}},
    "strategy": {"min_net_apr": "0.2", "max_positions": 4},
}


def problems(space: dict[str, Any], plugins: Plugins, config: dict[str, Any] = CONFIG) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_space(space, config, plugins)
    return list(exc.value.problems)


def test_a_good_space_parses_in_file_order(plugins: Plugins) -> None:
    space = parse_space(
        {"strategy": {"min_net_apr": {"type": "float", "low": "0.05", "high": "0.5", "step": "0.05"},
                      "expected_hold": {"type": "int", "low": 12, "high": 96, "unit": "h"},
                      "max_positions": {"type": "categorical", "choices": [2, 4, 8]}}},
        CONFIG, plugins,
    )  # fmt: skip
    assert [p.path for p in space.params] == [
        "strategy.min_net_apr",
        "strategy.expected_hold",
        "strategy.max_positions",
    ]
    assert space.params[1].config_value(24) == "24h"


def test_each_problem_is_one_line_naming_its_key(plugins: Plugins) -> None:
    lines = problems(
        {
            "strategy": {
                "min_net_aprr": {"type": "float", "low": "0.05", "high": "0.5"},  # misspelt key
                "max_positions": {"type": "float", "low": 1, "high": 10},  # an integer key given decimals
                "leverage": {"type": "int", "low": -2, "high": 5},  # leaves the key's allowed values
                "expected_hold": {"type": "int", "low": 5, "high": 2, "unit": "h"},  # empty range
                "scan_interval": {"type": "integer", "low": 1, "high": 2},
                "min_net_apr": {"type": "float", "low": "x", "high": "1", "stepp": 1},
            },
            "bot": {"log_level": {"type": "categorical", "choices": ["INFO"]}},
        },
        plugins,
    )
    expected = [
        "strategy.min_net_aprr: unknown key (did you mean 'min_net_apr'?)",
        "strategy.max_positions: expected an integer",
        "strategy.leverage: must be positive",
        "strategy.expected_hold: low (5) must be below high (2)",
        "strategy.scan_interval.type: expected",
        "strategy.min_net_apr.stepp: unknown field",
        "strategy.min_net_apr.low: expected a number",
        "bot: not a tunable section",
    ]
    for start in expected:
        assert sum(line.startswith(start) for line in lines) == 1, (start, lines)
    assert len(lines) == len(expected), lines


def test_a_plugin_section_is_checked_by_the_plugin_and_must_exist(plugins: Plugins) -> None:
    config = {**CONFIG, "close_policy": {"kind": "market_only"}}
    assert problems({"close_policy": {"timeout": {"type": "int", "low": 1, "high": 5, "unit": "s"}}}, plugins, config)
    lines = problems({"risk_manager": {"max_age": {"type": "int", "low": 1, "high": 5, "unit": "h"}}}, plugins)
    assert lines == ["risk_manager.max_age: the config has no [risk_manager] section (its kind) to tune"]


def test_the_cli_says_one_line_per_problem_and_exits_2_without_traceback(tmp_path: Path) -> None:
    config, space = tmp_path / "c.toml", tmp_path / "s.toml"
    config.write_text(tomli_w.dumps(CONFIG), encoding="utf-8")
    space.write_text(
        tomli_w.dumps({"strategy": {"min_net_aprr": {"type": "float", "low": "0", "high": "1"},
                                    "max_positions": {"type": "float", "low": "1", "high": "9"}}}),
        encoding="utf-8",
    )  # fmt: skip
    args = ["optimize", "--config", str(config), "--space", str(space), "--from", "2025-01-01", "--to", "2025-01-02",
            "--data-dir", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{space}: strategy.min_net_aprr: unknown key")
    assert lines[1].startswith(f"{space}: strategy.max_positions: expected an integer")
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@given(
    low=st.integers(0, 50),
    span=st.integers(1, 40),
    step=st.sampled_from(["0.01", "0.05", "0.25", "1"]),
    pick=st.floats(0, 1),
)
def test_a_drawn_float_is_a_step_on_the_range_and_valid_in_the_config(
    low: int, span: int, step: str, pick: float
) -> None:
    step_d = Decimal(step)
    param = Param("strategy.min_net_apr", "float", low=low * step_d, high=(low + span) * step_d, step=step_d)
    k = round(pick * span)
    drawn = float(low * step_d + k * step_d)  # Optuna hands back a float: 0.07 is 0.07000000000000000666…
    value = param.suggest(optuna.trial.FixedTrial({param.path: drawn}))
    assert Decimal(value) == (low + k) * step_d
    assert parse_config(apply(CONFIG, {param.path: value}), None).strategy.min_net_apr == (low + k) * step_d


def test_a_drawn_duration_carries_its_unit(plugins: Plugins) -> None:
    space = Space((Param("strategy.expected_hold", "int", low=Decimal(1), high=Decimal(9), unit="h"),))
    values = space.suggest(optuna.trial.FixedTrial({"strategy.expected_hold": 7}))
    assert values == {"strategy.expected_hold": "7h"}
    assert parse_config(apply(CONFIG, values), plugins).strategy.expected_hold == timedelta(hours=7)


@given(days=st.integers(1, 200), train=st.integers(1, 60), test=st.integers(1, 30))
def test_walk_forward_windows_are_contiguous_and_inside(days: int, train: int, test: int) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=days)
    spans = windows(start, end, timedelta(days=train), timedelta(days=test))
    assert len(spans) == max(0, (days - train - test) // test + 1)
    for a, b, c in spans:
        assert start <= a < b < c <= end
        assert (b - a, c - b) == (timedelta(days=train), timedelta(days=test))
    for (_, _, c1), (_, b2, _) in itertools.pairwise(spans):
        assert b2 == c1  # each test window starts where the previous one ended: no day tested twice or skipped


class FakeTrial:
    def __init__(self, prune_at: int | None) -> None:
        self.reports: list[tuple[int, float]] = []
        self.prune_at = prune_at

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return self.prune_at is not None and self.reports[-1][0] >= self.prune_at


def job(objective: str = "apr", cap: str | None = None) -> Job:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return Job(config_data={}, space=Space(()), start=start, end=start + timedelta(days=10), history_dir=Path("."),
               storage="sqlite://", study="t", objective=objective,
               max_drawdown=Decimal(cap) if cap else None)  # fmt: skip


def feed(watch: _Watch, equities: list[int]) -> None:
    for hour, equity in enumerate(equities):
        watch(watch.job.start + timedelta(hours=hour), Decimal(equity))


def test_the_running_apr_is_reported_once_a_day_and_prunes() -> None:
    trial = FakeTrial(prune_at=None)
    feed(_Watch(job(), trial), [1000] + [1000 + h for h in range(1, 73)])
    assert [step for step, _ in trial.reports] == [1, 2, 3]
    day1 = trial.reports[0][1]
    assert day1 == pytest.approx(24 / 1000 * 365)  # equity 1024 at the first tick of day 1
    trial = FakeTrial(prune_at=2)
    with pytest.raises(optuna.TrialPruned):
        feed(_Watch(job(), trial), [1000] * 80)
    assert [step for step, _ in trial.reports] == [1, 2]


def test_a_drawdown_past_the_cap_stops_the_trial_where_it_passes() -> None:
    watch = _Watch(job(cap="0.05"), FakeTrial(prune_at=None))
    feed(watch, [1000, 1100, 1050])  # 4.5 % below the peak: allowed
    with pytest.raises(Exception, match=re.escape("drawdown 0.0545 passed the cap 0.05")):
        feed(watch, [1040])


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("nonsense", "not a database URL"),
        ("postgresql://fundarb:hunter2@127.0.0.1:1/optuna", "cannot open the study storage (OperationalError"),
    ],
)
def test_a_bad_storage_is_one_line_without_its_password(url: str, says: str) -> None:
    with pytest.raises(ConfigError) as exc:
        open_storage(url)
    (line,) = exc.value.problems
    assert says in line
    assert "hunter2" not in line


def test_the_shipped_demo_space_fits_the_shipped_demo_config() -> None:
    """The demo space names keys of the demo config's model (it rots silently when strategy keys are renamed)."""
    plugins = Plugins().load()  # the installed plugins: the demo names `maker_first` and `combined`
    demo = Path(__file__).parents[3] / "fundarb_core" / "data" / "demo"
    config = tomllib.loads((demo / "demo.toml").read_text(encoding="utf-8"))
    space = load_space(demo / "space.toml", config, plugins)
    assert {p.path for p in space.params} >= {"strategy.entry_hold", "strategy.signal_window", "risk_manager.exit_apr"}
