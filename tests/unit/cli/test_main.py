"""The `fundarb` group: lazy built-in commands, `--version`, and `python -m fundarb_core.cli`."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from fundarb_core import __version__
from fundarb_core.cli import BUILTIN_COMMANDS

pytestmark = pytest.mark.slow


def test_help_lists_builtin_commands_without_importing_them() -> None:
    code = (
        "import sys\n"
        "from fundarb_core.cli import main\n"
        "try:\n"
        "    main(['--help'], prog_name='fundarb')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('IMPORTED', sorted(m for m in sys.modules if m.startswith('fundarb_core.cli._')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"FUNDARB_LOAD_PLUGINS": "", "PATH": "", "COLUMNS": "120"},
    )
    help_text, imported = done.stdout.split("IMPORTED ")
    for name, (_, short_help) in BUILTIN_COMMANDS.items():
        assert f"  {name} " in help_text
        assert short_help in help_text
    assert imported.strip() == "[]"


def test_version_from_the_console_script_and_the_module(fundarb) -> None:
    run = fundarb("--version")
    assert (run.returncode, run.stdout) == (0, f"fundarb, version {__version__}\n")
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
