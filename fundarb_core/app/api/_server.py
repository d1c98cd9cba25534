"""Run the app with uvicorn as a task on the caller's event loop (so `fundarb run --serve` shares the bot's)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from loguru import logger

__all__ = ["bind", "serve_forever", "server_for"]


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: the fundarb command that runs it owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # older uvicorn
        return


def server_for(app: Any, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for `app`; its access log is off (fundarb logs through loguru, and never a header)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    return _Server(config)


def bind(host: str, port: int) -> socket.socket:
    """Open the listening socket (port 0: any free port); raise `OSError` with a readable message when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio sets TCP_NODELAY on accepted connections only for IPPROTO_TCP sockets, and
    # without it Nagle's algorithm and delayed ACKs add ~40 ms to every response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve_forever(server: uvicorn.Server, stop: asyncio.Event, sock: socket.socket) -> None:
    """Serve on `sock` until `stop` is set; then finish open requests (streams end) and return."""
    task = asyncio.create_task(server.serve(sockets=[sock]))
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        context = getattr(getattr(server.config.app, "state", None), "fundarb", None)
        if context is not None:
            context.closing = True  # event streams end at their next poll, so the shutdown does not wait on them
        server.should_exit = True
        waiter.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    logger.info("API server stopped")
