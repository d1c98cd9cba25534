"""The simulated venue honours the venue contract, and the contract suite catches venues that do not.

The suite runs against both sim profiles (aster-like: 8 h funding, fees, latency; lighter-like: 1 h funding, finer
steps, no fees, slower). Then deliberately broken venues (a SimVenue that ignores `reduce_only`, one that makes a
second order for a repeated client id, one that reports short positions as positive) run the same suite in a
sub-run (`pytester`): the tests that guard the broken rule fail, and only those.
"""

from __future__ import annotations

import re
from decimal import Decimal

import attrs
import pytest

from fundarb_core.clock import SimClock
from fundarb_core.testing import Driver, VenueContract
from fundarb_core.venues import Venue, VenueContext
from fundarb_core.venues.sim import FaultConfig, SimVenueConfig, build_sim_venue

pytest_plugins = ["pytester"]


class SimContract(VenueContract):
    """The contract on a sim venue: a SimClock drives every scenario."""

    profile = "plain"

    def config(self, **faults: Decimal) -> SimVenueConfig:
        return SimVenueConfig(profile=self.profile, symbols=["BTC", "ETH", "SOL", "DOGE"], faults=FaultConfig(**faults))

    @pytest.fixture
    def clock(self) -> SimClock:
        return SimClock()

    @pytest.fixture
    def run(self, clock: SimClock) -> Driver:
        return clock.run

    @pytest.fixture
    def venue(self, clock: SimClock) -> Venue:
        return build_sim_venue("contract", self.config(), VenueContext(clock))

    @pytest.fixture
    def faulty_venue(self, clock: SimClock) -> Venue:
        return build_sim_venue("contract", self.config(ambiguous_probability=Decimal(1)), VenueContext(clock))


class TestAsterLikeSim(SimContract):
    profile = "aster-like"


class TestLighterLikeSim(SimContract):
    profile = "lighter-like"
    contract_symbol = "ETH"

    @pytest.fixture
    def venue(self, clock: SimClock) -> Venue:
        venue = build_sim_venue("contract", self.config(), VenueContext(clock))
        # The catalogue's minimum quantities are one step; give one market a coarser minimum so that the suite's
        # BELOW_MIN_QUANTITY case has an on-grid order to try.
        doge = venue.instruments["DOGE"]
        venue.instruments["DOGE"] = attrs.evolve(doge, min_qty=doge.step_size * 1000)
        return venue


BROKEN = """
from __future__ import annotations

from decimal import Decimal

import pytest

from fundarb_core.clock import SimClock
from fundarb_core.testing import VenueContract
from fundarb_core.venues import VenueContext
from fundarb_core.venues.sim import SimVenue, SimVenueConfig, SimWorld

{venue_class}


class TestBroken(VenueContract):
    @pytest.fixture
    def clock(self):
        return SimClock()

    @pytest.fixture
    def run(self, clock):
        return clock.run

    @pytest.fixture
    def venue(self, clock):
        config = SimVenueConfig(profile="aster-like")
        return Broken("broken", config, clock, SimWorld(0, clock.now()))
"""

IGNORES_REDUCE_ONLY = """
class Broken(SimVenue):
    async def place_limit_order(self, *args, reduce_only=False, **kwargs):
        return await super().place_limit_order(*args, reduce_only=False, **kwargs)

    async def place_market_order(self, *args, reduce_only=False, **kwargs):
        return await super().place_market_order(*args, reduce_only=False, **kwargs)
"""

FORGETS_CLIENT_IDS = """
class Broken(SimVenue):
    def _new_order(self, cid, *args):
        while cid in self.orders:
            cid += "'"
        return super()._new_order(cid, *args)
"""

UNSIGNED_SNAPSHOTS = """
import attrs

class Broken(SimVenue):
    async def get_position_snapshot(self, symbol):
        snapshot = await super().get_position_snapshot(symbol)
        return attrs.evolve(snapshot, quantity=abs(snapshot.quantity))
"""


HIDDEN_MINIMUM = """
from decimal import Decimal
from fundarb_core.errors import VenueRejected
from fundarb_core.model import RejectReason

class Broken(SimVenue):
    # Refuses one step although its instruments announce a minimum of one step: the real minimum is two.
    async def place_limit_order(self, symbol, side, quantity, price, **kwargs):
        instrument = (await self.load_instruments()).get(symbol)
        if instrument and quantity == instrument.step_size and instrument.check_order(quantity, price) is None:
            raise VenueRejected("below the real minimum", venue=self.name, reason=RejectReason.BELOW_MIN_QUANTITY)
        return await super().place_limit_order(symbol, side, quantity, price, **kwargs)
"""


def failed_tests(pytester: pytest.Pytester, venue_class: str) -> set[str]:
    """Run the whole contract against `venue_class`; return the failed tests' names (no errors allowed)."""
    pytester.makepyfile(test_broken_venue=BROKEN.format(venue_class=venue_class))
    result = pytester.runpytest_inprocess(
        "-rf", "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function", "-W", "error"
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes.get("passed", 0) > 20, result.stdout.str()
    failed = {m.group(1) for line in result.outlines if (m := re.match(r"FAILED \S+::(\S+)", line))}
    assert len(failed) == outcomes.get("failed", 0), result.stdout.str()
    return failed


def test_the_sim_venue_passes_the_contract_in_a_sub_run(pytester: pytest.Pytester) -> None:
    """The control for the tests below: unbroken, the same harness reports no failure."""
    assert failed_tests(pytester, "class Broken(SimVenue):\n    pass\n") == set()


def test_a_venue_that_ignores_reduce_only_fails_the_contract(pytester: pytest.Pytester) -> None:
    assert failed_tests(pytester, IGNORES_REDUCE_ONLY) == {
        "test_reduce_only_without_a_position_is_rejected[market]",
        "test_reduce_only_without_a_position_is_rejected[limit]",
        "test_reduce_only_on_the_side_of_the_position_is_rejected[long]",
        "test_reduce_only_on_the_side_of_the_position_is_rejected[short]",
        "test_reduce_only_larger_than_the_position_never_flips_it[long]",
        "test_reduce_only_larger_than_the_position_never_flips_it[short]",
    }


def test_a_venue_that_forgets_client_ids_fails_the_contract(pytester: pytest.Pytester) -> None:
    assert failed_tests(pytester, FORGETS_CLIENT_IDS) == {
        "test_same_client_order_id_twice_is_one_order",
        "test_same_client_order_id_twice_rests_once",
    }


def test_a_venue_with_unsigned_snapshots_fails_the_contract(pytester: pytest.Pytester) -> None:
    assert "test_snapshot_sign_follows_the_side[short]" in failed_tests(pytester, UNSIGNED_SNAPSHOTS)


def test_a_venue_whose_real_minimum_is_above_its_announced_one_fails_the_contract(pytester: pytest.Pytester) -> None:
    # The sim's minimums are one step: no on-grid order lies below them, so the rule is checked from above.
    assert failed_tests(pytester, HIDDEN_MINIMUM) == {"test_invalid_order_is_a_typed_rejection[below_min_quantity]"}
