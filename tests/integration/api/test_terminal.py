"""`fundarb positions` and `fundarb actions list` on a paper run's store, piped (80 columns): whole words, money
to the cent, and `--wide` for every column."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import tomli_w
from click.testing import CliRunner

from fundarb_core.cli import main
from fundarb_core.model import PositionStatus
from fundarb_core.model.records import PositionRecord
from fundarb_core.store import Store
from tests.integration.api.conftest import config_data


def _config(sqlite_template: Path, tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    shutil.copytree(sqlite_template, data_dir)
    path = tmp_path / "fundarb.toml"
    path.write_text(tomli_w.dumps(config_data(data_dir, tokens=False)), encoding="utf-8")
    return path


async def _positions(data_dir: Path) -> list[PositionRecord]:
    async with await Store.open(None, data_dir=data_dir) as store:
        return await store.positions.list()


def test_positions_piped_at_80_columns_are_readable(sqlite_template: Path, tmp_path: Path) -> None:
    config = _config(sqlite_template, tmp_path)
    stored = asyncio.run(_positions(tmp_path / "data"))
    runner = CliRunner(env={"COLUMNS": "80"})
    result = runner.invoke(main, ["positions", "--config", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.output
    for p in stored:
        assert p.id[:8] in result.output
        if p.status is PositionStatus.CLOSED:
            assert f"{p.realized_pnl:.2f}".replace("-0.00", "0.00") in result.output
    assert not re.search(r"\d\.\d{3,}", result.output), "money is shown to the cent"
    assert "--wide" in result.output
    assert "price" in lines[2]  # id, symbol, status, venues, net, price fit in 80 columns

    wide = runner.invoke(main, ["positions", "--config", str(config), "--wide"])
    assert wide.exit_code == 0, wide.output
    for p in stored:
        assert p.id in wide.output
    assert "not shown" not in wide.output

    actions = runner.invoke(main, ["actions", "list", "--config", str(config)])
    assert actions.exit_code == 0, actions.output
    assert max(len(line) for line in actions.output.splitlines()) <= 80
    assert "awaiting_approval" in actions.output.replace("\n", "") or "awaiting_appro" in actions.output
