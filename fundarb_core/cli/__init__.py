"""The `fundarb` command line. Nothing heavy is imported to list commands, so `fundarb --help` starts fast.

Where commands come from, none of them imported to be listed:

- built in: `BUILTIN_COMMANDS` below maps a name to `"module:attribute"` and its one-line help. To add a
  built-in command, write it in its own module under `fundarb_core/cli/` (import what it needs inside the
  command's function or at that module's top, never here) and add one line to `BUILTIN_COMMANDS`.
- from a plugin: an entry point in the `fundarb.commands` group of the plugin's distribution,
  `name = "package.module:command"` (docs/plugins/writing-a-plugin.md). `fundarb --help` lists it from the
  metadata, with the distribution's summary; its module is imported only when the command runs.
- from the older `fundarb_register_commands` hook: the plugins are loaded only when a command is not found
  otherwise, so these commands run but are not listed by `fundarb --help`.

tests/unit/cli/test_main.py runs `fundarb --help` and `--version` and fails if a heavy module was imported.
"""

from __future__ import annotations

import importlib
import sys
from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn

import click

from fundarb_core._version import __version__

if TYPE_CHECKING:
    from fundarb_core.plugins import Plugins
    from fundarb_core.plugins._entry import CommandEntry

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


@cache
def plugin_commands() -> dict[str, CommandEntry]:
    """The commands installed plugins declare as `fundarb.commands` entry points (read from metadata only)."""
    from fundarb_core.plugins._entry import command_entries

    found: dict[str, CommandEntry] = {}
    for entry in command_entries():
        owner = "fundarb-core" if entry.name in BUILTIN_COMMANDS else found.get(entry.name, entry).distribution
        if entry.name in found or entry.name in BUILTIN_COMMANDS:
            fail(f"command {entry.name!r} is added twice: by plugin {owner} and by plugin {entry.distribution}")
        found[entry.name] = entry
    return found


class LazyGroup(click.Group):
    """A group whose commands load on use: built-in ones, plugins' entry points, then the commands hook."""

    _hook_commands_added = False

    def _add_hook_commands(self) -> None:
        """Load the plugins and add the commands their `fundarb_register_commands` hooks add."""
        if self._hook_commands_added:
            return
        self._hook_commands_added = True
        from fundarb_core.errors import PluginError

        try:
            get_plugins().add_commands(self, reserved=[*BUILTIN_COMMANDS, *plugin_commands()])
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
        return sorted({*BUILTIN_COMMANDS, *plugin_commands(), *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        builtin = BUILTIN_COMMANDS.get(cmd_name)
        if builtin is not None:
            module_name, attr = builtin[0].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        entry = plugin_commands().get(cmd_name)
        if entry is not None:
            if cmd_name not in self.commands:
                self.commands[cmd_name] = self._load_entry(entry)
            return self.commands[cmd_name]
        if cmd_name not in self.commands:
            self._add_hook_commands()
        return self.commands.get(cmd_name)

    @staticmethod
    def _load_entry(entry: CommandEntry) -> click.Command:
        try:
            command = entry.load()
        except Exception as exc:  # a broken plugin names itself, not a traceback
            fail(f"plugin {entry.distribution}: command {entry.name!r} ({entry.target}): {type(exc).__name__}: {exc}")
        if not isinstance(command, click.Command):
            fail(f"plugin {entry.distribution}: command {entry.name!r} ({entry.target}) is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands without importing any (built-in short help is declared above; a plugin's is its summary)."""
        rows = [(name, help_text) for name, (_, help_text) in BUILTIN_COMMANDS.items()]
        for name, entry in plugin_commands().items():
            rows.append((name, f"[{entry.distribution}] {entry.summary}".rstrip()))
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
