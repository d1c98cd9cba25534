"""The `fundarb` group: lazy built-in commands, `--version`, and `python -m fundarb_core.cli`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from fundarb_core import __version__
from fundarb_core.cli import BUILTIN_COMMANDS

pytestmark = pytest.mark.slow

# What listing commands must never pay for: the store, charts, HTTP, venue SDKs, data, the API server, optimizers.
HEAVY = {
    "sqlalchemy", "alembic", "matplotlib", "aiohttp", "eth_account", "lighter", "duckdb", "pandas", "numpy",
    "fastapi", "uvicorn", "starlette", "optuna", "httpx", "websockets", "cattrs", "rich", "loguru",
}  # fmt: skip
# The only core modules `fundarb --help` may load (`--version` loads fewer).
CORE_FOR_HELP = {
    "fundarb_core", "fundarb_core._version", "fundarb_core.lazy", "fundarb_core.hookspecs", "fundarb_core.cli",
    "fundarb_core.plugins", "fundarb_core.plugins._entry",
}  # fmt: skip
PLUGIN_PACKAGES = ("greeter_pkg", "fundarb_venue_", "fundarb_close_", "fundarb_risk_", "fundarb_transfer_")

HEAVY_COMMAND = '''
import click
import fundarb_core.store  # heavy on purpose: SQLAlchemy and alembic

@click.command()
def greet():
    """Say hello from a plugin."""
    click.echo("hello from a plugin command")
'''

LIGHT_COMMAND = HEAVY_COMMAND.replace("import fundarb_core.store", "")


def imported_by(args: list[str], path: Path | None = None) -> tuple[str, set[str]]:
    """Run the `fundarb` console script with `-X importtime`; return its stdout and every module it imported."""
    script = Path(sys.executable).with_name("fundarb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNDARB_") and k != "PYTHONPATH"}
    if path is not None:
        env["PYTHONPATH"] = str(path)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**env, "COLUMNS": "120"},
    )
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return done.stdout, modules - {"package"}  # minus the header line's last column


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_listing_commands_imports_nothing_heavy(site, args: list[str]) -> None:
    """`fundarb --help` lists every installed plugin's commands from metadata, importing no plugin."""
    site.add(
        "fundarb-greeter",
        modules={"greeter_pkg.commands": HEAVY_COMMAND, "greeter_pkg.plugin": "import fundarb_core.store\n"},
        entry_points={"greeter": "greeter_pkg.plugin"},
        commands={"greet": "greeter_pkg.commands:greet"},
        summary="Greetings for fundarb.",
    )
    output, modules = imported_by(args, path=site.root)

    assert "fundarb_core.cli" in modules  # the importtime output was read
    assert {m.split(".")[0] for m in modules} & HEAVY == set()
    assert {m for m in modules if m.startswith(PLUGIN_PACKAGES)} == set()
    assert {m for m in modules if m.startswith("fundarb_core")} <= CORE_FOR_HELP
    if args == ["--help"]:
        assert "  greet " in output
        assert "[fundarb-greeter] Greetings for fundarb." in output
        for name in BUILTIN_COMMANDS:
            assert f"  {name} " in output
    else:
        assert output == f"fundarb, version {__version__}\n"


def test_a_plugin_command_loads_when_it_runs(site, fundarb) -> None:
    site.add(
        "fundarb-greeter",
        modules={"greeter_pkg.commands": LIGHT_COMMAND, "greeter_pkg.plugin": ""},
        entry_points={"greeter": "greeter_pkg.plugin"},
        commands={"greet": "greeter_pkg.commands:greet", "broken": "greeter_pkg.missing:cmd"},
    )
    run = fundarb("greet", path=site.root)
    assert (run.returncode, run.stdout) == (0, "hello from a plugin command\n"), run.stderr
    listed = json.loads(fundarb("plugins", "--json", path=site.root).stdout)
    (greeter,) = [p for p in listed["plugins"] if p["distribution"] == "fundarb-greeter"]
    assert greeter["registered"] == {"commands": ["broken", "greet"]}
    broken = fundarb("broken", path=site.root)
    assert broken.returncode == 2
    assert broken.stderr.startswith("plugin fundarb-greeter: command 'broken' (greeter_pkg.missing:cmd): ModuleNot")


def test_a_plugin_command_may_not_take_a_builtin_name(site, fundarb) -> None:
    site.add("fundarb-rogue", modules={"rogue_mod": ""}, entry_points={}, commands={"run": "rogue_mod:greet"})
    run = fundarb("--help", path=site.root)
    assert run.returncode == 2
    assert run.stderr == "command 'run' is added twice: by plugin fundarb-core and by plugin fundarb-rogue\n"


def test_version_from_the_module() -> None:  # the console script's: test_listing_commands_imports_nothing_heavy
    done = subprocess.run(
        [sys.executable, "-m", "fundarb_core.cli", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (0, f"fundarb, version {__version__}\n")


def test_a_config_error_raised_by_a_command_is_exit_2_with_its_lines() -> None:
    from click.testing import CliRunner

    from fundarb_core.cli import main
    from fundarb_core.errors import ConfigError

    @click.command(name="late-config")
    def late() -> None:
        raise ConfigError(["venues.main.private_key: not a hex string of 40 bytes", "venues.main.index: missing"])

    main.add_command(late)
    try:
        result = CliRunner().invoke(main, ["late-config"])
    finally:
        main.commands.pop("late-config")
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "venues.main.private_key: not a hex string of 40 bytes",
        "venues.main.index: missing",
    ]
