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
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Where the bot keeps its store.")
def init(path: Path, force: bool, data_dir: Path | None) -> None:
    """Write a starter config to PATH (default fundarb.toml): paper trading on two simulated venues."""
    if path.exists() and not force:
        fail(f"{path} exists; use --force to overwrite it")
    text = starter_text()
    if data_dir is not None:
        text = text.replace(
            '# data_dir = "~/.local/share/fundarb"   # default: the platform\'s user data directory',
            f"data_dir = {str(data_dir.resolve())!r}",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}; check it with: fundarb config check {path}")
