"""The simulated perpetual-futures venue shipped with the core (kind `sim`)."""

from __future__ import annotations

from fundarb_core.venues.sim.catalogue import CATALOGUE, PROFILES, Profile, SymbolSpec
from fundarb_core.venues.sim.config import FaultConfig, MaintenanceWindow, SimVenueConfig
from fundarb_core.venues.sim.plugin import build_sim_venue
from fundarb_core.venues.sim.venue import SimVenue
from fundarb_core.venues.sim.world import STEP, SimWorld

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
