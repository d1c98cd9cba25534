"""Registers the simulated venue (`kind = "sim"`) through the same hook as any venue plugin.

The venue itself is imported only when one is built, so loading plugins (and `fundarb --help`) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fundarb_core.hookspecs import hookimpl
from fundarb_core.plugins import Register
from fundarb_core.venues.sim.config import SimVenueConfig

if TYPE_CHECKING:
    from fundarb_core.venues._protocol import VenueContext
    from fundarb_core.venues.sim.venue import SimVenue


def build_sim_venue(name: str, config: SimVenueConfig, context: VenueContext) -> SimVenue:
    """Build a sim venue; venues of one run with the same seed share one price world."""
    from fundarb_core.venues.sim import persist
    from fundarb_core.venues.sim.venue import SimVenue
    from fundarb_core.venues.sim.world import SimWorld

    state_path = None
    if config.persist and context.data_dir is not None:
        state_path = context.data_dir / "sim" / f"{name}.json"
    key = f"sim-world:{config.seed}"
    world = context.shared.get(key)
    if world is None:
        start = (persist.world_start(state_path) if state_path else None) or context.clock.now()
        world = context.shared[key] = SimWorld(config.seed, start)
    assert isinstance(world, SimWorld)
    return SimVenue(name, config, context.clock, world, state_path=state_path)


@hookimpl
def fundarb_register_venues(register: Register) -> None:
    register("sim", SimVenueConfig, build_sim_venue, simulated=True)
