"""`fundarb serve`: the REST API and the web dashboard over a bot's store (the bot runs in another process)."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import click

from fundarb_core.cli import fail
from fundarb_core.cli._load import load

__all__ = ["host_option", "listen", "port_option", "serve", "start_server"]

host_option = click.option("--host", default=None, help="Address to listen on (default: serve.host, 127.0.0.1).")
port_option = click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default: 8321).")


def listen(config: Any, host: str | None, port: int | None) -> tuple[str, socket.socket]:
    """Check the address and bind it (before anything else opens); exit 2 with one readable line when refused."""
    from fundarb_core.app.api import bind, check_listen_address
    from fundarb_core.errors import ConfigError

    host = host or config.serve.host
    port = config.serve.port if port is None else port
    try:
        check_listen_address(host, config.serve)
        return host, bind(host, port)
    except ConfigError as exc:
        fail(list(exc.problems))
    except OSError as exc:
        fail(str(exc))


def start_server(
    config: Any, store: Any, data_dir: Path, host: str, sock: socket.socket, *, metrics: Any = None
) -> Any:
    """The uvicorn server for the app over `store` on the bound `sock`; returns (server, sock, url). `metrics`: an
    observer's `metrics_text`, served at `/metrics` (the running bot's Prometheus exporter, with `run --serve`)."""
    from fundarb_core.app.api import create_app, server_for
    from fundarb_core.app.runtime import all_simulated
    from fundarb_core.cli import get_plugins

    simulated = all_simulated(config, get_plugins())
    app = create_app(store, config, data_dir=data_dir, simulated=simulated, metrics=metrics)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return server_for(app, host, bound), sock, f"http://{shown}:{bound}/"


async def _serve(config: Any, host: str | None, port: int | None) -> None:
    from loguru import logger

    from fundarb_core.app.api import serve_forever
    from fundarb_core.store import Store, default_data_dir

    bound_host, sock = listen(config, host, port)
    data_dir = (config.bot.data_dir or default_data_dir()).expanduser()
    store = await Store.open(config.store.url, data_dir=data_dir)
    try:
        server, sock, url = start_server(config, store, data_dir, bound_host, sock)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"fundarb dashboard: {url}  (store {store.display_url}; Ctrl-C stops)")
        sys.stdout.flush()  # a supervisor reading the pipe learns at once that it listens
        logger.info("serving the API and dashboard on {}", url)
        await serve_forever(server, stop, sock)
    finally:
        await store.close()


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), required=True, help="Config file.")
@host_option
@port_option
def serve(config_path: Path, host: str | None, port: int | None) -> None:
    """Serve the REST API and the web dashboard over the bot's store, while `fundarb run` runs elsewhere.

    Tokens come from the config's [serve] section (env:NAME). Without an operator token it listens on loopback
    only and the control endpoints are off; see docs/dashboard.md.
    """
    asyncio.run(_serve(load(config_path), host, port))
