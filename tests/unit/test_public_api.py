"""The public API of fundarb_core is what its `__init__` exports, and every exported name resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import fundarb_core


def test_all_is_sorted_and_matches_the_lazy_table() -> None:
    assert fundarb_core.__all__ == sorted(fundarb_core.__all__)
    assert set(fundarb_core.__all__) == {*fundarb_core._LAZY, "__version__", "hookimpl"}


@pytest.mark.parametrize("name", fundarb_core.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(fundarb_core, name) is not None


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fundarb_core.nope  # noqa: B018 - the access is the test


def test_importing_the_package_stays_light() -> None:
    code = "import sys, fundarb_core; print(sorted(m for m in sys.modules if m.startswith('fundarb_core')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "['fundarb_core', 'fundarb_core._version', 'fundarb_core.hookspecs']"
