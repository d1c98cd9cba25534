"""The simulated perpetual-futures venue shipped with the core (kind `sim`). Names load lazily."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fundarb_core.venues.sim.catalogue import CATALOGUE, PROFILES, Profile, SymbolSpec
    from fundarb_core.venues.sim.config import FaultConfig, MaintenanceWindow, SimVenueConfig
    from fundarb_core.venues.sim.plugin import build_sim_venue
    from fundarb_core.venues.sim.venue import SimVenue
    from fundarb_core.venues.sim.world import STEP, SimWorld

_LAZY = {
    "CATALOGUE": "catalogue",
    "PROFILES": "catalogue",
    "Profile": "catalogue",
    "SymbolSpec": "catalogue",
    "FaultConfig": "config",
    "MaintenanceWindow": "config",
    "SimVenueConfig": "config",
    "build_sim_venue": "plugin",
    "SimVenue": "venue",
    "STEP": "world",
    "SimWorld": "world",
}

__all__ = [
    "CATALOGUE",
    "PROFILES",
    "STEP",
    "FaultConfig",
    "MaintenanceWindow",
    "Profile",
    "SimVenue",
    "SimVenueConfig",
    "SimWorld",
    "SymbolSpec",
    "build_sim_venue",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fundarb_core.venues.sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"fundarb_core.venues.sim.{module}"), name)
    globals()[name] = value
    return value
