"""`fundarb config check|show`, run as a subprocess exactly as an operator runs it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# Installed plugins play no part in these files: the environment loads none.
NO_PLUGINS = {"FUNDARB_LOAD_PLUGINS": ""}


def test_check_reports_every_problem_with_exit_status_2(fundarb, tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        """
[strategy]
position_size_usd = -5
max_positions = "ten"
colour = "blue"
"""
    )
    run = fundarb("config", "check", str(path), env=NO_PLUGINS)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        "strategy.colour: unknown key",
        "strategy.position_size_usd: must be positive, found -5",
        "strategy.max_positions: expected an integer, found str 'ten'",
    ]


def test_check_accepts_a_valid_file(fundarb, tmp_path) -> None:
    path = tmp_path / "good.toml"
    path.write_text('[strategy]\nposition_size_usd = "250"\nexpected_hold = "8h"\n')
    run = fundarb("config", "check", str(path), env=NO_PLUGINS)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{path}: OK (venues: none)\n"


def test_check_reports_a_file_that_is_not_toml(fundarb, tmp_path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[strategy\n")
    run = fundarb("config", "check", str(path), env=NO_PLUGINS)
    assert run.returncode == 2
    assert run.stderr.startswith(f"{path}: not valid TOML")


def test_show_masks_secrets(fundarb, tmp_path, site) -> None:
    site.add(
        "fundarb-keyed",
        modules={
            "keyed_mod": """
import attrs

from fundarb_core import hookimpl
from fundarb_core.secrets import Secret


@attrs.frozen
class KeyedConfig:
    api_key: Secret
    api_secret: Secret


@hookimpl
def fundarb_register_venues(register):
    register("keyed", KeyedConfig, lambda *args: None)
"""
        },
        entry_points={"keyed": "keyed_mod"},
    )
    path = tmp_path / "keyed.toml"
    path.write_text(
        '[venues.main]\nkind = "keyed"\napi_key = "env:KEYED_API_KEY"\napi_secret = "sk-live-literal-9876"\n'
    )
    env = {"KEYED_API_KEY": "sk-live-from-env-1234", "FUNDARB_LOAD_PLUGINS": "fundarb-keyed"}

    run = fundarb("config", "show", str(path), path=site.root, env=env)

    assert run.returncode == 0, run.stderr
    assert "sk-live" not in run.stdout + run.stderr
    assert 'api_key = "***"' in run.stdout
    assert 'api_secret = "***"' in run.stdout
    assert 'kind = "keyed"' in run.stdout
    assert 'position_size_usd = "1000"' in run.stdout  # defaults are filled in

    unset = fundarb("config", "show", str(path), path=site.root, env={"FUNDARB_LOAD_PLUGINS": "fundarb-keyed"})
    assert unset.returncode == 2
    assert unset.stderr.splitlines() == ["venues.main.api_key: environment variable KEYED_API_KEY is not set"]


def test_check_reports_broken_cross_references_one_line_each(fundarb, tmp_path) -> None:
    path = tmp_path / "refs.toml"
    path.write_text(
        """
[venues.aster_sim]
kind = "sim"

[venues.lighter_sim]
kind = "sim"

[risk_manager]
kind = "combined"

[risk_manager.transfer_on_exit]
target = { aster_sim = "0.9", lighter_sim = "0.5", binance = "0.4" }

[transfers.sim]
kind = "sim"
venues = ["aster_sim", "lighter_sim"]
"""
    )
    env = {"FUNDARB_LOAD_PLUGINS": "fundarb-risk-standard,fundarb-transfer-sim"}
    run = fundarb("config", "check", str(path), env=env)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        "risk_manager.transfer_on_exit.target.binance: unknown venue 'binance' (venues: aster_sim, lighter_sim)",
        "risk_manager.transfer_on_exit.target: shares must sum to 1, found 1.8",
    ]
    path.write_text(path.read_text().replace(', binance = "0.4"', "").replace('"0.9"', '"0.5"'))
    fixed = fundarb("config", "check", str(path), env=env)
    assert fixed.returncode == 0, fixed.stderr
