"""Configuration: TOML files validated into attrs classes, with every problem reported at once."""

from __future__ import annotations

from fundarb_core.config._check import PluginSection, plugin_section
from fundarb_core.config._load import dump_config, load_config, parse_config
from fundarb_core.config._model import BotConfig, Config, StoreConfig, StrategyConfig

__all__ = [
    "BotConfig",
    "Config",
    "PluginSection",
    "StoreConfig",
    "StrategyConfig",
    "dump_config",
    "load_config",
    "parse_config",
    "plugin_section",
]
