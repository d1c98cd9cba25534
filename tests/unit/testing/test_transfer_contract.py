"""The transfer-route contract fails the routes it must fail: one that moves funds again when asked again, one
that moves before the approval it asked for; and passes a correct one (in a strict pytest run of its own)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

ROUTES = '''
from decimal import Decimal

import pytest

from fundarb_core.actions import TransferStep
from fundarb_core.clock import SimClock
from fundarb_core.model.records import TransferState as T
from fundarb_core.testing.transfers import TransferRig, TransferRouteContract


class Route:
    """requested → submitted → withdrawn → confirmed, keyed by transfer id unless `keyed` is off; `gate` asks one
    approval; `eager` withdraws before `submitted` is stored."""

    def __init__(self, keyed: bool, gate: bool, honour_gate: bool, eager: bool = False) -> None:
        self.cash = {"alpha": Decimal(1000), "beta": Decimal(1000)}
        self.done: set[tuple[str, str]] = set()
        self.keyed, self.gate, self.honour_gate, self.eager = keyed, gate, honour_gate, eager

    def serves(self, *args: object) -> bool:
        return True

    def _once(self, transfer, what: str, venue: str, delta: Decimal) -> None:
        if self.keyed and (transfer.id, what) in self.done:
            return
        self.done.add((transfer.id, what))
        self.cash[venue] += delta

    async def advance(self, transfer, *, approvals: int):
        if transfer.state in (T.REQUESTED, T.AWAITING_APPROVAL):
            if self.gate and approvals < 1:
                if not self.honour_gate:
                    self._once(transfer, "out", transfer.from_venue, -transfer.amount)
                return TransferStep(T.AWAITING_APPROVAL, approval="approve it")
            if self.eager:  # moves funds before `submitted` is stored
                self._once(transfer, "out", transfer.from_venue, -transfer.amount)
                return TransferStep(T.WITHDRAWN)
            return TransferStep(T.SUBMITTED)
        if transfer.state is T.SUBMITTED:
            self._once(transfer, "out", transfer.from_venue, -transfer.amount)
            return TransferStep(T.WITHDRAWN)
        if transfer.state is T.WITHDRAWN:
            self._once(transfer, "in", transfer.to_venue, transfer.amount)
            return TransferStep(T.CONFIRMED)
        return TransferStep(transfer.state)


def rig(**kwargs) -> TransferRig:
    route = Route(**kwargs)
    return TransferRig(clock=SimClock(), route=route, balance=lambda v: route.cash[v],
                       approvals_needed=1 if kwargs["gate"] else 0)


class TestGood(TransferRouteContract):
    @pytest.fixture
    def rig(self):
        return rig(keyed=True, gate=True, honour_gate=True)


class TestUnkeyed(TransferRouteContract):
    @pytest.fixture
    def rig(self):
        return rig(keyed=False, gate=False, honour_gate=True)


class TestEager(TransferRouteContract):
    @pytest.fixture
    def rig(self):
        return rig(keyed=True, gate=False, honour_gate=True, eager=True)


class TestLeakyGate(TransferRouteContract):
    @pytest.fixture
    def rig(self):
        return rig(keyed=True, gate=True, honour_gate=False)
'''


def test_the_contract_tells_good_routes_from_bad(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_routes=ROUTES)
    result = pytester.runpytest_inprocess(
        "--strict-markers", "-m", "transfer_contract", "-p", "no:cacheprovider", "-o",
        "asyncio_default_fixture_loop_scope=function", "-rA",
    )  # fmt: skip
    outcomes = {line.split(" ", 1)[1] for line in result.outlines if line.startswith(("PASSED", "FAILED", "SKIPPED"))}
    assert {o for o in outcomes if o.startswith("test_routes.py::TestGood")} == {
        f"test_routes.py::TestGood::{t}"
        for t in (
            "test_a_transfer_completes_and_moves_the_amount_once",
            "test_asking_again_at_every_state_never_moves_funds_twice",
            "test_a_stale_record_moves_nothing",
            "test_nothing_moves_before_an_approval_it_asked_for",
        )
    }
    result.assert_outcomes(passed=4 + 1, failed=2 + 3 + 4, skipped=2)
    failed = {line.split(" ", 2)[1] for line in result.outlines if line.startswith("FAILED")}
    contract = (
        "test_a_transfer_completes_and_moves_the_amount_once",
        "test_asking_again_at_every_state_never_moves_funds_twice",
        "test_a_stale_record_moves_nothing",
        "test_nothing_moves_before_an_approval_it_asked_for",
    )
    assert failed == {
        "test_routes.py::TestUnkeyed::test_asking_again_at_every_state_never_moves_funds_twice",
        "test_routes.py::TestUnkeyed::test_a_stale_record_moves_nothing",
        *(f"test_routes.py::TestEager::{t}" for t in contract[:3]),  # funds moved before `submitted` was stored
        *(f"test_routes.py::TestLeakyGate::{t}" for t in contract),  # and before the approval it asked for
    }
    assert "store `submitted` first, then move funds" in result.stdout.str()
