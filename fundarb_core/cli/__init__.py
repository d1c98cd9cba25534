"""The `fundarb` command line. Subcommands import lazily so that `fundarb --help` starts fast."""

from __future__ import annotations

import importlib
import sys
from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn

import click

from fundarb_core._version import __version__

if TYPE_CHECKING:
    from fundarb_core.plugins import Plugins

__all__ = ["fail", "get_plugins", "main"]

# name -> ("module:attribute", short help); the module is imported only when the command runs or shows its help.
BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "actions": ("fundarb_core.cli._actions:actions", "List, show, approve or cancel journalled plan actions."),
    "backtest": ("fundarb_core.cli._backtest:backtest", "Replay recorded history through the bot; report PnL."),
    "config": ("fundarb_core.cli._config:config", "Check or print a configuration file."),
    "data": ("fundarb_core.cli._data:data", "Download, import and list market history for backtests."),
    "db": ("fundarb_core.cli._db:db", "Inspect or upgrade the durable store's schema."),
    "export": ("fundarb_core.cli._export:export", "Export positions, fills or funding payments (CSV or JSON)."),
    "optimize": ("fundarb_core.cli._optimize:optimize", "Search config values with Optuna, each trial a backtest."),
    "close": ("fundarb_core.cli._operate:close", "Close a position now through the bot's executor."),
    "halt": ("fundarb_core.cli._operate:halt", "Stop the running bot after its current tick."),
    "pause": ("fundarb_core.cli._operate:pause", "Stop opening new positions; keep managing open ones."),
    "positions": ("fundarb_core.cli._operate:positions", "List positions with their PnL parts."),
    "report": ("fundarb_core.cli._operate:report", "Summarise results and write an equity/PnL chart."),
    "resume": ("fundarb_core.cli._operate:resume", "Resume opening after a pause."),
    "run": ("fundarb_core.cli._run:run", "Run the bot (scan, open, monitor, close) until stopped."),
    "scan": ("fundarb_core.cli._operate:scan", "Rank current opportunities by net APR."),
    "serve": ("fundarb_core.cli._serve:serve", "Serve the REST API and the web dashboard over the bot's store."),
    "init": ("fundarb_core.cli._init:init", "Write a starter config for paper trading on simulated venues."),
    "plugins": ("fundarb_core.cli._plugins:plugins", "List the plugins found and what each registered."),
}


@cache
def get_plugins() -> Plugins:
    """Load the built-in and installed plugins once per process; a broken plugin set exits with status 2."""
    from fundarb_core.errors import PluginError
    from fundarb_core.plugins import Plugins

    try:
        plugins = Plugins().load()
    except PluginError as exc:
        fail(str(exc))
    from fundarb_core.log import enable_plugin_logging

    enable_plugin_logging(plugins.module_names())
    return plugins


def fail(lines: str | list[str] | tuple[str, ...], code: int = 2) -> NoReturn:
    """Print one line per problem to stderr and exit with `code`."""
    for line in [lines] if isinstance(lines, str) else lines:
        click.echo(line, err=True)
    sys.exit(code)


class LazyGroup(click.Group):
    """A group whose built-in commands load on use, and which asks plugins for theirs."""

    _plugin_commands_added = False

    def _add_plugin_commands(self) -> None:
        if self._plugin_commands_added:
            return
        self._plugin_commands_added = True
        from fundarb_core.errors import PluginError

        try:
            get_plugins().add_commands(self, reserved=BUILTIN_COMMANDS)
        except PluginError as exc:
            fail(str(exc))

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a `ConfigError` found late (a venue's key that cannot be read) is still exit status 2."""
        from fundarb_core.errors import ConfigError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            fail(list(exc.problems))

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return sorted({*BUILTIN_COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        builtin = BUILTIN_COMMANDS.get(cmd_name)
        if builtin is not None:
            module_name, attr = builtin[0].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        if cmd_name not in self.commands:
            self._add_plugin_commands()
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands without importing the built-in ones (their short help is declared above)."""
        self._add_plugin_commands()
        rows = [(name, help_text) for name, (_, help_text) in BUILTIN_COMMANDS.items()]
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        for name, command in self.commands.items():
            if name not in BUILTIN_COMMANDS and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fundarb")
@click.option("--log-json", is_flag=True, help="Log JSON lines instead of human text.")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Lowest level logged.",
)
@click.pass_context
def main(ctx: click.Context, log_json: bool, log_level: str) -> None:
    """fundarb: delta-neutral funding-rate arbitrage across perpetual-futures venues."""
    from fundarb_core.log import configure_logging, install_excepthooks

    configure_logging(level=log_level.upper(), json=log_json)
    install_excepthooks()  # an uncaught traceback goes through the redacting sink too
    ctx.obj = {"log_json": log_json, "log_level": log_level.upper()}


def run() -> Any:  # pragma: no cover - console entry
    return main(prog_name="fundarb")
