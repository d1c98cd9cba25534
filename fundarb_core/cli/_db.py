"""`fundarb db upgrade|current`: the store's schema version, and upgrading it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fundarb_core.cli import fail

F = TypeVar("F", bound=Callable[..., Any])

EXIT_STORE_ERROR = 1


def store_options(func: F) -> F:
    """Add `--config FILE` and `--url URL` (one or neither: neither means the default SQLite file)."""
    func = click.option(
        "--url",
        metavar="URL",
        help="Store URL or SQLite path (postgresql://user@host/db, sqlite:///file, ./file.sqlite3).",
    )(func)
    func = click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        metavar="FILE",
        help="Take the store from this configuration file ([store] url, [bot] data_dir).",
    )(func)
    return func


def resolve_store(config_file: Path | None, url: str | None) -> Any:
    """Return the `StoreLocation` the options name; exit with a message when they are wrong."""
    from fundarb_core.errors import ConfigError, StoreError
    from fundarb_core.store import resolve_location

    if config_file is not None and url is not None:
        fail("give --config or --url, not both")
    data_dir = None
    if config_file is not None:
        from fundarb_core.config import load_config

        try:
            # Only [store] and [bot] matter here: plugin sections are not checked (their plugins need not load).
            config = load_config(config_file, None)
        except ConfigError as exc:
            fail(list(exc.problems))
        url, data_dir = config.store.url, config.bot.data_dir
    try:
        return resolve_location(url, data_dir=data_dir)
    except StoreError as exc:
        fail(str(exc))


@click.group()
def db() -> None:
    """Inspect or upgrade the durable store's schema."""


@db.command()
@store_options
def upgrade(config_file: Path | None, url: str | None) -> None:
    """Apply pending schema migrations (a SQLite file is backed up first)."""
    from fundarb_core.errors import StoreError
    from fundarb_core.store import Store

    location = resolve_store(config_file, url)

    async def run() -> Any:
        store = await Store.open_location(location, migrate=False)
        try:
            return await store.migrate()
        finally:
            await store.close()

    try:
        report = asyncio.run(run())
    except StoreError as exc:
        fail(str(exc), EXIT_STORE_ERROR)
    click.echo(f"store: {location.display}")
    if not report.applied:
        click.echo(f"already at version {report.to_version} (latest)")
        return
    before = "an empty database" if report.from_version is None else f"version {report.from_version}"
    click.echo(f"upgraded from {before} to version {report.to_version}")
    if report.backup is not None:
        click.echo(f"backup: {report.backup}")


@db.command()
@store_options
def current(config_file: Path | None, url: str | None) -> None:
    """Print the store's schema version and the latest one this fundarb knows."""
    from fundarb_core.errors import StoreError
    from fundarb_core.store import LATEST_VERSION, Store

    location = resolve_store(config_file, url)
    click.echo(f"store: {location.display}")
    if location.path is not None and not location.path.exists():
        click.echo(f"current: none (no database file yet)\nlatest: {LATEST_VERSION}")
        return

    async def run() -> int | None:
        store = await Store.open_location(location, migrate=False)
        try:
            return await store.schema_version()
        finally:
            await store.close()

    try:
        version = asyncio.run(run())
    except StoreError as exc:
        fail(str(exc), EXIT_STORE_ERROR)
    click.echo(f"current: {'none (empty database)' if version is None else version}")
    click.echo(f"latest: {LATEST_VERSION}")
    if version is not None and version > LATEST_VERSION:
        click.echo("the store is newer than this fundarb: upgrade fundarb")
    elif version != LATEST_VERSION:
        click.echo("run `fundarb db upgrade` to upgrade (the bot also upgrades when it starts)")
