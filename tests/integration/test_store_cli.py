"""`fundarb db upgrade|current` and `fundarb export`, as an operator runs them."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from fundarb_core.cli._db import db
from fundarb_core.cli._export import export
from fundarb_core.clock import SimClock
from fundarb_core.model import Side
from fundarb_core.store import LATEST_VERSION, Store


async def _v1_store(path: Path) -> None:
    async with await Store.open(path, migrate=False, clock=SimClock()) as store:
        await store.migrate(target=1)
        await store.orders.record_intent(
            client_order_id="c1", venue="aster", symbol="BTC", side=Side.SELL, quantity=Decimal("2"), price=None
        )
        await store.fills.add(
            venue="aster",
            venue_fill_id="f1",
            client_order_id="c1",
            quantity=Decimal("2"),
            price=Decimal("64000.123456789"),
            fee=Decimal("0.0000001"),
            at=store.clock.now(),
        )


@pytest.mark.slow
def test_upgrade_then_export_through_the_real_command(fundarb, tmp_path: Path) -> None:
    path = tmp_path / "data" / "fundarb.sqlite3"
    path.parent.mkdir()
    asyncio.run(_v1_store(path))
    config = tmp_path / "fundarb.toml"
    config.write_text(f'[bot]\ndata_dir = "{path.parent}"\n')

    run = fundarb("db", "current", "--config", str(config))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[1:] == [
        "current: 1",
        f"latest: {LATEST_VERSION}",
        "run `fundarb db upgrade` to upgrade (the bot also upgrades when it starts)",
    ]

    run = fundarb("db", "upgrade", "--config", str(config))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"store: sqlite+aiosqlite:///{path}"
    assert lines[1] == f"upgraded from version 1 to version {LATEST_VERSION}"
    backup = Path(lines[2].removeprefix("backup: "))
    assert backup.parent == path.parent
    assert backup.is_file()

    out = tmp_path / "fills.json"
    run = fundarb("export", "--what", "fills", "--format", "json", "--out", str(out), "--config", str(config))
    assert run.returncode == 0, run.stderr
    [fill] = json.loads(out.read_text())
    assert (fill["price"], fill["fee"], fill["side"]) == ("64000.123456789", "0.0000001", "sell")


def test_current_on_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite3"
    result = CliRunner().invoke(db, ["current", "--url", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == ["current: none (no database file yet)", f"latest: {LATEST_VERSION}"]
    assert not path.exists()


def test_upgrade_creates_a_store_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = CliRunner().invoke(db, ["upgrade", "--url", url])
    assert first.exit_code == 0, first.output
    assert f"upgraded from an empty database to version {LATEST_VERSION}" in first.output
    second = CliRunner().invoke(db, ["upgrade", "--url", url])
    assert second.output.splitlines()[1] == f"already at version {LATEST_VERSION} (latest)"
    current = CliRunner().invoke(db, ["current", "--url", url])
    assert current.output.splitlines()[1:] == [f"current: {LATEST_VERSION}", f"latest: {LATEST_VERSION}"]


def test_export_csv_to_stdout_and_refusals(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    asyncio.run(_v1_store(path))
    old = CliRunner().invoke(export, ["--what", "fills", "--url", str(path)])
    assert old.exit_code == 1
    assert "schema version 1" in old.stderr
    assert "fundarb db upgrade" in old.stderr
    assert CliRunner().invoke(db, ["upgrade", "--url", str(path)]).exit_code == 0
    result = CliRunner().invoke(export, ["--what", "fills", "--format", "csv", "--url", str(path)])
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.startswith("id,at,venue,symbol,side,quantity,price,fee")
    assert ",64000.123456789,0.0000001," in row
    missing = CliRunner().invoke(export, ["--what", "funding", "--url", str(tmp_path / "nope.db")])
    assert missing.exit_code == 1
    assert "no store at" in missing.stderr


def test_config_and_url_together_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(db, ["current", "--url", "x.db", "--config", str(tmp_path / "c.toml")])
    assert result.exit_code == 2
    assert result.stderr.strip() == "give --config or --url, not both"


def test_an_invalid_config_is_reported_per_key(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[store]\nurl = 5\n")
    result = CliRunner().invoke(db, ["current", "--config", str(config)])
    assert result.exit_code == 2
    assert result.stderr.startswith("store.url:")


def test_a_password_in_the_url_is_never_printed() -> None:
    result = CliRunner().invoke(db, ["current", "--url", "postgresql://bot:pw-Qq73zz@127.0.0.1:1/fundarb"])
    assert result.exit_code == 1
    assert "pw-Qq73zz" not in result.output
    assert "postgresql+asyncpg://bot:***@127.0.0.1:1/fundarb" in result.output
