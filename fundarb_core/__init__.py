"""fundarb: delta-neutral funding-rate arbitrage across perpetual-futures venues, built from plugins.

The public API is what this module exports; everything else may change. docs/plugins/api.md lists every module a
plugin may import. Names load lazily so that the command line starts fast: the `TYPE_CHECKING` block below is the
one list of them, read by `fundarb_core.lazy` (which also makes `__all__` from it).
"""

from __future__ import annotations

import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any

from fundarb_core import lazy
from fundarb_core._version import __version__ as __version__
from fundarb_core.hookspecs import hookimpl as hookimpl


class _QuietOnceLoguruLoads:
    """A library stays quiet: `logger.disable("fundarb_core")` runs as soon as loguru is imported.

    Not before: importing loguru costs ~50 ms (asyncio, multiprocessing, logging), and `fundarb --help` and
    `import fundarb_core` log nothing. This finder sits first on `sys.meta_path` until loguru is imported, then
    wraps that one import so the disable runs right after loguru's own module code, and removes itself.
    """

    @classmethod
    def find_spec(cls, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name != "loguru":
            return None
        if cls in sys.meta_path:
            sys.meta_path.remove(cls)
        from importlib.util import find_spec

        spec = find_spec(name)
        run = getattr(spec.loader, "exec_module", None) if spec is not None else None
        if spec is None or spec.loader is None or run is None:
            return spec
        loader = spec.loader

        def exec_module(module: ModuleType) -> None:
            run(module)
            module.logger.disable(__name__)

        loader.exec_module = exec_module  # type: ignore[method-assign]  # this spec's own loader only
        return spec


if "loguru" in sys.modules:
    sys.modules["loguru"].logger.disable(__name__)
else:
    sys.meta_path.insert(0, _QuietOnceLoguruLoads)

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
