"""fundarb: delta-neutral funding-rate arbitrage across perpetual-futures venues, built from plugins.

The public API is what this module exports; everything else may change. docs/plugins/api.md lists every module a
plugin may import. Names load lazily so that the command line starts fast: the `TYPE_CHECKING` block below is the
one list of them, read by `fundarb_core.lazy` (which also makes `__all__` from it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loguru import logger

from fundarb_core import lazy
from fundarb_core._version import __version__ as __version__
from fundarb_core.hookspecs import hookimpl as hookimpl

logger.disable("fundarb_core")

if TYPE_CHECKING:
    from fundarb_core.clock import Clock as Clock
    from fundarb_core.clock import ScaledClock as ScaledClock
    from fundarb_core.clock import SimClock as SimClock
    from fundarb_core.clock import WallClock as WallClock
    from fundarb_core.config import Config as Config
    from fundarb_core.config import PluginSection as PluginSection
    from fundarb_core.config import load_config as load_config
    from fundarb_core.config import parse_config as parse_config
    from fundarb_core.errors import AmbiguousOutcome as AmbiguousOutcome
    from fundarb_core.errors import ConfigError as ConfigError
    from fundarb_core.errors import ExecutionError as ExecutionError
    from fundarb_core.errors import FundarbError as FundarbError
    from fundarb_core.errors import PluginError as PluginError
    from fundarb_core.errors import RateLimited as RateLimited
    from fundarb_core.errors import StoreError as StoreError
    from fundarb_core.errors import VenueError as VenueError
    from fundarb_core.errors import VenueRejected as VenueRejected
    from fundarb_core.errors import VenueUnavailable as VenueUnavailable
    from fundarb_core.plugins import Plugins as Plugins
    from fundarb_core.plugins import Register as Register
    from fundarb_core.plugins import Registry as Registry
    from fundarb_core.secrets import Secret as Secret

__getattr__, __dir__, __all__ = lazy.attach(__name__)
