"""Configuration: TOML files validated into attrs classes, with every problem reported at once.

Names load lazily: a plugin that imports only `fundarb_core.config.validators` for its config class (as venue
plugins do, while `fundarb --help` loads them) does not pay for the converter and the TOML reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fundarb_core import lazy

if TYPE_CHECKING:
    from fundarb_core.config._check import PluginSection as PluginSection
    from fundarb_core.config._check import plugin_section as plugin_section
    from fundarb_core.config._load import dump_config as dump_config
    from fundarb_core.config._load import load_config as load_config
    from fundarb_core.config._load import parse_config as parse_config
    from fundarb_core.config._load import read_toml as read_toml
    from fundarb_core.config._model import ActionsConfig as ActionsConfig
    from fundarb_core.config._model import BotConfig as BotConfig
    from fundarb_core.config._model import Config as Config
    from fundarb_core.config._model import ExitConfig as ExitConfig
    from fundarb_core.config._model import ServeConfig as ServeConfig
    from fundarb_core.config._model import StoreConfig as StoreConfig
    from fundarb_core.config._model import StrategyConfig as StrategyConfig
    from fundarb_core.config._refs import cross_check as cross_check
    from fundarb_core.config._refs import known_names as known_names
    from fundarb_core.config._refs import share_problems as share_problems

__getattr__, __dir__, __all__ = lazy.attach(__name__)
