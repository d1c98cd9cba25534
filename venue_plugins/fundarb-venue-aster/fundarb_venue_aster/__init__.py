"""Aster perpetual futures for fundarb: the venue kind `aster` and a fake Aster server to test it against.

Keep this module light: fundarb imports the plugin's package whenever it starts (even for `fundarb --help`), so
the venue, aiohttp and eth-account are imported only when a venue is built (or a name below is first used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from loguru import logger

# A library never prints unless asked: the `fundarb` command line enables each plugin's logs when it configures
# logging.
logger.disable("fundarb_venue_aster")

if TYPE_CHECKING:
    from fundarb_venue_aster.config import AsterConfig
    from fundarb_venue_aster.errors import VenueHalted
    from fundarb_venue_aster.venue import AsterVenue

__all__ = ["AsterConfig", "AsterVenue", "VenueHalted"]

_LAZY = {
    "AsterConfig": "fundarb_venue_aster.config",
    "AsterVenue": "fundarb_venue_aster.venue",
    "VenueHalted": "fundarb_venue_aster.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fundarb_venue_aster' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
