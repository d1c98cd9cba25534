"""`fundarb export`: positions, fills or funding payments as CSV or JSON, for accounting."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from fundarb_core.cli import fail
from fundarb_core.cli._db import EXIT_STORE_ERROR, resolve_store, store_options


def _since(_: click.Context, __: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    from fundarb_core.convert import parse_datetime

    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option("--what", type=click.Choice(["positions", "fills", "funding"]), required=True, help="What to export.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to FILE (replaced whole, never half-written) instead of standard output.",
)
@click.option("--since", callback=_since, metavar="WHEN", help="Only rows from WHEN on (ISO 8601, UTC if no zone).")
@store_options
def export(
    what: Any, fmt: str, out: Path | None, since: datetime | None, config_file: Path | None, url: str | None
) -> None:
    """Export positions, fills or funding payments, amounts exact (decimal text), times in UTC."""
    from fundarb_core.errors import StoreError
    from fundarb_core.store import LATEST_VERSION, Store, export_rows, write_export

    location = resolve_store(config_file, url)
    if location.path is not None and not location.path.exists():
        fail(f"no store at {location.path}", EXIT_STORE_ERROR)

    async def run() -> list[dict[str, str | None]]:
        store = await Store.open_location(location, migrate=False)
        try:
            version = await store.schema_version()
            if version != LATEST_VERSION:
                raise StoreError(
                    f"the store {location.display} is at schema version {version}, this fundarb reads "
                    f"version {LATEST_VERSION}: run `fundarb db upgrade` first"
                )
            return await export_rows(store, what, since=since)
        finally:
            await store.close()

    try:
        rows = asyncio.run(run())
    except StoreError as exc:
        fail(str(exc), EXIT_STORE_ERROR)
    if out is None:
        write_export(rows, what, fmt, sys.stdout)
        return
    out = out.expanduser()
    if not out.parent.is_dir():
        fail(f"--out: directory {out.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write_export(rows, what, fmt, handle)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    click.echo(f"{len(rows)} {what} row(s) written to {out}", err=True)
