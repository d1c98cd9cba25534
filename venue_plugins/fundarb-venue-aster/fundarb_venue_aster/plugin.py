"""Register the venue kind `aster` through fundarb's `fundarb_register_venues` hook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fundarb_core import hookimpl
from fundarb_venue_aster.config import AsterConfig

if TYPE_CHECKING:
    from fundarb_core.plugins import Register
    from fundarb_core.venues import VenueContext
    from fundarb_venue_aster.venue import AsterVenue

KIND = "aster"


def build_venue(venue_id: str, config: AsterConfig, context: VenueContext) -> AsterVenue:
    """Build the venue named `venue_id` in the configuration (`[venues.<venue_id>]`); no network is touched."""
    from fundarb_venue_aster.venue import AsterVenue  # imported on use: keeps `fundarb --help` fast

    return AsterVenue(venue_id, config, context)


@hookimpl
def fundarb_register_venues(register: Register) -> None:
    register(KIND, AsterConfig, build_venue)
