"""Fixtures: a fake Aster server on 127.0.0.1 (an ephemeral port) and venues configured against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from eth_account import Account
from fundarb_venue_aster.config import AsterConfig
from fundarb_venue_aster.testing import FakeAsterServer
from fundarb_venue_aster.venue import AsterVenue

from fundarb_core.clock import WallClock
from fundarb_core.secrets import Secret
from fundarb_core.venues import VenueContext

# Test identities. The API wallet's key is the demonstration key of Aster's V3 docs (public, worthless).
SIGNER_KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"
SIGNER = Account.from_key(SIGNER_KEY).address
USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"
V1_KEY = "fake-v1-api-key-0123456789abcdef"
V1_SECRET = "fake-v1-api-secret-fedcba9876543210"

# Streams reconnect and waits end in milliseconds in tests; no test sleeps.
FAST: dict[str, Any] = {
    "reconnect_initial": timedelta(milliseconds=1),
    "reconnect_max": timedelta(milliseconds=20),
    "timeout": timedelta(seconds=5),
    "connect_timeout": timedelta(seconds=2),
    # These tests probe REST (faults, hostile replies) through fetch_bbo_prices / fetch_funding_rates: the market
    # streams would answer some of those calls instead. test_market_stream.py and the `fundarb run` test switch
    # them on.
    "market_streams": False,
}


def v3_config(server: FakeAsterServer, **overrides: Any) -> AsterConfig:
    settings: dict[str, Any] = {
        "auth": "v3",
        "user": USER,
        "signer": SIGNER,
        "private_key": Secret(SIGNER_KEY),
        "base_url": server.url,
        "ws_url": server.ws_url,
        **FAST,
    }
    settings.update(overrides)
    return AsterConfig(**settings)


def v1_config(server: FakeAsterServer, **overrides: Any) -> AsterConfig:
    settings: dict[str, Any] = {
        "auth": "v1",
        "api_key": Secret(V1_KEY),
        "api_secret": Secret(V1_SECRET),
        "base_url": server.url,
        "ws_url": server.ws_url,
        **FAST,
    }
    settings.update(overrides)
    return AsterConfig(**settings)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeAsterServer]:
    async with FakeAsterServer(seed=7, v1_keys={V1_KEY: V1_SECRET}) as server:
        yield server


@pytest_asyncio.fixture
async def make_venue() -> AsyncIterator[Callable[[AsterConfig], AsterVenue]]:
    venues: list[AsterVenue] = []

    def build(config: AsterConfig, name: str = "aster") -> AsterVenue:
        venue = AsterVenue(name, config, VenueContext(WallClock()))
        venues.append(venue)
        return venue

    yield build
    for venue in venues:
        await venue.close()


@pytest.fixture
def venue_v3(fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]) -> AsterVenue:
    return make_venue(v3_config(fake))
