"""`fundarb config check|show`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from fundarb_core.cli import fail, get_plugins

if TYPE_CHECKING:
    from fundarb_core.config import Config


@click.group()
def config() -> None:
    """Check or print a configuration file."""


def _load(path: Path) -> Config:
    from fundarb_core.config import load_config
    from fundarb_core.errors import ConfigError, PluginError

    try:
        return load_config(path, get_plugins())
    except ConfigError as exc:
        fail(list(exc.problems))
    except PluginError as exc:
        fail(str(exc))


@config.command()
@click.argument("file", type=click.Path(path_type=Path))
def check(file: Path) -> None:
    """Validate FILE: one line per problem with its key path, exit status 2 if there is any."""
    cfg = _load(file)
    venues = ", ".join(f"{name} ({section.kind})" for name, section in cfg.venues.items()) or "none"
    click.echo(f"{file}: OK (venues: {venues})")


@config.command()
@click.argument("file", type=click.Path(path_type=Path))
def show(file: Path) -> None:
    """Print FILE as loaded, defaults filled in and secrets masked."""
    from fundarb_core.config import dump_config

    click.echo(dump_config(_load(file)), nl=False)
