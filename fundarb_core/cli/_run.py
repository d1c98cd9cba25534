"""`fundarb run`: the bot loop, with graceful shutdown, a live view on a terminal, and a summary at the end."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from loguru import logger

from fundarb_core.cli import fail, get_plugins
from fundarb_core.cli._load import load


class _Duration(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click stubs
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        from fundarb_core.convert import parse_duration

        try:
            return parse_duration(value)
        except (TypeError, ValueError) as exc:
            self.fail(str(exc), param, ctx)


async def _preflight(runtime: Any, bot: Any) -> None:
    """Try every venue's credentials before anything is sent; a refused one ends the run with exit status 2."""
    from fundarb_core.app.preflight import check_venues
    from fundarb_core.clock import SimClock
    from fundarb_core.errors import ConfigError

    checks = check_venues(bot.venues)
    try:
        await (runtime.clock.run(checks) if isinstance(runtime.clock, SimClock) else checks)
    except ConfigError as exc:
        await bot.shutdown()
        await runtime.close()
        fail(list(exc.problems))


class _LiveView:
    """The rich `Live` display on a terminal; log lines print above it through the same console."""

    def __init__(self, bot: Any, store: Any, duration: timedelta | None) -> None:
        from rich.console import Console

        self.bot, self.store, self.duration = bot, store, duration
        self.console = Console()
        self.data: Any = None
        self.elapsed = 0.0
        self.refresh: asyncio.Task[None] | None = None
        self.live: Any = None
        self.logs: Any = None
        self.last: Any = ""

    def _renderable(self) -> Any:
        """Build the display at the terminal's current size (called by the display's refresh thread)."""
        from fundarb_core.cli._live import LiveData, render

        size = self.console.size
        try:
            self.last = render(
                self.bot, self.data or LiveData(), self.elapsed, self.duration, width=size.width, height=size.height
            )
        except Exception as exc:  # a drawing problem must not end the run: keep the last frame
            logger.debug("live view: {}", exc)
        return self.last

    def start(self) -> None:
        """Show the display; its data arrives after the first tick (venues may answer only in simulated time)."""
        from rich.live import Live

        from fundarb_core.log import redirect_logging

        # Log lines on the terminal go through the display's console (printed above it, never inside it); logs
        # sent elsewhere (`2> file`) stay there.
        logs_on_terminal = sys.stderr.isatty()
        self.live = Live(
            console=self.console,
            get_renderable=self._renderable,
            refresh_per_second=4,
            redirect_stderr=logs_on_terminal,
        )
        self.live.start()
        if logs_on_terminal:
            self.logs = redirect_logging(sys.stderr)  # the proxy the display put in place of sys.stderr
            self.logs.__enter__()

    async def _gather(self) -> None:
        from fundarb_core.cli._live import LiveData

        try:
            self.data = await LiveData.gather(self.bot, self.store, self.data)
        except Exception as exc:  # the view must never end the run
            logger.debug("live view: {}", exc)

    def tick(self, elapsed: float) -> None:
        """Refresh the view's data after a tick (one refresh at a time; the bot does not wait for it)."""
        self.elapsed = elapsed
        if self.refresh is None or self.refresh.done():
            self.refresh = asyncio.create_task(self._gather())

    async def stop(self) -> None:
        if self.refresh is not None:
            # Simulated venues answer in simulated time, which stops with the run: a pending refresh never ends.
            self.refresh.cancel()
            await asyncio.gather(self.refresh, return_exceptions=True)
        if self.logs is not None:
            self.logs.__exit__(None, None, None)
        if self.live is not None:
            self.live.stop()


async def _run(
    config: Any,
    duration: timedelta | None,
    speed: float | None,
    live: bool,
    serve: tuple[str | None, int | None] | None,
) -> Any:
    from loguru import logger

    from fundarb_core.app.runtime import Runtime, all_simulated
    from fundarb_core.clock import SimClock
    from fundarb_core.errors import ConfigError, StoreError
    from fundarb_core.store import Store

    bound = None
    if serve is not None:  # bind first: a refused address stops the command before anything opens
        from fundarb_core.cli._serve import listen, start_server

        bound = listen(config, *serve)
    try:
        runtime = await Runtime.open(config, get_plugins(), observe=True)
    except ConfigError as exc:  # found while building (a close policy not installed, a port taken, ...): exit 2
        fail(list(exc.problems))
    bot = runtime.bot
    assert bot is not None
    await _preflight(runtime, bot)
    running = runtime.observers.running.values() if runtime.observers is not None else ()
    metrics = next((o.metrics_text for o in running if hasattr(o, "metrics_text")), None)
    listening = (
        start_server(config, runtime.store, runtime.data_dir, *bound, metrics=metrics) if bound is not None else None
    )
    lease_store = await Store.open(config.store.url, data_dir=runtime.data_dir, migrate=False)
    try:
        lease = await lease_store.acquire_lease(f"fundarb-run:{os.getpid()}", ttl=timedelta(seconds=30))
    except StoreError as exc:
        await lease_store.close()
        await bot.shutdown()
        await runtime.close()
        fail(str(exc))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    heartbeat = asyncio.create_task(lease.heartbeat())
    lost: list[BaseException] = []

    def lease_ended(task: asyncio.Task[Any]) -> None:
        # The heartbeat ends only when cancelled (a clean stop) or when the lease is gone (taken over, or expired
        # while the store was unreachable): then another bot may already run on this store, so this one stops
        # before its next tick (the tick in progress finishes: cutting it short could leave a leg half closed).
        if not task.cancelled() and task.exception() is not None:
            lost.append(task.exception())  # type: ignore[arg-type]
            logger.critical("lease lost, stopping: {}", task.exception())
            stop.set()

    heartbeat.add_done_callback(lease_ended)
    server_stop = asyncio.Event()
    server_task: asyncio.Task[None] | None = None
    if listening is not None:
        from fundarb_core.app.api import serve_forever

        server, sock, url = listening
        server_task = asyncio.create_task(serve_forever(server, server_stop, sock))
        logger.info("serving the API and dashboard on {}", url)
    view = _LiveView(bot, runtime.store, duration) if live else None

    def on_tick(_: Any, elapsed: float) -> None:
        runtime.save_sim_time()
        if view is not None:
            view.tick(elapsed)

    try:
        if view is not None:
            view.start()
        started = runtime.clock.monotonic()
        coro = bot.run(duration=duration, stop=stop, on_tick=on_tick)
        if isinstance(runtime.clock, SimClock):
            await runtime.clock.run(coro, speed=speed if all_simulated(config, runtime.plugins) else None)
        else:
            await coro
        if view is not None:
            view.elapsed = runtime.clock.monotonic() - started  # the last frame shows where the run stopped
        if lost:
            raise lost[0]
        positions = await runtime.store.positions.list()
        return positions, runtime.data_dir
    finally:
        if view is not None:
            await view.stop()
        server_stop.set()
        if server_task is not None:
            await asyncio.gather(server_task, return_exceptions=True)
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)
        if not lost:  # a lost lease is no longer this bot's to release
            await lease.release()
        await lease_store.close()
        await runtime.close()
        logger.info("stopped; state is in the store")


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), required=True, help="Config file.")
@click.option("--duration", type=_Duration(), default=None, help='Stop after this much (simulated) time, e.g. "3d".')
@click.option(
    "--speed", type=float, default=None, help="Simulated venues: run time N× faster (default: as fast as possible)."
)
@click.option("--no-live", is_flag=True, help="Plain log lines even on a terminal.")
@click.option("--serve", "with_server", is_flag=True, help="Also serve the API and dashboard (see `fundarb serve`).")
@click.option("--host", default=None, help="With --serve: address to listen on (default: serve.host).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="With --serve: port (default: serve.port).")
def run(
    config_path: Path,
    duration: timedelta | None,
    speed: float | None,
    no_live: bool,
    with_server: bool,
    host: str | None,
    port: int | None,
) -> None:
    """Run the bot: scan, open, monitor and close until stopped (SIGINT/SIGTERM) or --duration passes."""
    from rich.console import Console

    from fundarb_core.app.report import summary, write_chart
    from fundarb_core.app.runtime import all_simulated
    from fundarb_core.display import money

    config = load(config_path)
    if speed is not None and not all_simulated(config, get_plugins()):
        fail("--speed: only simulated venues can run faster than real time")
    if speed is not None and speed <= 0:
        fail("--speed: must be positive")
    live = sys.stdout.isatty() and not no_live
    from fundarb_core.errors import ConfigError

    serve = (host, port) if with_server else None
    from fundarb_core.store import LeaseLost

    try:
        positions, data_dir = asyncio.run(_run(config, duration, speed, live, serve))
    except ConfigError as exc:  # found while starting: an observer that cannot listen, a URL no service takes
        fail(list(exc.problems))
    except LeaseLost as exc:  # another bot may run on this store now: this one stopped
        fail(f"stopped: {exc}", code=1)
    console = Console()
    s = summary(positions)
    console.print(
        f"positions: {s['positions']} ({s['open']} open, {s['closed']} closed, {s['wins']} won) · "
        f"price PnL {money(s['price_pnl'])} · funding {money(s['funding'])} · fees {money(s['fees'])} · "
        f"net {money(s['net'])} USD" + (f" · open positions unrealised {money(s['open_net'])} USD" if s["open"] else "")
    )
    chart = write_chart(positions, data_dir / "report.png")
    console.print(f"chart: {chart}")
