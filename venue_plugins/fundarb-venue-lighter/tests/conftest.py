"""Fixtures: a fake Lighter server on 127.0.0.1 (an ephemeral port, fresh per test) and venues talking to it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from fundarb_venue_lighter.config import LighterConfig
from fundarb_venue_lighter.signer import import_lighter
from fundarb_venue_lighter.testing import FakeLighter, throwaway_key_pair
from fundarb_venue_lighter.venue import LighterVenue
from hypothesis import settings

from fundarb_core.clock import WallClock
from fundarb_core.secrets import Secret
from fundarb_core.venues import VenueContext

ACCOUNT = 7
KEY = 3

# The fuzz suite's large run (`HYPOTHESIS_PROFILE=fuzz`): 1,000 mutated replies per venue method.
settings.register_profile("fuzz", max_examples=1000, deadline=None)
if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz":
    settings.load_profile("fuzz")


# Import the SDK once, before any test runs: one of its dependencies raises the recursion limit on import, which
# hypothesis reports as a warning (an error here) if it happens inside a hypothesis test.
import_lighter()
api_key = throwaway_key_pair


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeLighter]:
    server = FakeLighter()
    server.exchange.register_key(ACCOUNT, KEY, api_key()[1])
    await server.start()
    yield server
    await server.stop()


def make_config(fake: FakeLighter, **overrides: Any) -> LighterConfig:
    settings: dict[str, Any] = {
        "account_index": ACCOUNT,
        "api_key_index": KEY,
        "api_private_key": Secret(api_key()[0]),
        "base_url": fake.url,
        "requests_per_minute": 1_000_000,  # the fake does not limit; the limiter has its own tests
        # Tests that probe REST (faults, hostile replies) would be answered by `market_stats` instead; test_live.py
        # switches the stream on.
        "market_streams": False,
    }
    settings.update(overrides)
    return LighterConfig(**settings)


@pytest_asyncio.fixture
async def make_venue(fake: FakeLighter) -> AsyncIterator[Callable[..., LighterVenue]]:
    venues: list[LighterVenue] = []

    def build(name: str = "lighter", **overrides: Any) -> LighterVenue:
        venue = LighterVenue(name, make_config(fake, **overrides), VenueContext(WallClock()))
        venues.append(venue)
        return venue

    yield build
    for venue in venues:
        await venue.close()


@pytest.fixture
def venue(make_venue: Callable[..., LighterVenue]) -> LighterVenue:
    return make_venue()
