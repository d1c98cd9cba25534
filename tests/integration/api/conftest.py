"""The API over a real store that a short paper run on simulated venues filled (SQLite; PostgreSQL when
FUNDARB_TEST_DATABASE_URL is set), served in-process (httpx over ASGI) or on 127.0.0.1 by uvicorn in a thread."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from fundarb_core.actions import RebalanceAction
from fundarb_core.app.api import bind, create_app, serve_forever, server_for
from fundarb_core.config import Config, parse_config
from fundarb_core.store import Store, resolve_location
from fundarb_core.strategy.exits import ExitRules, Waterfall
from tests.integration.actions.conftest import action_plugins
from tests.integration.bot.conftest import Harness

PG_ENV = "FUNDARB_TEST_DATABASE_URL"
READ_TOKEN = "read-token-7f3a9c1e5b"
OPERATOR_TOKEN = "operator-token-2d8e4b6a0c"
TOKEN_ENV = {"FUNDARB_TEST_READ_TOKEN": READ_TOKEN, "FUNDARB_TEST_OPERATOR_TOKEN": OPERATOR_TOKEN}
SYMBOLS = ["BTC", "ETH", "SOL"]


def config_data(data_dir: Path, url: str | None = None, *, tokens: bool = True, **sections: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "bot": {"data_dir": str(data_dir), "log_level": "WARNING"},
        "store": {"url": url} if url else {},
        "venues": {
            "aster_sim": {"kind": "sim", "profile": "aster-like", "seed": 7, "symbols": SYMBOLS},
            "lighter_sim": {"kind": "sim", "profile": "lighter-like", "seed": 7, "symbols": SYMBOLS},
        },
        # The latest quotes and the earlier bot's cheap costs: the short run opens from its first tick.
        "strategy": {
            "scan_interval": "5m",
            "monitor_interval": "5m",
            "min_net_apr": "0.05",
            "max_new_per_tick": 1,
            "signal_window": "0s",
            "entry_hold": "168h",
            "maker_share": "1",
            "slippage_bps": "0",
            "half_spread_bps": "0",
        },
        "close_policy": {"kind": "maker_first"},
        "transfers": {"desk": {"kind": "manual", "approval_limit": "50"}},
        "actions": {"batch_window": "0s"},
        "serve": {"read_token": "env:FUNDARB_TEST_READ_TOKEN", "operator_token": "env:FUNDARB_TEST_OPERATOR_TOKEN"}
        if tokens
        else {},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return data


def make_config(data_dir: Path, url: str | None = None, **kwargs: Any) -> Config:
    for name, value in TOKEN_ENV.items():
        os.environ.setdefault(name, value)
    return parse_config(config_data(data_dir, url, **kwargs), action_plugins())


def harness(data_dir: Path, url: str | None = None, **kwargs: Any) -> Harness:
    plugins = action_plugins()
    h = Harness(make_config(data_dir, url, **kwargs), plugins)
    # The earlier bot's exit rules (ratios to the entry spread, no minimum hold): the short run also closes some.
    h.bot.closer.fallback = Waterfall.of(
        ExitRules(exit_apr=None, erosion_threshold=Decimal("0.5"), severe_erosion_threshold=Decimal("0.2"),
                  min_hold=timedelta(0), settlement_wait=timedelta(0))
    )  # fmt: skip
    return h


def paper_run(h: Harness, duration: timedelta = timedelta(hours=8)) -> None:
    """Run the bot for `duration` of simulated time, then leave a manual transfer waiting for approval."""
    h.run(h.bot.run(duration=duration))
    h.call(lambda: h.bot.runner.submit([RebalanceAction(
        "transfer_funds", None, "rebalance", {"from_venue": "aster_sim", "to_venue": "lighter_sim", "amount": "200"}
    )]))  # fmt: skip
    h.call(lambda: h.bot.run_actions())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store filled by one paper run (shared, copied per test)."""
    data_dir = tmp_path_factory.mktemp("paper") / "data"
    h = harness(data_dir)
    try:
        paper_run(h)
    finally:
        h.close()
    return data_dir


async def _pg(url: str, statement: str) -> None:
    engine = create_async_engine(resolve_location(url).url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


@attrs.frozen
class Filled:
    """A filled store: its URL (None: the SQLite file in data_dir) and data directory."""

    backend: str
    url: str | None
    data_dir: Path

    def config(self, **kwargs: Any) -> Config:
        return make_config(self.data_dir, self.url, **kwargs)


def _pg_url(base: str, database: str) -> str:
    url = resolve_location(base).url.set(database=database).render_as_string(hide_password=False)
    return str(url).replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL database filled by one paper run, copied (CREATE DATABASE … TEMPLATE) per test."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set: PostgreSQL API tests need a server")
    name = f"fundarb_api_tpl_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg(base, f'CREATE DATABASE "{name}"'))
    try:
        h = harness(tmp_path_factory.mktemp("paper-pg") / "data", _pg_url(base, name))
        try:
            paper_run(h)
        finally:
            h.close()
        yield name
    finally:
        asyncio.run(_pg(base, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def filled(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> Iterator[Filled]:
    """A store filled by a paper run, the test's own copy (of the SQLite file, or of the PostgreSQL template)."""
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        shutil.copytree(sqlite_template, data_dir)
        yield Filled("sqlite", None, data_dir)
        return
    template = request.getfixturevalue("pg_template")
    base = os.environ[PG_ENV]
    name = f"fundarb_api_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg(base, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        data_dir.mkdir()
        yield Filled("postgresql", _pg_url(base, name), data_dir)
    finally:
        asyncio.run(_pg(base, f'DROP DATABASE "{name}" WITH (FORCE)'))


@attrs.define
class Api:
    """An in-process client of the app over `store`, with the test tokens at hand."""

    store: Store
    client: httpx.AsyncClient
    config: Config

    def auth(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.fixture
async def api(filled: Filled) -> AsyncIterator[Api]:
    config = filled.config()
    store = await Store.open(config.store.url, data_dir=filled.data_dir)
    app = create_app(store, config, data_dir=filled.data_dir, simulated=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield Api(store, client, config)
    await store.close()


class ServerThread:
    """`fundarb serve` in a thread: its own event loop, its own store connection, uvicorn on 127.0.0.1:<free>."""

    def __init__(self, config: Config, data_dir: Path) -> None:
        self.config = config
        self.data_dir = data_dir
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="fundarb-serve", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        store = await Store.open(self.config.store.url, data_dir=self.data_dir)
        try:
            app = create_app(store, self.config, data_dir=self.data_dir, simulated=True, poll_seconds=0.1)
            sock = bind("127.0.0.1", 0)
            self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
            server = server_for(app, "127.0.0.1", 0)
            task = asyncio.create_task(serve_forever(server, self._stop, sock))
            self._ready.set()  # the socket listens already: connections wait in its backlog until uvicorn accepts
            await task
        finally:
            await store.close()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None or not self.url:
            raise RuntimeError(f"the API server did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
