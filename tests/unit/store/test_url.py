"""Where the store lives, and that a password in its URL never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from fundarb_core.config import BotConfig, Config, StoreConfig
from fundarb_core.errors import StoreError
from fundarb_core.secrets import redact
from fundarb_core.store import Backend, Store, default_data_dir, mask_url, resolve_location


def test_no_url_means_a_sqlite_file_in_the_user_data_dir() -> None:
    location = resolve_location(None)
    assert location.backend is Backend.SQLITE
    assert location.path == default_data_dir() / "fundarb.sqlite3"
    assert "fundarb" in default_data_dir().parts[-1]


def test_the_bot_data_dir_takes_precedence(tmp_path: Path) -> None:
    location = resolve_location(None, data_dir=tmp_path)
    assert location.path == tmp_path / "fundarb.sqlite3"
    assert location.url.render_as_string() == f"sqlite+aiosqlite:///{tmp_path}/fundarb.sqlite3"


@pytest.mark.parametrize("given", ["PATH", "sqlite:///PATH", "sqlite+aiosqlite:///PATH"])
def test_paths_and_sqlite_urls(tmp_path: Path, given: str) -> None:
    path = tmp_path / "x.db"
    location = resolve_location(given.replace("PATH", str(path)))
    assert (location.backend, location.path) == (Backend.SQLITE, path)


def test_relative_and_home_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_location("data/f.db").path == tmp_path / "data" / "f.db"
    assert resolve_location("~/f.db").path == tmp_path / "home" / "f.db"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+asyncpg"])
def test_postgres_urls_use_asyncpg(scheme: str) -> None:
    location = resolve_location(f"{scheme}://bot@db.internal:5433/fundarb")
    assert location.backend is Backend.POSTGRESQL
    assert location.url.drivername == "postgresql+asyncpg"
    assert location.display == "postgresql+asyncpg://bot@db.internal:5433/fundarb"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("postgresql+psycopg://u@h/db", "driver 'psycopg' is not supported"),
        ("sqlite://", "in-memory SQLite store would lose everything"),
        ("sqlite:///:memory:", "in-memory"),
    ],
)
def test_unusable_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        resolve_location(url)


def test_passwords_are_masked_everywhere() -> None:
    url = "postgresql://bot:hunter2-Xy9@db:5432/fundarb?sslmode=require&password=other-Secret7"
    location = resolve_location(url)
    assert location.display == "postgresql+asyncpg://bot:***@db:5432/fundarb?password=***&sslmode=require"
    assert "hunter2" not in repr(location)
    assert mask_url(url) == "postgresql://bot:***@db:5432/fundarb?password=***&sslmode=require"
    # The password is now a known secret: the log sink and redact() mask it wherever it appears.
    assert redact("auth failed for hunter2-Xy9 / other-Secret7") == "auth failed for *** / ***"


async def test_a_connection_failure_names_the_store_without_its_password() -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    with pytest.raises(StoreError) as info:
        await Store.open("postgresql://bot:pw-Zq81xx@127.0.0.1:1/fundarb")
    message = str(info.value)
    assert "127.0.0.1:1" in message
    assert "***" in message
    assert "pw-Zq81xx" not in message
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


async def test_from_config_uses_store_url_then_data_dir(tmp_path: Path) -> None:
    config = Config(bot=BotConfig(data_dir=tmp_path / "data"), store=StoreConfig())
    async with await Store.from_config(config) as store:
        assert store.location.path == tmp_path / "data" / "fundarb.sqlite3"
        assert store.location.path.exists()
    other = Config(bot=BotConfig(data_dir=tmp_path / "data"), store=StoreConfig(url=str(tmp_path / "o.db")))
    async with await Store.from_config(other) as store:
        assert store.location.path == tmp_path / "o.db"


async def test_the_sqlite_file_is_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "s.db") as store, store._db.read() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 2  # FULL
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
