"""Backtests over replay venues: the money adds up to the last unit, and the same inputs give the same bytes."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import fundarb_close_maker_first.plugin as maker_first
import fundarb_risk_standard.plugin as risk_standard
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fundarb_core.app.backtest import run_backtest
from fundarb_core.cli import main
from fundarb_core.config import parse_config
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
SYMBOLS = ["AAA", "BBB", "CCC"]
HOURS = 60


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history store with two venues: hourly funding on `fast`, 8-hourly on `slow`, hourly candles on both."""
    root = tmp_path_factory.mktemp("history")
    with HistoryStore.open(root) as store:
        for venue, interval in (("fast", 1), ("slow", 8)):
            rates = synthetic_funding(venue, SYMBOLS, START, HOURS, seed=5, interval_hours=interval)
            funding = write_csv(root / f"{venue}-f.csv", FUNDING_HEADER, rates)
            prices = synthetic_candles(venue, SYMBOLS, START, HOURS, seed=5)
            candles = write_csv(root / f"{venue}-c.csv", CANDLE_HEADER, prices)
            assert funding > 0
            assert candles == len(SYMBOLS) * HOURS
            store.import_csv(root / f"{venue}-f.csv")
            store.import_csv(root / f"{venue}-c.csv")
    return root


def config_data(taker_fee: str = "0.0005", size: str = "1000", spread: str = "2") -> dict[str, Any]:
    venue = {"kind": "replay", "maker_fee": "0.0002", "taker_fee": taker_fee, "spread_bps": spread}
    return {
        "bot": {"log_level": "WARNING"},
        "venues": {"fast": {**venue}, "slow": {**venue, "funding_interval": "8h"}},
        "strategy": {"scan_interval": "1h", "monitor_interval": "1h", "min_net_apr": "0",
                     "position_size_usd": size, "expected_hold": "168h", "max_positions": 3,
                     "signal_window": "0s", "maker_share": "1", "slippage_bps": "0", "half_spread_bps": "0",
                     "open_timeout": "5s"},
        "close_policy": {"kind": "maker_first", "timeout": "5s"},
        "risk_manager": {"kind": "max_age", "max_age": "4h"},
    }  # fmt: skip


def plugins() -> Plugins:
    loaded = Plugins().load(entry_points=False)
    loaded.register(maker_first, name="close_maker_first", distribution="fundarb-close-maker-first")
    loaded.register(risk_standard, name="risk_standard", distribution="fundarb-risk-standard")
    return loaded


# Each example is a whole backtest (about a second): few examples, and no shrinking (a failure prints its inputs).
@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    taker_fee=st.sampled_from(["0", "0.0005", "0.0011"]),
    size=st.sampled_from(["200", "1000", "3000"]),
    spread=st.sampled_from(["0", "2", "10"]),
    hours=st.integers(min_value=5, max_value=12),
)
def test_money_adds_up_to_the_last_unit(
    history: Path, tmp_path: Path, taker_fee: str, size: str, spread: str, hours: int
) -> None:
    loaded = plugins()
    config = parse_config(config_data(taker_fee, size, spread), loaded)
    result = asyncio.run(
        run_backtest(config, loaded, START + timedelta(hours=2), START + timedelta(hours=2 + hours),
                     history_dir=history, out_dir=tmp_path / "out")
    )  # fmt: skip
    assert result.fills > 0, "the strategy traded"
    # The venues' accounts: equity change = price PnL (realised + marked) + funding − fees, exactly.
    assert result.net == result.price_pnl + result.funding - result.fees
    # The bot's own books (fills and funding payments in its store, per position) say the same, to the unit.
    positions = result.positions
    books = sum((Decimal(p["price_pnl"]) + Decimal(p["funding"]) - Decimal(p["fees"]) for p in positions), Decimal(0))
    assert books == result.net.quantize(Decimal("1e-8"))
    assert result.liquidations == 0


def test_two_runs_print_identical_json(history: Path, tmp_path: Path) -> None:
    path = tmp_path / "bt.toml"
    import tomli_w

    path.write_text(tomli_w.dumps(config_data()), encoding="utf-8")
    args = ["backtest", "--config", str(path), "--data-dir", str(history), "--from", "2025-02-01T03:00:00",
            "--to", "2025-02-01T13:00:00", "--out", str(tmp_path / "out"), "--json"]  # fmt: skip
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    assert first.stdout == second.stdout
    summary = json.loads(first.stdout)
    assert summary["trades"] > 0
    assert Decimal(summary["net_pnl"]) == Decimal(summary["price_pnl"]) + Decimal(summary["funding"]) - Decimal(
        summary["fees"]
    )
    assert (tmp_path / "out" / "equity.png").stat().st_size > 1000
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in report
    assert "http" not in report.replace("http-equiv", "")  # offline: nothing fetched from anywhere


def test_the_collector_thresholds_are_raised_during_a_backtest_and_restored_after(
    history: Path, tmp_path: Path
) -> None:
    import gc

    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    loaded = plugins()
    config = parse_config(config_data(), loaded)
    asyncio.run(
        run_backtest(config, loaded, START + timedelta(hours=2), START + timedelta(hours=5), history_dir=history,
                     out_dir=tmp_path / "out", on_equity=lambda *_: seen.append(gc.get_threshold()))
    )  # fmt: skip
    assert seen
    assert all(t[0] > before[0] for t in seen)  # a larger first generation while the bot runs
    assert gc.get_threshold() == before  # and the process's own thresholds after
