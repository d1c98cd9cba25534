"""The installed distribution: `fundarb plugins` finds it, and loading it costs only the config classes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DISTRIBUTION = "fundarb-risk-standard"
NAMES = ["combined", "divergence_flip", "max_age", "profit_erosion"]


def clean_env() -> dict[str, str]:
    """This environment without FUNDARB_* or PYTHONPATH: every installed plugin loads, as for a user."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FUNDARB_") and k != "PYTHONPATH"}


def fundarb_command() -> list[str]:
    script = Path(sys.executable).with_name("fundarb.exe" if os.name == "nt" else "fundarb")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "fundarb_core.cli"]


@pytest.mark.slow
def test_fundarb_plugins_lists_the_distribution_and_its_four_risk_managers(tmp_path: Path) -> None:
    done = subprocess.run(
        [*fundarb_command(), "plugins", "--json"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    ours = [p for p in payload["plugins"] if p["distribution"] == DISTRIBUTION]
    assert len(ours) == 1, payload
    assert ours[0]["hooks"] == ["fundarb_register_risk_managers"]
    assert ours[0]["registered"] == {"risk_managers": NAMES}
    assert ours[0]["builtin"] is False
    assert ours[0]["version"] == "0.1.0"
    assert [b for b in payload["broken"] if b["distribution"] == DISTRIBUTION] == []


@pytest.mark.slow
def test_loading_the_plugin_does_not_import_the_managers(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from fundarb_core.plugins import Plugins
        from fundarb_risk_standard import plugin

        manager = Plugins().load(entry_points=False)
        manager.register(plugin, name="risk_standard", distribution="fundarb-risk-standard")
        registration = manager.registry.get("risk_managers", "combined")
        print("fundarb_risk_standard.managers" in sys.modules)
        built = registration.factory(registration.config_cls())
        print(type(built).__name__, "fundarb_risk_standard.managers" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["False", "CombinedManager True"]
