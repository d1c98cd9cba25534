"""Register the venue kind `template` through fundarb's `fundarb_register_venues` hook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fundarb_core import hookimpl
from fundarb_venue_template.config import TemplateVenueConfig

if TYPE_CHECKING:
    from fundarb_core.plugins import Register
    from fundarb_core.venues import VenueContext
    from fundarb_venue_template.venue import TemplateVenue

KIND = "template"


def build_venue(venue_id: str, config: TemplateVenueConfig, context: VenueContext) -> TemplateVenue:
    """Build the venue named `venue_id` in the configuration (`[venues.<venue_id>]`)."""
    from fundarb_venue_template.venue import TemplateVenue  # imported on use: keeps `fundarb --help` fast

    return TemplateVenue(venue_id, config, context)


@hookimpl
def fundarb_register_venues(register: Register) -> None:
    register(KIND, TemplateVenueConfig, build_venue)
