"""fundarb's pytest plugin (entry point `pytest11`), loaded in every pytest run of an environment with fundarb.

It registers the `venue_contract` marker (carried by every test of `fundarb_core.testing.VenueContract`), the
`transfer_contract` marker (`fundarb_core.testing.transfers.TransferRouteContract`) and a `sim_clock` fixture.
It imports nothing heavy: plugin test suites pay for the contract suites only when they use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fundarb_core.clock import SimClock


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "venue_contract: a test of fundarb's venue contract suite (fundarb_core.testing.VenueContract)"
    )
    config.addinivalue_line(
        "markers",
        "transfer_contract: a test of fundarb's transfer-route contract (fundarb_core.testing.transfers)",
    )


@pytest.fixture
def sim_clock() -> SimClock:
    """A fresh `SimClock` at its default start; drive it with `await sim_clock.run(scenario())`."""
    from fundarb_core.clock import SimClock

    return SimClock()
