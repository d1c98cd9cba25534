"""fundarb: delta-neutral funding-rate arbitrage across perpetual-futures venues, built from plugins.

The public API is what this module exports; everything else may change. Names load lazily so that the command
line starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from loguru import logger

from fundarb_core._version import __version__
from fundarb_core.hookspecs import hookimpl

logger.disable("fundarb_core")

if TYPE_CHECKING:
    from fundarb_core.clock import Clock, ScaledClock, SimClock, WallClock
    from fundarb_core.config import Config, PluginSection, load_config, parse_config
    from fundarb_core.errors import (
        AmbiguousOutcome,
        ConfigError,
        ExecutionError,
        FundarbError,
        PluginError,
        RateLimited,
        StoreError,
        VenueError,
        VenueRejected,
        VenueUnavailable,
    )
    from fundarb_core.plugins import Plugins, Register, Registry
    from fundarb_core.secrets import Secret

_LAZY = {
    "AmbiguousOutcome": "fundarb_core.errors",
    "Clock": "fundarb_core.clock",
    "Config": "fundarb_core.config",
    "ConfigError": "fundarb_core.errors",
    "ExecutionError": "fundarb_core.errors",
    "FundarbError": "fundarb_core.errors",
    "PluginError": "fundarb_core.errors",
    "PluginSection": "fundarb_core.config",
    "Plugins": "fundarb_core.plugins",
    "RateLimited": "fundarb_core.errors",
    "Register": "fundarb_core.plugins",
    "Registry": "fundarb_core.plugins",
    "ScaledClock": "fundarb_core.clock",
    "Secret": "fundarb_core.secrets",
    "SimClock": "fundarb_core.clock",
    "StoreError": "fundarb_core.errors",
    "VenueError": "fundarb_core.errors",
    "VenueRejected": "fundarb_core.errors",
    "VenueUnavailable": "fundarb_core.errors",
    "WallClock": "fundarb_core.clock",
    "load_config": "fundarb_core.config",
    "parse_config": "fundarb_core.config",
}

# Written out (not computed from _LAZY) so that tools can read it; tests/unit/test_public_api.py keeps the two equal.
__all__ = [
    "AmbiguousOutcome",
    "Clock",
    "Config",
    "ConfigError",
    "ExecutionError",
    "FundarbError",
    "PluginError",
    "PluginSection",
    "Plugins",
    "RateLimited",
    "Register",
    "Registry",
    "ScaledClock",
    "Secret",
    "SimClock",
    "StoreError",
    "VenueError",
    "VenueRejected",
    "VenueUnavailable",
    "WallClock",
    "__version__",
    "hookimpl",
    "load_config",
    "parse_config",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fundarb_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
