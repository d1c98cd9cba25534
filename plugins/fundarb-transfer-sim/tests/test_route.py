"""The sim route, driven by the core's `TransferService` over a real SQLite store and real sim venues.

Two sim venues, `alpha` and `beta`, start with 10 000 USD of free cash each; the route's delay is 10 minutes of
the run's `SimClock`. A "crash" is a `BaseException` raised at a step boundary: just after a withdrawal or a deposit
reached the venue (before the route's answer was stored), or just after the service stored a step. Whatever the
process had not stored is lost; the next process re-drives the transfer from its stored record.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import types
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import fundarb_transfer_sim.plugin as transfer_sim
import pytest
from fundarb_transfer_sim import SimTransferConfig
from fundarb_transfer_sim.route import SimTransferRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fundarb_core.actions import ActionContext, ActionFailed, TransferService, Wait
from fundarb_core.app.bot import build_venues
from fundarb_core.clock import EPOCH, SimClock
from fundarb_core.config import Config, parse_config
from fundarb_core.model.records import TransferRecord, TransferState
from fundarb_core.plugins import Plugins
from fundarb_core.store import Store
from fundarb_core.venues import VenueContext
from fundarb_core.venues.sim import persist

T = TransferState
START = Decimal(10_000)  # each sim venue's starting balance (the sim default)
DELAY = timedelta(minutes=10)
ZERO = Decimal(0)


def _plugins() -> Plugins:
    plugins = Plugins().load(entry_points=False)
    plugins.register(transfer_sim, name="transfer_sim", distribution="fundarb-transfer-sim")
    return plugins


PLUGINS = _plugins()


def make_config(names: tuple[str, ...] = ("alpha", "beta"), *, persist_state: bool = False, **route: Any) -> Config:
    venue = {"kind": "sim", "seed": 11, "symbols": ["BTC"], "persist": persist_state}
    return parse_config(
        {
            "venues": {name: dict(venue) for name in names},
            "transfers": {"sim": {"kind": "sim", "delay": "10m", **route}},
        },
        PLUGINS,
    )


class Stop(BaseException):
    """Raised from a checkpoint: the process ends right after the service stored a step."""


@attrs.define
class Rig:
    """A clock, a store, the sim venues (the exchanges: they outlive every process) and the config."""

    clock: SimClock
    config: Config
    store: Store
    venues: dict[str, Any]

    def service(self, venues: Mapping[str, Any] | None = None, checkpoint: Any = None) -> TransferService:
        """A process's transfer service, built from the config as the action runner builds it."""
        context = ActionContext(self.clock, self.store, venues or self.venues, self.config, PLUGINS)
        if checkpoint is not None:
            context.checkpoint = checkpoint
        return TransferService.from_context(context)

    async def request(self, amount: Decimal, *, key: str = "t-1", to_venue: str = "beta") -> TransferRecord:
        transfer, new = await self.store.transfers.request(
            idempotency_key=key, route="sim", from_venue="alpha", to_venue=to_venue, asset="USD", amount=amount
        )
        assert new
        return transfer

    async def stored(self, transfer_id: str) -> TransferRecord:
        record = await self.store.transfers.get(transfer_id)
        assert record is not None
        return record

    def cash(self, name: str) -> Decimal:
        cash: Decimal = self.venues[name].ledger.cash
        return cash

    def in_flight(self) -> Decimal:
        """Withdrawn somewhere and not yet deposited anywhere, by the venues' own transfer records."""
        moved = ZERO
        for venue in self.venues.values():
            for done in venue.transfers.values():
                moved += Decimal(done.get("withdrawn", "0")) - Decimal(done.get("deposited", "0"))
        return moved

    def total(self) -> Decimal:
        return sum((self.cash(n) for n in self.venues), ZERO) + self.in_flight()


def run(
    directory: Path,
    body: Callable[[Rig], Awaitable[None]],
    config: Config | None = None,
    *,
    data_dir: Path | None = None,
) -> None:
    """Run `body` on a fresh rig, in simulated time (sleeping costs no real time)."""
    clock = SimClock(EPOCH)
    config = config or make_config()

    async def main() -> None:
        store = await Store.open(directory / "f.db", clock=clock)
        try:
            venues = build_venues(config, PLUGINS, VenueContext(clock, data_dir=data_dir))
            await body(Rig(clock, config, store, venues))
        finally:
            await store.close()

    asyncio.run(clock.run(main()))


async def step_once(service: TransferService, record: TransferRecord) -> TransferRecord | Wait | None:
    """Drive until the service has stored one step (None then), or it stops by itself (its outcome)."""
    try:
        outcome = await service.drive(record, approvals=0)
    except Stop:
        return None
    assert not isinstance(outcome, TransferRecord) or outcome.state.final
    return outcome  # type: ignore[return-value]


# -- the happy path --------------------------------------------------------------------------------------------


def test_a_transfer_walks_the_route_and_moves_cash_at_withdrawal_then_at_deposit(tmp_path: Path) -> None:
    amount = Decimal("1234.56")

    async def body(rig: Rig) -> None:
        seen: list[tuple[str, Decimal, Decimal, Decimal]] = []

        async def checkpoint(label: str) -> None:  # after each stored step: what the venues hold then
            seen.append((label, rig.cash("alpha"), rig.cash("beta"), rig.in_flight()))

        service = rig.service(checkpoint=checkpoint)
        transfer = await rig.request(amount)
        assert transfer.state is T.REQUESTED
        start = rig.clock.now()

        outcome = await service.drive(transfer, approvals=0)
        assert outcome == Wait(start + DELAY, "transfer in_flight")
        assert seen == [
            ("transfer:submitted", START, START, ZERO),  # the intent is stored before the withdrawal
            ("transfer:withdrawn", START - amount, START, amount),
            ("transfer:in_flight", START - amount, START, amount),
        ]
        stored = await rig.stored(transfer.id)
        assert stored.state is T.IN_FLIGHT
        assert stored.reference == f"sim-{transfer.id[:12]}"
        assert stored.error is None

        # A second before it arrives: nothing to do yet, and the same deadline.
        await rig.clock.sleep(DELAY - timedelta(seconds=1))
        assert await service.drive(stored, approvals=0) == Wait(start + DELAY, "transfer in_flight")
        assert (await rig.stored(transfer.id)).state is T.IN_FLIGHT
        assert len(seen) == 3
        assert rig.cash("beta") == START

        await rig.clock.sleep_until(start + DELAY)
        done = await service.drive(await rig.stored(transfer.id), approvals=0)
        assert isinstance(done, TransferRecord)
        assert done.state is T.CONFIRMED
        assert done.error is None
        assert done == await rig.stored(transfer.id)
        assert seen[3:] == [
            ("transfer:deposited", START - amount, START + amount, ZERO),
            ("transfer:confirmed", START - amount, START + amount, ZERO),
        ]
        assert rig.venues["alpha"].transfers == {transfer.id: {"withdrawn": "1234.56"}}
        assert rig.venues["beta"].transfers == {transfer.id: {"deposited": "1234.56"}}
        for _, alpha, beta, flying in seen:
            assert alpha + beta + flying == 2 * START  # conserved at every stored step, exactly

        # A confirmed transfer is final: driving it again changes nothing.
        assert await service.drive(done, approvals=0) == done
        assert (rig.cash("alpha"), rig.cash("beta")) == (START - amount, START + amount)

    run(tmp_path, body)


def test_the_service_finds_the_sim_route_for_two_sim_venues(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        service = rig.service()
        assert isinstance(service.routes["sim"], SimTransferRoute)
        assert service.routes["sim"].config == SimTransferConfig(delay=DELAY)
        assert service.route_for("alpha", "beta", "USD") == "sim"
        assert service.route_for("beta", "alpha", "USD") == "sim"

    run(tmp_path, body)


# -- idempotency: re-driving after a crash -------------------------------------------------------------------


@pytest.mark.parametrize("repeats", [1, 3])
def test_advancing_again_at_every_stored_state_never_moves_funds_twice(tmp_path: Path, repeats: int) -> None:
    """At each stored state, the route is first asked `repeats` times more (answers a crash lost), then driven."""
    amount = Decimal("250.5")

    async def stop(label: str) -> None:
        raise Stop(label)

    async def body(rig: Rig) -> None:
        service = rig.service(checkpoint=stop)  # stores one step per call
        route = service.routes["sim"]
        first = transfer = await rig.request(amount)
        visited: list[TransferState] = []
        for _ in range(20):
            if transfer.state.final:
                break
            visited.append(transfer.state)
            for _ in range(repeats):
                await route.advance(transfer, approvals=0)
                assert rig.total() == 2 * START
            outcome = await step_once(service, transfer)
            if isinstance(outcome, Wait):
                await rig.clock.sleep_until(outcome.until)
            transfer = await rig.stored(transfer.id)
        assert transfer.state is T.CONFIRMED
        assert visited == [T.REQUESTED, T.SUBMITTED, T.WITHDRAWN, T.IN_FLIGHT, T.IN_FLIGHT, T.DEPOSITED]
        # Stale records (a process that read the transfer long ago) move nothing either.
        for stale in (first, attrs.evolve(first, state=T.IN_FLIGHT, updated_at=EPOCH)):
            await route.advance(stale, approvals=0)
        assert rig.venues["alpha"].transfers == {transfer.id: {"withdrawn": "250.5"}}
        assert rig.venues["beta"].transfers == {transfer.id: {"deposited": "250.5"}}
        assert (rig.cash("alpha"), rig.cash("beta")) == (START - amount, START + amount)

    run(tmp_path, body)


class Crash(BaseException):
    """The process died here."""


class Life:
    """One process: counts step boundaries and dies at `crash_at` (then refuses everything)."""

    def __init__(self, crash_at: int | None, check: Callable[[], None]) -> None:
        self.crash_at = crash_at
        self.check = check
        self.count = 0
        self.dead = False

    def boundary(self) -> None:
        if self.dead:
            raise Crash("dead")
        self.check()
        self.count += 1
        if self.count == self.crash_at:
            self.dead = True
            raise Crash(self.count)

    async def checkpoint(self, label: str) -> None:
        self.boundary()


class VenueView:
    """A process's view of a sim venue: counts the withdrawals and deposits that moved funds, and marks a
    boundary right after each (the venue did it; the route's answer is not stored yet)."""

    def __init__(self, venue: Any, life: Life, moved: list[tuple[str, str]]) -> None:
        self._venue = venue
        self._life = life
        self._moved = moved

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._venue, name)
        if name not in ("withdraw", "deposit"):
            return attr

        def call(transfer_id: str, amount: Decimal) -> bool:
            if self._life.dead:
                raise Crash("dead")
            done: bool = attr(transfer_id, amount)
            if done:
                self._moved.append((self._venue.name, name))
            self._life.boundary()
            return done

        return call


amounts = st.decimals(Decimal("0.00000001"), START, places=8)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    amount=amounts,
    crashes=st.lists(st.integers(1, 7), max_size=5),
    early=st.lists(st.booleans(), max_size=6),
)
def test_crashes_anywhere_then_redriving_moves_funds_exactly_once(
    amount: Decimal, crashes: list[int], early: list[bool]
) -> None:
    """Processes crash at the boundaries drawn, each re-driving from the stored record; a clean one finishes.

    `early`: whether a process woken by a Wait wakes before the transfer can arrive (it must wait again).
    """
    moved: list[tuple[str, str]] = []
    wakes = iter(early)

    async def body(rig: Rig) -> None:
        def check() -> None:
            assert rig.total() == 2 * START, "money appeared or vanished"
            assert moved.count(("alpha", "withdraw")) <= 1
            assert moved.count(("beta", "deposit")) <= 1

        transfer = await rig.request(amount)
        for crash_at in [*crashes, None]:
            life = Life(crash_at, check)
            views = {name: VenueView(venue, life, moved) for name, venue in rig.venues.items()}
            service = rig.service(views, life.checkpoint)  # a new process: new routes over its own views
            try:
                for _ in range(10):
                    record = await rig.stored(transfer.id)  # resume from what the store holds
                    if record.state.final:
                        break
                    outcome = await service.drive(record, approvals=0)
                    if isinstance(outcome, Wait):
                        wait = outcome.until - rig.clock.now()
                        await rig.clock.sleep(wait / 2 if next(wakes, False) else wait)
                else:
                    raise AssertionError("the transfer did not finish")
            except Crash:
                assert crash_at is not None
                continue
            break
        final = await rig.stored(transfer.id)
        assert final.state is T.CONFIRMED, final
        assert moved == [("alpha", "withdraw"), ("beta", "deposit")]
        assert {k: Decimal(v) for k, v in rig.venues["alpha"].transfers[transfer.id].items()} == {"withdrawn": amount}
        assert {k: Decimal(v) for k, v in rig.venues["beta"].transfers[transfer.id].items()} == {"deposited": amount}
        assert rig.cash("alpha") == START - amount
        assert rig.cash("beta") == START + amount
        check()

    with tempfile.TemporaryDirectory(prefix="fundarb-transfer-sim-") as directory:
        run(Path(directory), body)


# -- failures --------------------------------------------------------------------------------------------------


def test_a_simulated_failure_fails_the_transfer_before_anything_moves(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        service = rig.service()
        transfer = await rig.request(Decimal(100))
        failed = await service.drive(transfer, approvals=0)
        assert isinstance(failed, TransferRecord)
        assert failed.state is T.FAILED
        assert failed.error == "simulated failure: the source venue refused the withdrawal"
        assert failed == await rig.stored(transfer.id)
        assert (rig.cash("alpha"), rig.cash("beta")) == (START, START)
        assert rig.venues["alpha"].transfers == {}
        assert rig.venues["beta"].transfers == {}
        assert await service.drive(failed, approvals=0) == failed  # final: nothing more happens

    run(tmp_path, body, make_config(fail_probability="1"))


def test_simulated_failures_are_seeded_by_the_transfer_key() -> None:
    """The same seed fails the same keys in another run; another seed fails others; about half fail at 0.5."""

    def outcomes(seed: int) -> dict[str, TransferState]:
        clock = SimClock(EPOCH)
        config = make_config()
        venues = build_venues(config, PLUGINS, VenueContext(clock))
        context = ActionContext(clock, None, venues, config, PLUGINS)  # type: ignore[arg-type]
        route = SimTransferRoute(SimTransferConfig(fail_probability=Decimal("0.5"), seed=seed), context)

        async def main() -> dict[str, TransferState]:
            out = {}
            for i in range(40):
                record = TransferRecord(
                    f"id-{i}", f"key-{i}", "sim", "alpha", "beta", "USD", Decimal(1), created_at=EPOCH, updated_at=EPOCH
                )
                step = await route.advance(record, approvals=0)
                if step.state is T.SUBMITTED:  # the withdrawal itself is the next step
                    step = await route.advance(attrs.evolve(record, state=T.SUBMITTED), approvals=0)
                out[record.idempotency_key] = step.state
            return out

        result = asyncio.run(main())
        failed = sum(1 for s in result.values() if s is T.FAILED)
        assert venues["alpha"].ledger.cash == START - (40 - failed)  # a failed one moved nothing
        return result

    first = outcomes(0)
    assert set(first.values()) == {T.FAILED, T.WITHDRAWN}
    assert 8 <= sum(1 for s in first.values() if s is T.FAILED) <= 32
    assert outcomes(0) == first
    assert outcomes(1) != first


def test_a_withdrawal_above_the_free_cash_fails_with_the_venues_message(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        transfer = await rig.request(START + Decimal("0.01"))
        failed = await rig.service().drive(transfer, approvals=0)
        assert isinstance(failed, TransferRecord)
        assert failed.state is T.FAILED
        assert failed.error == "[alpha]: withdrawal of 10000.01 refused: 10000.00 free"
        assert (rig.cash("alpha"), rig.cash("beta")) == (START, START)
        assert rig.venues["alpha"].transfers == {}
        # All of the free cash is fine.
        whole = await rig.service().drive(await rig.request(START, key="t-2"), approvals=0)
        assert isinstance(whole, Wait)
        assert rig.cash("alpha") == 0

    run(tmp_path, body)


# -- which venues the route serves -----------------------------------------------------------------------------


def _stub(kind: str, *, keyed: bool = True) -> Any:
    stub = types.SimpleNamespace(name="stub", kind=kind)
    if keyed:
        stub.withdraw = stub.deposit = lambda transfer_id, amount: True
    return stub


def test_serves_only_configured_sim_venues(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        venues = {**rig.venues, "live": _stub("live"), "bare": _stub("sim", keyed=False)}
        everything = rig.service(venues).routes["sim"]
        assert everything.serves("alpha", "beta", "USD")
        assert everything.serves("alpha", "gamma", "USD")  # `venues = []`: every sim venue
        assert not everything.serves("alpha", "live", "USD")  # not a sim venue
        assert not everything.serves("live", "alpha", "USD")
        assert not everything.serves("alpha", "bare", "USD")  # says "sim", but has no keyed transfers
        assert not everything.serves("alpha", "nowhere", "USD")  # not a configured venue at all
        assert not everything.serves("nowhere", "beta", "USD")

        context = ActionContext(rig.clock, rig.store, venues, rig.config, PLUGINS)
        listed = SimTransferRoute(SimTransferConfig(venues=["alpha", "beta"]), context)
        assert listed.serves("alpha", "beta", "USD")
        assert listed.serves("beta", "alpha", "USD")
        assert not listed.serves("alpha", "gamma", "USD")  # a sim venue outside `venues`
        assert not listed.serves("gamma", "beta", "USD")

        service = rig.service(venues)
        with pytest.raises(ActionFailed, match="no configured transfer route moves USD from alpha to live"):
            service.route_for("alpha", "live", "USD")

    run(tmp_path, body, make_config(("alpha", "beta", "gamma")))


def test_a_config_listing_venues_is_read_from_toml_settings() -> None:
    config = make_config(("alpha", "beta", "gamma"), venues=["alpha", "beta"], seed=7, fail_probability="0.25")
    assert config.transfers["sim"].config == SimTransferConfig(
        delay=DELAY, fail_probability=Decimal("0.25"), seed=7, venues=["alpha", "beta"]
    )


def test_a_transfer_to_a_venue_the_route_does_not_serve_moves_nothing(tmp_path: Path) -> None:
    """A transfer naming the route explicitly (`transfer_on_exit.route`, `route_for(..., route)` does not ask
    `serves`) to a sim venue outside `venues`."""

    async def body(rig: Rig) -> None:
        transfer = await rig.request(Decimal(100), to_venue="gamma")
        service = rig.service()
        outcome: Any = None
        with contextlib.suppress(ActionFailed):
            outcome = await service.drive(transfer, approvals=0)
            if isinstance(outcome, Wait):
                await rig.clock.sleep_until(outcome.until)
                outcome = await service.drive(await rig.stored(transfer.id), approvals=0)
        assert rig.cash("alpha") == START, "funds left alpha for a venue the route cannot deposit to"
        assert rig.total() == 3 * START

    run(tmp_path, body, make_config(("alpha", "beta", "gamma"), venues=["alpha", "beta"]))


# -- persistence -----------------------------------------------------------------------------------------------


def test_transfers_survive_a_restart_of_persisted_sim_venues(tmp_path: Path) -> None:
    amount = Decimal("777.77")
    data = tmp_path / "data"
    config = make_config(persist_state=True)

    async def body(rig: Rig) -> None:
        transfer = await rig.request(amount)
        outcome = await rig.service().drive(transfer, approvals=0)
        assert isinstance(outcome, Wait)
        assert (data / "sim" / "alpha.json").exists()

        # The paper run stops and starts again: the venues come back from their saved state.
        reborn = build_venues(config, PLUGINS, VenueContext(rig.clock, data_dir=data))
        assert reborn["alpha"] is not rig.venues["alpha"]
        assert reborn["alpha"].transfers == {transfer.id: {"withdrawn": "777.77"}}
        assert reborn["alpha"].ledger.cash == START - amount
        assert reborn["beta"].transfers == {}
        assert reborn["beta"].ledger.cash == START
        rig.venues = reborn

        service = rig.service()
        await service.routes["sim"].advance(transfer, approvals=0)  # the stale "requested" record: no second one
        assert reborn["alpha"].ledger.cash == START - amount
        await rig.clock.sleep_until(outcome.until)
        done = await service.drive(await rig.stored(transfer.id), approvals=0)
        assert isinstance(done, TransferRecord)
        assert done.state is T.CONFIRMED

        again = build_venues(config, PLUGINS, VenueContext(rig.clock, data_dir=data))
        assert again["alpha"].transfers == {transfer.id: {"withdrawn": "777.77"}}
        assert again["beta"].transfers == {transfer.id: {"deposited": "777.77"}}
        assert (again["alpha"].ledger.cash, again["beta"].ledger.cash) == (START - amount, START + amount)
        # ... and a deposit asked again after that restart is refused as done.
        assert again["beta"].deposit(transfer.id, amount) is False
        assert again["beta"].ledger.cash == START + amount

    run(tmp_path, body, config, data_dir=data)


def test_persist_save_and_load_round_trip_the_transfers(tmp_path: Path) -> None:
    clock = SimClock(EPOCH)
    config = make_config()
    venues = build_venues(config, PLUGINS, VenueContext(clock))
    alpha = venues["alpha"]
    assert alpha.withdraw("t-a", Decimal("12.5")) is True
    assert alpha.deposit("t-b", Decimal("3")) is True
    path = tmp_path / "alpha.json"
    persist.save(alpha, path)

    fresh = build_venues(config, PLUGINS, VenueContext(SimClock(EPOCH)))["alpha"]
    assert fresh.transfers == {}
    persist.load(fresh, path)
    assert fresh.transfers == {"t-a": {"withdrawn": "12.5"}, "t-b": {"deposited": "3"}}
    assert fresh.ledger.cash == START - Decimal("12.5") + 3
    assert fresh.withdraw("t-a", Decimal("12.5")) is False  # keyed: not taken twice after the reload
    assert fresh.deposit("t-b", Decimal("3")) is False
    assert fresh.ledger.cash == START - Decimal("9.5")
