"""The replay venue honours the venue contract (on synthetic recorded data, in simulated time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from fundarb_core.clock import SimClock
from fundarb_core.testing import Driver, VenueContract
from fundarb_core.venues import Venue
from fundarb_core.venues.replay import ReplayVenueConfig
from fundarb_core.venues.replay.synthetic import replay_data
from fundarb_core.venues.replay.venue import ReplayVenue

START = datetime(2025, 1, 1, tzinfo=UTC)
DATA = replay_data("rec", ["BTC", "ETH", "SOL", "DOGE"], START, hours=72, seed=3)


class TestReplayContract(VenueContract):
    @pytest.fixture
    def clock(self) -> SimClock:
        return SimClock(START + timedelta(hours=24, minutes=10))

    @pytest.fixture
    def run(self, clock: SimClock) -> Driver:
        return clock.run

    @pytest.fixture
    def venue(self, clock: SimClock) -> Venue:
        config = ReplayVenueConfig(maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.0005"))
        return ReplayVenue("contract", config, clock, DATA)
