"""`fundarb plugins`: what was discovered and what each plugin registered."""

from __future__ import annotations

import json

import attrs
import click

from fundarb_core.cli import get_plugins


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List the plugins found: distribution, version, hooks, and what each registered."""
    manager = get_plugins()
    infos = manager.info()
    if as_json:
        payload = {
            "plugins": [attrs.asdict(i, recurse=True) for i in infos],
            "broken": [attrs.asdict(b) for b in manager.broken],
        }
        click.echo(json.dumps(payload, indent=2, default=list))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="fundarb plugins")
    for column in ("plugin", "distribution", "version", "hooks", "registered"):
        table.add_column(column)
    for info in infos:
        registered = "\n".join(f"{cat}: {', '.join(names)}" for cat, names in info.registered.items())
        table.add_row(info.name, info.distribution, info.version, "\n".join(info.hooks), registered or "-")
    console = Console()
    console.print(table)
    for broken in manager.broken:
        console.print(f"[red]failed to load[/red] {broken.distribution} ({broken.entry_point}): {broken.error}")
