"""fundarb's pytest plugin is loaded by entry point, registers the contract's marker, and stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]


def test_marker_and_sim_clock_fixture_in_a_strict_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.venue_contract
        def test_uses_the_fixture(sim_clock):
            assert sim_clock.monotonic() == 0
        """
    )
    result = pytester.runpytest_inprocess(
        "--strict-markers",
        "-m",
        "venue_contract",
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
    )
    result.assert_outcomes(passed=1)


def test_loading_the_plugin_imports_neither_the_suite_nor_hypothesis() -> None:
    code = (
        "import sys, fundarb_core.testing.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m.startswith(('hypothesis', 'fundarb_core.venues', "
        "'fundarb_core.testing.contract', 'sqlalchemy'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"


def test_the_plugin_and_the_contract_suite_load_without_hypothesis() -> None:
    # hypothesis is in the `testing` extra; an environment without it must still start pytest and define the suite
    # (only the suite's one property test imports it, when it runs).
    code = (
        "import sys; sys.modules['hypothesis'] = None; "
        "import fundarb_core.testing.pytest_plugin; from fundarb_core.testing import Driver, VenueContract; "
        "print(VenueContract.__name__, 'hypothesis' in sys.modules and sys.modules['hypothesis'] is not None)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "VenueContract False"
