"""`fundarb init`: write a commented starter configuration for paper trading on simulated venues."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click

from fundarb_core.cli import fail


def starter_text() -> str:
    return resources.files("fundarb_core.cli").joinpath("starter.toml").read_text(encoding="utf-8")


@click.command()
@click.argument("path", type=click.Path(path_type=Path), default=Path("fundarb.toml"))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a starter config to PATH (default fundarb.toml): paper trading on two simulated venues."""
    if path.exists() and not force:
        fail(f"{path} exists; use --force to overwrite it")
    path.write_text(starter_text(), encoding="utf-8")
    click.echo(f"wrote {path}; check it with: fundarb config check {path}")
