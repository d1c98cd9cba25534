"""Register the venue kind `lighter` through fundarb's `fundarb_register_venues` hook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fundarb_core import hookimpl
from fundarb_venue_lighter.config import LighterConfig

if TYPE_CHECKING:
    from fundarb_core.plugins import Register
    from fundarb_core.venues import VenueContext
    from fundarb_venue_lighter.venue import LighterVenue

KIND = "lighter"


def build_venue(venue_id: str, config: LighterConfig, context: VenueContext) -> LighterVenue:
    """Build the venue named `venue_id` in the configuration (`[venues.<venue_id>]`)."""
    from fundarb_venue_lighter.venue import LighterVenue  # imported on use: keeps `fundarb --help` fast

    return LighterVenue(venue_id, config, context)


@hookimpl
def fundarb_register_venues(register: Register) -> None:
    register(KIND, LighterConfig, build_venue)
