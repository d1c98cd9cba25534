"""The benchmark scripts run (their figures are not checked: benchmarks are not timed tests)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
def test_cli_startup_prints_a_median(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("cli_startup_benchmark", BENCHMARKS / "cli_startup.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--runs", "2", "--", "--version"]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"fundarb --version: median \d+\.\d ms \(min \d+\.\d, max \d+\.\d, 2 runs\)\n", out), out


def test_action_runner_prints_its_figures(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("action_runner_benchmark", BENCHMARKS / "action_runner.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr("sys.argv", ["action_runner.py", "--plans", "5"])
    module.main()
    out = capsys.readouterr().out
    assert re.search(r"SQLite: 5 plans × 4 actions: [\d,]+ actions/s, \d+\.\d\d ms per action", out), out
    assert re.search(r"per plan \(submit → last action succeeded\): p50 \d+\.\d ms", out), out


def test_open_modes_prints_both_modes_and_their_difference(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("open_modes_benchmark", BENCHMARKS / "open_modes.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr("sys.argv", ["open_modes.py", "--trials", "2"])
    module.main()
    out = capsys.readouterr().out
    for mode in ("both_maker", "maker_hedge"):
        assert re.search(rf"open {mode}: 2 opens of ~1000 USD, ok 2\n  cost_bps mean [+-]\d+\.\d\d", out), out
    assert re.search(r"maker_hedge − both_maker, basis \+ fees per open .*: [+-]\d+\.\d\d ± \d+\.\d\d bp", out), out


def test_strategy_backtests_build_valid_configs_for_both_rule_sets() -> None:
    """The earlier rules and the defaults, for every period's venues, are configs the bot accepts (the script's
    backtests are too long for a test; its configs rot silently when keys are renamed)."""
    from fundarb_core.config import parse_config
    from fundarb_core.plugins import Plugins

    spec = importlib.util.spec_from_file_location("strategy_backtests", BENCHMARKS / "strategy_backtests.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugins = Plugins().load()
    for _name, _part, venues, _start, _end in module.PERIODS:
        old = parse_config(module.config_for(venues, old=True), plugins)
        new = parse_config(module.config_for(venues, old=False), plugins)
        assert set(old.venues) == set(new.venues) == set(venues)
        assert old.strategy.signal_window.total_seconds() == 0 < new.strategy.signal_window.total_seconds()
        assert old.strategy.open_mode != new.strategy.open_mode
