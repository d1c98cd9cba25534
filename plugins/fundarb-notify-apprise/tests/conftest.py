"""A real HTTP receiver on 127.0.0.1 for apprise's `json://`, and a bot on simulated venues in simulated time."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable, Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import attrs
import fundarb_close_maker_first.plugin as maker_first
import fundarb_notify_apprise.plugin as notify_plugin
import pytest
from loguru import logger

from fundarb_core.app.runtime import Runtime
from fundarb_core.clock import SimClock
from fundarb_core.config import Config, parse_config
from fundarb_core.plugins import Plugins
from fundarb_core.testing.configs import mechanics_strategy

T = TypeVar("T")


@attrs.frozen
class Received:
    path: str
    authorization: str
    title: str
    message: str
    raw: str


class Receiver:
    """A webhook endpoint that records what it receives; `mode` is `ok`, `fail` (HTTP 500) or `hang`."""

    def __init__(self, mode: str = "ok", hang_seconds: float = 30.0) -> None:
        self.mode = mode
        self.hang_seconds = hang_seconds
        self.received: list[Received] = []
        self.release = threading.Event()  # ends a hang early
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                body = json.loads(raw) if raw else {}
                receiver.received.append(
                    Received(self.path, self.headers.get("Authorization", ""), body.get("title", ""),
                             body.get("message", ""), raw)
                )  # fmt: skip
                if receiver.mode == "hang":
                    receiver.release.wait(receiver.hang_seconds)
                status = 500 if receiver.mode == "fail" else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "hook", auth: str = "") -> str:
        return f"json://{auth}127.0.0.1:{self.port}/{path}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(mode: str = "ok", hang_seconds: float = 30.0) -> Receiver:
        r = Receiver(mode, hang_seconds)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def captured_logs() -> Iterator[list[str]]:
    """Every loguru line (fundarb and the plugin), unredacted: a secret must not be there in the first place."""
    lines: list[str] = []
    logger.enable("fundarb_core")
    logger.enable("fundarb_notify_apprise")
    sink = logger.add(lambda m: lines.append(str(m)), level="TRACE", format="{message} {extra} {exception}")
    yield lines
    logger.remove(sink)
    logger.disable("fundarb_notify_apprise")
    logger.disable("fundarb_core")


def bot_plugins() -> Plugins:
    plugins = Plugins().load(entry_points=False)
    plugins.register(maker_first, name="close_maker_first", distribution="fundarb-close-maker-first")
    plugins.register(notify_plugin, name="notify_apprise", distribution="fundarb-notify-apprise")
    return plugins


def bot_config(data_dir: Path, plugins: Plugins, **sections: Any) -> Config:
    symbols = ["BTC", "ETH", "SOL"]
    data: dict[str, Any] = {
        "bot": {"data_dir": str(data_dir), "log_level": "WARNING"},
        "venues": {
            # A persistent spread: the sim's funding is calibrated to real data, where spreads without one are noise.
            "aster_sim": {
                "kind": "sim",
                "profile": "aster-like",
                "seed": 7,
                "symbols": symbols,
                "funding_bias_bps_per_hour": "0.25",
            },
            "lighter_sim": {"kind": "sim", "profile": "lighter-like", "seed": 7, "symbols": symbols},
        },
        "strategy": mechanics_strategy(),
        "close_policy": {"kind": "maker_first"},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return parse_config(data, plugins)


class Harness:
    """A runtime (bot, store, observers) under a simulated clock; `close()` releases everything."""

    def __init__(self, config: Config, plugins: Plugins) -> None:
        self.plugins = plugins
        self.loop = asyncio.new_event_loop()
        self.runtime = self.loop.run_until_complete(Runtime.open(config, plugins, observe=True))
        assert self.runtime.bot is not None
        self.bot = self.runtime.bot
        assert isinstance(self.runtime.clock, SimClock)
        self.clock: SimClock = self.runtime.clock
        self.closed = False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(self.clock.run(coro))

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return self.run(fn())

    def observer(self, name: str) -> Any:
        assert self.runtime.observers is not None
        return self.runtime.observers.get(name)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.run_until_complete(self.bot.shutdown())
        self.loop.run_until_complete(self.runtime.close())
        self.loop.close()


@pytest.fixture
def harness_factory(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(plugins: Plugins | None = None, **sections: Any) -> Harness:
        plugins = plugins or bot_plugins()
        h = Harness(bot_config(tmp_path / f"data{len(made)}", plugins, **sections), plugins)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()
