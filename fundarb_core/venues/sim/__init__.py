"""The simulated perpetual-futures venue shipped with the core (kind `sim`). Names load lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fundarb_core import lazy

if TYPE_CHECKING:
    from fundarb_core.venues.sim.catalogue import CATALOGUE as CATALOGUE
    from fundarb_core.venues.sim.catalogue import PROFILES as PROFILES
    from fundarb_core.venues.sim.catalogue import Profile as Profile
    from fundarb_core.venues.sim.catalogue import SymbolSpec as SymbolSpec
    from fundarb_core.venues.sim.config import FaultConfig as FaultConfig
    from fundarb_core.venues.sim.config import MaintenanceWindow as MaintenanceWindow
    from fundarb_core.venues.sim.config import SimVenueConfig as SimVenueConfig
    from fundarb_core.venues.sim.plugin import build_sim_venue as build_sim_venue
    from fundarb_core.venues.sim.venue import SimVenue as SimVenue
    from fundarb_core.venues.sim.world import STEP as STEP
    from fundarb_core.venues.sim.world import SimWorld as SimWorld
    from fundarb_core.venues.sim.world import stable_seed as stable_seed

__getattr__, __dir__, __all__ = lazy.attach(__name__)
