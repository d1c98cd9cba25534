"""`fundarb data download|import|list`: market history in the data directory's history store (DuckDB)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from fundarb_core.cli import fail, get_plugins


class _When(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click stubs
    """A date or an ISO 8601 time; naive values are UTC."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            at = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"expected a date (2025-10-01) or an ISO 8601 time, found {value!r}", param, ctx)
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


WHEN = _When()


def history_dir(config_path: Path | None, data_dir: Path | None) -> Path:
    """The directory holding the history store: --data-dir, else the config's bot.data_dir, else the default."""
    from fundarb_core.store import default_data_dir

    if data_dir is not None:
        return data_dir.expanduser()
    if config_path is not None:
        from fundarb_core.cli._load import load

        configured = load(config_path).bot.data_dir
        if configured is not None:
            return Path(configured).expanduser()
    return default_data_dir()


@click.group()
def data() -> None:
    """Download, import and list market history (funding rates, price candles) for backtests."""


@data.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None, help="Config (data_dir).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Where the history store lives.")
def import_(files: tuple[Path, ...], config_path: Path | None, data_dir: Path | None) -> None:
    """Import CSV files (plain or .gz) in the real-funding schema; a file with a bad row is refused whole.

    Funding: timestamp_utc,venue,coin,funding_rate,interval_hours. Candles: timestamp_utc,venue,coin,o,h,l,c,v.
    """
    from fundarb_core.store.history import HistoryImportError, HistoryStore

    refused: list[str] = []
    with HistoryStore.open(history_dir(config_path, data_dir)) as store:
        for path in files:
            try:
                report = store.import_csv(path)
            except HistoryImportError as exc:
                refused += exc.lines()
                continue
            click.echo(f"{path}: {report.rows} {report.kind} rows, {report.added} new, "
                       f"{report.already_present} already present")  # fmt: skip
    if refused:
        fail(refused, code=1)


@data.command("list")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None, help="Config (data_dir).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Where the history store lives.")
@click.option("--venue", default=None, help="Only this venue.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def list_(config_path: Path | None, data_dir: Path | None, venue: str | None, as_json: bool) -> None:
    """Show what history is stored: per venue, series and symbol, the rows, first and last time, and the gaps."""
    from fundarb_core.store.history import HistoryStore

    directory = history_dir(config_path, data_dir)
    with HistoryStore.open(directory) as store:
        coverage = store.coverage(venue)
    if as_json:
        click.echo(json.dumps([c.as_dict() for c in coverage], indent=2))
        return
    if not coverage:
        click.echo(f"no history in {directory}; see `fundarb data import --help` and `fundarb data download --help`")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"history in {directory}")
    for col in ("venue", "series", "symbol", "rows", "first", "last", "step", "gaps"):
        table.add_column(col, justify="right" if col in ("rows", "gaps") else "left")
    for c in coverage:
        gaps = f"{len(c.gaps)}" + (f" (longest {max(b - a for a, b in c.gaps)})" if c.gaps else "")
        table.add_row(c.venue, c.series, c.symbol, str(c.rows), f"{c.first:%Y-%m-%d %H:%M}",
                      f"{c.last:%Y-%m-%d %H:%M}", str(c.step), gaps)  # fmt: skip
    Console().print(table)


@data.command("download")
@click.option("--config", "config_path", type=click.Path(path_type=Path), required=True, help="Config file.")
@click.option("--venue", "venue_name", required=True, help="A venue of the config.")
@click.option("--symbols", required=True, help="Comma-separated canonical symbols, e.g. BTC,ETH.")
@click.option("--since", type=WHEN, required=True, help="Start (UTC), e.g. 2025-10-01.")
@click.option("--until", type=WHEN, default=None, help="End (UTC, exclusive); default now.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Where the history store lives.")
def download(
    config_path: Path, venue_name: str, symbols: str, since: datetime, until: datetime | None, data_dir: Path | None
) -> None:
    """Download funding and hourly candles from a venue: paged, waits when rate-limited, resumes where it stopped."""
    from fundarb_core.cli._load import load

    config = load(config_path)
    if venue_name not in config.venues:
        fail(f"--venue: {venue_name!r} is not a venue of {config_path} (it has: {', '.join(config.venues)})")
    wanted = [s.strip() for s in symbols.split(",") if s.strip()]
    if not wanted:
        fail("--symbols: name at least one symbol")
    asyncio.run(_download(config, venue_name, wanted, since, until, history_dir(config_path, data_dir)))


async def _download(
    config: Any, venue_name: str, symbols: list[str], since: datetime, until: datetime | None, directory: Path
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from fundarb_core.app.download import download_history
    from fundarb_core.clock import WallClock
    from fundarb_core.errors import VenueError
    from fundarb_core.store.history import HistoryStore
    from fundarb_core.venues import VenueContext

    clock = WallClock()
    section = config.venues[venue_name]
    registration = get_plugins().registry.get("venues", section.kind)
    venue = registration.factory(venue_name, section.config, VenueContext(clock, data_dir=directory))
    end = until or clock.now()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with HistoryStore.open(directory) as store, Progress(*columns, transient=True) as progress:
            task = progress.add_task(f"{venue_name}", total=None)

            def on_progress(what: str, done: int, total: int) -> None:
                progress.update(task, completed=done, total=total, description=f"{venue_name} {what}".strip())

            report = await download_history(venue, venue_name, store, symbols, since, end, clock,
                                            on_progress=on_progress)  # fmt: skip
    except VenueError as exc:
        fail(f"download stopped: {exc}; what was fetched is kept, run the same command again to resume", code=1)
    finally:
        await venue.close()
    for part in report.series:
        click.echo(f"{venue_name} {part.series} {part.symbol}: {part.fetched} rows fetched, {part.added} new")
    if report.waits:
        click.echo(f"(waited {report.waits} time(s) for the venue's rate limit)")
