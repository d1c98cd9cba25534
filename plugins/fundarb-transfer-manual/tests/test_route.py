"""The manual route, driven by the core's `TransferService` over a real SQLite store.

`[transfers.desk] kind = "manual" approval_limit = "100"`: a transfer above 100 waits for an operator's approval
before each step (sent, then credited); at or below it the steps are recorded at once. The venues `alpha` and `beta`
are sim venues with 10 000 USD of free cash each, so the approved steps move their balances too.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import tomllib
import types
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import fundarb_transfer_manual.plugin as transfer_manual
import pytest
from fundarb_transfer_manual import ManualTransferConfig
from fundarb_transfer_manual.route import ManualTransferRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fundarb_core.actions import ActionContext, AwaitApproval, TransferService, Wait
from fundarb_core.app.bot import build_venues
from fundarb_core.clock import EPOCH, SimClock
from fundarb_core.config import Config, parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.model.records import TransferRecord, TransferState
from fundarb_core.plugins import Plugins
from fundarb_core.store import Store
from fundarb_core.venues import VenueContext

T = TransferState
START = Decimal(10_000)
LIMIT = Decimal(100)
ZERO = Decimal(0)
README = Path(__file__).resolve().parents[1] / "README.md"


def _plugins() -> Plugins:
    plugins = Plugins().load(entry_points=False)
    plugins.register(transfer_manual, name="transfer_manual", distribution="fundarb-transfer-manual")
    return plugins


PLUGINS = _plugins()


def make_config(**route: Any) -> Config:
    venue = {"kind": "sim", "seed": 3, "symbols": ["BTC"], "persist": False}
    return parse_config(
        {
            "venues": {"alpha": dict(venue), "beta": dict(venue)},
            "transfers": {"desk": {"kind": "manual", "approval_limit": str(LIMIT), **route}},
        },
        PLUGINS,
    )


@attrs.define
class Rig:
    clock: SimClock
    config: Config
    store: Store
    venues: dict[str, Any]

    def service(self, venues: Mapping[str, Any] | None = None) -> TransferService:
        context = ActionContext(self.clock, self.store, venues or self.venues, self.config, PLUGINS)
        return TransferService.from_context(context)

    async def request(self, amount: Decimal, *, key: str = "t-1") -> TransferRecord:
        transfer, new = await self.store.transfers.request(
            idempotency_key=key, route="desk", from_venue="alpha", to_venue="beta", asset="USD", amount=amount
        )
        assert new
        return transfer

    async def stored(self, transfer_id: str) -> TransferRecord:
        record = await self.store.transfers.get(transfer_id)
        assert record is not None
        return record

    def cash(self) -> tuple[Decimal, Decimal]:
        return self.venues["alpha"].ledger.cash, self.venues["beta"].ledger.cash

    def in_flight(self) -> Decimal:
        moved = ZERO
        for venue in self.venues.values():
            for done in venue.transfers.values():
                moved += Decimal(done.get("withdrawn", "0")) - Decimal(done.get("deposited", "0"))
        return moved


def run(directory: Path, body: Callable[[Rig], Awaitable[None]], config: Config | None = None) -> None:
    clock = SimClock(EPOCH)
    config = config or make_config()

    async def main() -> None:
        store = await Store.open(directory / "f.db", clock=clock)
        try:
            await body(Rig(clock, config, store, build_venues(config, PLUGINS, VenueContext(clock))))
        finally:
            await store.close()

    asyncio.run(clock.run(main()))


# -- above the limit: two approvals ----------------------------------------------------------------------------


def test_above_the_limit_each_step_waits_for_an_approval(tmp_path: Path) -> None:
    amount = Decimal("500")

    async def body(rig: Rig) -> None:
        service = rig.service()
        assert isinstance(service.routes["desk"], ManualTransferRoute)
        transfer = await rig.request(amount)

        first = await service.drive(transfer, approvals=0)
        assert first == AwaitApproval("send 500 USD from alpha to beta, then approve")
        stored = await rig.stored(transfer.id)
        assert stored.state is T.AWAITING_APPROVAL
        assert rig.cash() == (START, START)
        # Asked again before the approval: the same question, nothing moves.
        assert await service.drive(stored, approvals=0) == first
        assert (await rig.stored(transfer.id)).state is T.AWAITING_APPROVAL
        assert rig.venues["alpha"].transfers == {}

        second = await service.drive(stored, approvals=1)
        assert second == AwaitApproval("approve once 500 USD from alpha to beta is credited on beta")
        assert "credited" in second.note
        stored = await rig.stored(transfer.id)
        assert stored.state is T.WITHDRAWN
        assert stored.reference == "manual"
        assert rig.cash() == (START - amount, START)
        # Asked again with the same single approval: still waiting, and nothing withdrawn twice.
        assert await service.drive(stored, approvals=1) == second
        assert rig.cash() == (START - amount, START)

        done = await service.drive(stored, approvals=2)
        assert isinstance(done, TransferRecord)
        assert done.state is T.CONFIRMED
        assert done == await rig.stored(transfer.id)
        assert rig.cash() == (START - amount, START + amount)
        assert rig.venues["alpha"].transfers == {transfer.id: {"withdrawn": "500"}}
        assert rig.venues["beta"].transfers == {transfer.id: {"deposited": "500"}}
        assert await service.drive(done, approvals=5) == done
        assert rig.cash() == (START - amount, START + amount)

    run(tmp_path, body)


def test_two_approvals_at_once_complete_a_gated_transfer_in_one_drive(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        transfer = await rig.request(Decimal("100.01"))
        done = await rig.service().drive(transfer, approvals=2)
        assert isinstance(done, TransferRecord)
        assert done.state is T.CONFIRMED
        assert rig.cash() == (START - Decimal("100.01"), START + Decimal("100.01"))

    run(tmp_path, body)


# -- at or below the limit: no approval ------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [LIMIT, Decimal("99.99"), Decimal("0.01")])
def test_at_or_below_the_limit_it_completes_without_approval(tmp_path: Path, amount: Decimal) -> None:
    async def body(rig: Rig) -> None:
        done = await rig.service().drive(await rig.request(amount), approvals=0)
        assert isinstance(done, TransferRecord)
        assert done.state is T.CONFIRMED
        assert done.reference == "manual"
        assert rig.cash() == (START - amount, START + amount)

    run(tmp_path, body)


def test_a_zero_limit_gates_every_transfer(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        outcome = await rig.service().drive(await rig.request(Decimal("0.01")), approvals=0)
        assert outcome == AwaitApproval("send 0.01 USD from alpha to beta, then approve")

    run(tmp_path, body, make_config(approval_limit="0"))


# -- sim balances: moved once ----------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [Decimal(50), Decimal(500)])
def test_advancing_again_at_every_state_moves_the_sim_balances_once(tmp_path: Path, amount: Decimal) -> None:
    """At each stored state, the route is asked twice more first (answers a crash lost before they were stored)."""

    async def body(rig: Rig) -> None:
        service = rig.service()
        route = service.routes["desk"]
        transfer = await rig.request(amount)
        for approvals in (0, 1, 2, 2):
            record = await rig.stored(transfer.id)
            for _ in range(2):
                await route.advance(record, approvals=approvals)
                alpha, beta = rig.cash()
                assert alpha + beta + rig.in_flight() == 2 * START
            await service.drive(record, approvals=approvals)
        assert (await rig.stored(transfer.id)).state is T.CONFIRMED
        await route.advance(transfer, approvals=2)  # a stale "requested" record
        assert rig.venues["alpha"].transfers == {transfer.id: {"withdrawn": str(amount)}}
        assert rig.venues["beta"].transfers == {transfer.id: {"deposited": str(amount)}}
        assert rig.cash() == (START - amount, START + amount)

    run(tmp_path, body)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    amount=st.decimals(Decimal("0.01"), Decimal(1000), places=2),
    approvals=st.lists(st.integers(0, 2), min_size=1, max_size=8).map(sorted),
    repeats=st.lists(st.integers(0, 2), min_size=8, max_size=8),
)
def test_any_sequence_of_drives_moves_the_balances_once_and_follows_the_approvals(
    amount: Decimal, approvals: list[int], repeats: list[int]
) -> None:
    """Drives with a growing approval count (as the journal counts them), each preceded by lost advances."""

    async def body(rig: Rig) -> None:
        service = rig.service()
        route = service.routes["desk"]
        transfer = await rig.request(amount)
        gated = amount > LIMIT
        for count, extra in zip(approvals, repeats, strict=False):
            record = await rig.stored(transfer.id)
            for _ in range(extra):
                await route.advance(record, approvals=count)
            outcome = await service.drive(record, approvals=count)
            state = (await rig.stored(transfer.id)).state
            alpha, beta = rig.cash()
            assert alpha + beta + rig.in_flight() == 2 * START
            if not gated or count >= 2:
                assert outcome == await rig.stored(transfer.id)
                assert state is T.CONFIRMED
            elif count == 1:
                assert isinstance(outcome, AwaitApproval)
                assert state is T.WITHDRAWN
                assert rig.cash() == (START - amount, START)
            else:
                assert isinstance(outcome, AwaitApproval)
                assert state is T.AWAITING_APPROVAL
                assert rig.cash() == (START, START)
        final = await service.drive(await rig.stored(transfer.id), approvals=2)
        assert isinstance(final, TransferRecord)
        assert final.state is T.CONFIRMED
        assert rig.cash() == (START - amount, START + amount)
        assert rig.in_flight() == 0

    with tempfile.TemporaryDirectory(prefix="fundarb-transfer-manual-") as directory:
        run(Path(directory), body)


def test_without_two_sim_venues_nothing_moves_at_the_sim_one(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        bank = types.SimpleNamespace(name="beta", kind="bank")  # an operator's account: not a sim venue
        done = await rig.service({"alpha": rig.venues["alpha"], "beta": bank}).drive(
            await rig.request(Decimal(500)), approvals=2
        )
        assert isinstance(done, TransferRecord)
        assert done.state is T.CONFIRMED
        assert rig.venues["alpha"].ledger.cash == START
        assert rig.venues["alpha"].transfers == {}

    run(tmp_path, body)


def test_an_approved_withdrawal_above_the_sim_cash_fails_with_the_venues_message(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        service = rig.service()
        transfer = await rig.request(START + 1)
        assert isinstance(await service.drive(transfer, approvals=0), AwaitApproval)
        failed = await service.drive(await rig.stored(transfer.id), approvals=1)
        assert isinstance(failed, TransferRecord)
        assert failed.state is T.FAILED
        assert failed.error == "[alpha]: withdrawal of 10001 refused: 10000.00 free"
        assert rig.cash() == (START, START)

    run(tmp_path, body)


def test_the_manual_route_serves_any_pair(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        service = rig.service()
        assert service.routes["desk"].serves("alpha", "a-bank", "EUR")
        assert service.route_for("somewhere", "elsewhere", "USDC") == "desk"

    run(tmp_path, body)


# -- config ----------------------------------------------------------------------------------------------------


def problems(section: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config({"transfers": {"x": {"kind": "manual", **section}}}, PLUGINS)
    return list(info.value.problems)


def test_a_negative_approval_limit_is_refused_with_its_path() -> None:
    assert problems({"approval_limit": "-1"}) == ["transfers.x.approval_limit: must not be negative, found -1"]


@pytest.mark.parametrize("value", ["NaN", "Infinity", 0.5])
def test_an_approval_limit_that_is_not_an_exact_finite_amount_is_refused(value: Any) -> None:
    (problem,) = problems({"approval_limit": value})
    assert problem.startswith("transfers.x.approval_limit: ")


def test_unknown_keys_are_refused_with_their_path() -> None:
    (problem,) = problems({"approval_limt": "5"})
    assert problem.startswith("transfers.x.approval_limt: unknown key")


def test_the_readme_example_parses_to_the_defaults() -> None:
    (block,) = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    config = parse_config(tomllib.loads(block), PLUGINS)
    assert config.transfers["desk"].kind == "manual"
    assert config.transfers["desk"].config == ManualTransferConfig() == ManualTransferConfig(Decimal(0))
    assert make_config(approval_limit="250.5").transfers["desk"].config == ManualTransferConfig(Decimal("250.5"))


def test_wait_is_never_returned_by_the_manual_route(tmp_path: Path) -> None:
    """The manual route has nothing in flight to time: it stops only for approvals."""

    async def body(rig: Rig) -> None:
        service = rig.service()
        transfer = await rig.request(Decimal(500))
        for approvals in (0, 1, 2):
            outcome = await service.drive(await rig.stored(transfer.id), approvals=approvals)
            assert not isinstance(outcome, Wait)

    run(tmp_path, body)
