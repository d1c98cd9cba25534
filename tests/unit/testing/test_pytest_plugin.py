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
