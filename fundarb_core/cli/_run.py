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

from fundarb_core.cli import fail, get_plugins


def load(config_path: Path) -> Any:
    from fundarb_core.config import load_config
    from fundarb_core.errors import ConfigError, PluginError

    try:
        return load_config(config_path, get_plugins())
    except ConfigError as exc:
        fail(list(exc.problems))
    except PluginError as exc:
        fail(str(exc))


class _Duration(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click stubs
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        from fundarb_core.convert import parse_duration

        try:
            return parse_duration(value)
        except (TypeError, ValueError) as exc:
            self.fail(str(exc), param, ctx)


def _view(bot: Any, elapsed: float, duration: timedelta | None) -> Any:
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    opp = Table(title="opportunities (net APR)", expand=True)
    for col in ("symbol", "long", "short", "spread/h", "net APR"):
        opp.add_column(col)
    for o in bot.opportunities[:5]:
        opp.add_row(o.symbol, o.long_venue, o.short_venue, f"{o.spread:.7f}", f"{o.net_apr:.1%}")
    parts: list[Any] = [opp]
    events = Table(title="recent events", expand=True)
    events.add_column("at")
    events.add_column("event")
    for e in bot.events[-8:]:
        data = dict(e.data)
        what = data.get("symbol") or data.get("action_type") or data.get("alert") or ""
        outcome = data.get("net") or data.get("status") or ""
        events.add_row(f"{e.at:%m-%d %H:%M}", f"{e.kind} {what} {outcome}")
    parts.append(events)
    state = "halted" if bot.halted else "paused" if bot.paused else "running"
    line = f"{bot.clock.now():%Y-%m-%d %H:%M} simulated · {state}"
    report = getattr(bot, "last_actions", None)
    if report is not None and (report.ran or report.waiting or report.awaiting_approval):
        line += (
            f" · actions this tick: {len(report.succeeded)} done, {len(report.waiting)} waiting, "
            f"{len(report.awaiting_approval)} awaiting approval, {len(report.failed)} failed"
        )
    parts.append(Text(line))
    if duration is not None:
        parts.append(ProgressBar(total=duration.total_seconds(), completed=elapsed, width=60))
    return Group(*parts)


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
    from fundarb_core.errors import StoreError
    from fundarb_core.store import Store

    bound = None
    if serve is not None:  # bind first: a refused address stops the command before anything opens
        from fundarb_core.cli._serve import listen, start_server

        bound = listen(config, *serve)
    runtime = await Runtime.open(config, get_plugins())
    bot = runtime.bot
    assert bot is not None
    listening = start_server(config, runtime.store, runtime.data_dir, *bound) if bound is not None else None
    lease_store = await Store.open(config.store.url, data_dir=runtime.data_dir, migrate=False)
    try:
        lease = await lease_store.acquire_lease(f"fundarb-run:{os.getpid()}", ttl=timedelta(seconds=30))
    except StoreError as exc:
        await lease_store.close()
        await runtime.close()
        fail(str(exc))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    heartbeat = asyncio.create_task(lease.heartbeat())
    server_stop = asyncio.Event()
    server_task: asyncio.Task[None] | None = None
    if listening is not None:
        from fundarb_core.app.api import serve_forever

        server, sock, url = listening
        server_task = asyncio.create_task(serve_forever(server, server_stop, sock))
        logger.info("serving the API and dashboard on {}", url)
    live_view: Any = None
    if live:
        from rich.live import Live

        live_view = Live(_view(bot, 0, duration), refresh_per_second=4, transient=False)
        live_view.start()

    def on_tick(_: Any, elapsed: float) -> None:
        runtime.save_sim_time()
        if live_view is not None:
            live_view.update(_view(bot, elapsed, duration))

    try:
        coro = bot.run(duration=duration, stop=stop, on_tick=on_tick)
        if isinstance(runtime.clock, SimClock):
            await runtime.clock.run(coro, speed=speed if all_simulated(config) else None)
        else:
            await coro
        positions = await runtime.store.positions.list()
        return positions, runtime.data_dir
    finally:
        if live_view is not None:
            live_view.stop()
        server_stop.set()
        if server_task is not None:
            await asyncio.gather(server_task, return_exceptions=True)
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)
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
    if speed is not None and not all_simulated(config):
        fail("--speed: only simulated venues can run faster than real time")
    if speed is not None and speed <= 0:
        fail("--speed: must be positive")
    live = sys.stdout.isatty() and not no_live
    serve = (host, port) if with_server else None
    positions, data_dir = asyncio.run(_run(config, duration, speed, live, serve))
    console = Console()
    s = summary(positions)
    console.print(
        f"positions: {s['positions']} ({s['open']} open, {s['closed']} closed, {s['wins']} won) · "
        f"price PnL {money(s['price_pnl'])} · funding {money(s['funding'])} · fees {money(s['fees'])} · "
        f"net {money(s['net'])} USD"
    )
    chart = write_chart(positions, data_dir / "report.png")
    console.print(f"chart: {chart}")
