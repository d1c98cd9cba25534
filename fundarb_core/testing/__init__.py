"""Test support for fundarb and its plugins: the venue contract suite and hypothesis strategies.

`fundarb_core.testing.pytest_plugin` is loaded by pytest in every run (entry point `pytest11`), so this package
stays cheap to import: `VenueContract` and `strategies` load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fundarb_core.testing import strategies
    from fundarb_core.testing.contract import Driver, VenueContract

__all__ = ["Driver", "VenueContract", "strategies"]

_LAZY = {
    "Driver": "fundarb_core.testing.contract",
    "VenueContract": "fundarb_core.testing.contract",
}


def __getattr__(name: str) -> Any:
    if name == "strategies":
        return importlib.import_module("fundarb_core.testing.strategies")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fundarb_core.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
