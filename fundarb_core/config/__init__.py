"""Configuration: TOML files validated into attrs classes, with every problem reported at once.

Names load lazily: a plugin that imports only `fundarb_core.config.validators` for its config class (as venue
plugins do, while `fundarb --help` loads them) does not pay for the converter and the TOML reader.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fundarb_core.config._check import PluginSection, plugin_section
    from fundarb_core.config._load import dump_config, load_config, parse_config
    from fundarb_core.config._model import (
        ActionsConfig,
        BotConfig,
        Config,
        ExitConfig,
        ServeConfig,
        StoreConfig,
        StrategyConfig,
    )

_LAZY = {
    "ActionsConfig": "fundarb_core.config._model",
    "BotConfig": "fundarb_core.config._model",
    "Config": "fundarb_core.config._model",
    "PluginSection": "fundarb_core.config._check",
    "ServeConfig": "fundarb_core.config._model",
    "StoreConfig": "fundarb_core.config._model",
    "StrategyConfig": "fundarb_core.config._model",
    "ExitConfig": "fundarb_core.config._model",
    "dump_config": "fundarb_core.config._load",
    "load_config": "fundarb_core.config._load",
    "parse_config": "fundarb_core.config._load",
    "plugin_section": "fundarb_core.config._check",
}

__all__ = [
    "ActionsConfig",
    "BotConfig",
    "Config",
    "ExitConfig",
    "PluginSection",
    "ServeConfig",
    "StoreConfig",
    "StrategyConfig",
    "dump_config",
    "load_config",
    "parse_config",
    "plugin_section",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fundarb_core.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
