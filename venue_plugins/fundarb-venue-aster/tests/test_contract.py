"""The core's venue contract suite, run against the Aster adapter talking to the fake Aster server.

Once with V3 (EIP-712) authentication, once with V1 (HMAC); the ambiguity tests use a server that loses the reply
to every accepted order (HTTP 503 "execution status unknown", and a dropped connection).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fundarb_venue_aster.testing import FakeAsterServer
from fundarb_venue_aster.venue import AsterVenue

from fundarb_core.testing import VenueContract
from fundarb_core.venues import Venue

from .conftest import v1_config, v3_config


class TestAsterV3Contract(VenueContract):
    @pytest.fixture
    def venue(self, fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]) -> Venue:
        return make_venue(v3_config(fake, market_streams=True))  # BBO and marks from the streams once subscribed

    @pytest.fixture
    def faulty_venue(self, fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]) -> Venue:
        fake.faults.order_replies = "503"
        return make_venue(v3_config(fake))


class TestAsterV1Contract(VenueContract):
    contract_symbol = "ETH"

    @pytest.fixture
    def venue(self, fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]) -> Venue:
        return make_venue(v1_config(fake))

    @pytest.fixture
    def faulty_venue(self, fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]) -> Venue:
        fake.faults.order_replies = "disconnect"
        return make_venue(v1_config(fake))
