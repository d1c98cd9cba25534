"""The core's venue contract suite, run against the Lighter adapter talking to the fake Lighter server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fundarb_venue_lighter.testing import FakeLighter
from fundarb_venue_lighter.venue import LighterVenue

from fundarb_core.testing import VenueContract
from fundarb_core.venues import Venue


class TestLighterContract(VenueContract):
    contract_symbol = "ETH"

    @pytest.fixture
    def venue(self, make_venue: Callable[..., LighterVenue]) -> Venue:  # type: ignore[override]
        return make_venue(market_streams=True)  # marks from market_stats once current

    @pytest.fixture
    def faulty_venue(self, fake: FakeLighter, make_venue: Callable[..., LighterVenue]) -> Venue:  # type: ignore[override]
        # Every CreateOrder reaches the fake and is executed, then the connection is dropped unanswered.
        fake.faults.drop_reply_tx_types = {14}
        return make_venue()
