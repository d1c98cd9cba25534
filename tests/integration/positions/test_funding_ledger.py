"""The funding ledger against a simulated venue in maintenance across settlements: once the venue answers again,
every settlement's payment is in the store exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from fundarb_core.clock import EPOCH, SimClock
from fundarb_core.execution import VenueGateway
from fundarb_core.model import PositionStatus, Side
from fundarb_core.positions import FundingLedger
from fundarb_core.store import Store
from fundarb_core.venues import VenueContext
from fundarb_core.venues.sim import FaultConfig, MaintenanceWindow, SimVenueConfig, build_sim_venue

# Longer than the ledger's one-hour overlap; a settlement every 15 minutes, five of them while the venue is down.
DOWN, UP = EPOCH + timedelta(minutes=10), EPOCH + timedelta(minutes=90)
STEP = timedelta(minutes=20)


def test_funding_settled_during_maintenance_is_stored_once_it_answers(tmp_path: Path) -> None:
    async def scenario(clock: SimClock) -> None:
        window = MaintenanceWindow(start=DOWN, duration=UP - DOWN)
        config = SimVenueConfig(
            profile="lighter-like", symbols=["BTC"], funding_interval=timedelta(minutes=15),
            faults=FaultConfig(maintenance=[window]),
        )  # fmt: skip
        venue = build_sim_venue("lighter", config, VenueContext(clock))
        store = await Store.open(tmp_path / "fundarb.sqlite3", clock=clock)
        try:
            position = await store.positions.create(
                symbol="BTC", long_venue="lighter", short_venue="elsewhere", long_quantity=Decimal("0.1"),
                short_quantity=Decimal("0.1"), notional_usd=Decimal(6000), status=PositionStatus.OPEN,
            )  # fmt: skip
            bbo = await venue.fetch_bbo_prices("BTC")
            await venue.place_market_order(
                "BTC", Side.BUY, Decimal("0.1"), worst_price=bbo.ask * 2, client_order_id="o"
            )
            ledger = FundingLedger(store, clock, VenueGateway({"lighter": venue}, clock))
            for i in range(6):  # 100 min: before, during and after the outage
                if i:
                    await clock.sleep(STEP.total_seconds())
                await ledger.record()
            paid = venue.payments
            assert len([p for p in paid if DOWN <= p.at < UP]) == 5, "the position was paid while the venue was down"
            stored = await store.funding.list(venue="lighter")
            counts = Counter(s.venue_payment_id for s in stored)
            assert {p.payment_id for p in paid} == set(counts), "every settlement is stored"
            assert set(counts.values()) == {1}, "and none twice"
            by_id = {s.venue_payment_id: s for s in stored}
            for p in paid:
                assert (by_id[p.payment_id].amount, by_id[p.payment_id].position_id) == (p.amount, position.id)
        finally:
            await store.close()
            await venue.close()

    clock = SimClock(EPOCH)
    asyncio.run(clock.run(scenario(clock)))


def test_a_payment_republished_with_other_numbers_does_not_stop_the_others(tmp_path: Path) -> None:
    """One row the store refuses (the venue published the same id with another amount) is logged and skipped: the
    venue's other payments are stored, its cursor moves on, and the other venues are read."""
    from fundarb_core.venues import FundingPayment

    def payment(pid: str, amount: str, minutes: int) -> FundingPayment:
        return FundingPayment(
            payment_id=pid, symbol="BTC", amount=Decimal(amount), rate=Decimal("0.0001"), position_qty=Decimal(1),
            mark_price=Decimal(60000), at=EPOCH + timedelta(minutes=minutes),
        )  # fmt: skip

    class Gateway:
        venues = ("bad", "good")

        async def funding_payments(self, name: str, since: object) -> list[FundingPayment]:
            if name == "bad":
                return [payment("p1", "-2", 1), payment("p2", "3", 2)]  # p1 was stored as -1 before
            return [payment("q1", "5", 3)]

    async def scenario(clock: SimClock) -> None:
        store = await Store.open(tmp_path / "fundarb.sqlite3", clock=clock)
        try:
            await store.funding.add(venue="bad", venue_payment_id="p1", symbol="BTC", amount=Decimal(-1), at=EPOCH)
            await clock.sleep(3600)
            ledger = FundingLedger(store, clock, Gateway())  # type: ignore[arg-type]
            ledger.cursors = {"bad": EPOCH, "good": EPOCH}
            await ledger.record()
            stored = {(s.venue, s.venue_payment_id): s.amount for s in await store.funding.list()}
            assert stored == {("bad", "p1"): Decimal(-1), ("bad", "p2"): Decimal(3), ("good", "q1"): Decimal(5)}
            assert ledger.cursors["bad"] == ledger.cursors["good"] == clock.now() - timedelta(hours=1)
        finally:
            await store.close()

    clock = SimClock(EPOCH)
    asyncio.run(clock.run(scenario(clock)))


def test_a_payment_read_after_its_position_closed_is_stored_with_the_pnl_update_or_not_at_all(tmp_path: Path) -> None:
    """A payment the venue showed only after the close (an outage) is stored against the closed position and added
    to its funding, net and realised PnL in one transaction: when the position's update fails, the payment is not
    stored either (and is stored, with the update, at the next read); a second reader never counts it twice."""
    import attrs

    from fundarb_core.errors import StoreError
    from fundarb_core.venues import FundingPayment

    paid = FundingPayment(
        payment_id="late", symbol="BTC", amount=Decimal("2.5"), rate=Decimal("0.0001"), position_qty=Decimal(1),
        mark_price=Decimal(60000), at=EPOCH + timedelta(minutes=30),
    )  # fmt: skip

    class Gateway:
        venues = ("v",)

        async def funding_payments(self, name: str, since: object) -> list[FundingPayment]:
            return [paid]

    async def scenario(clock: SimClock) -> None:
        store = await Store.open(tmp_path / "fundarb.sqlite3", clock=clock)
        try:
            made = await store.positions.create(
                symbol="BTC", long_venue="v", short_venue="w", long_quantity=Decimal(1), short_quantity=Decimal(1),
                notional_usd=Decimal(60000), status=PositionStatus.OPEN,
            )  # fmt: skip
            await clock.sleep(3600)
            closed = await store.positions.update(
                attrs.evolve(made, status=PositionStatus.CLOSED, closed_at=clock.now(), realized_pnl=Decimal(10),
                             state=made.state.update(funding=Decimal(1), net=Decimal(10)))
            )  # fmt: skip
            ledger = FundingLedger(store, clock, Gateway())  # type: ignore[arg-type]
            ledger.cursors = {"v": EPOCH}
            write = store.positions._write

            async def broken(*args: object) -> object:
                raise StoreError("the update failed")

            store.positions._write = broken  # type: ignore[method-assign]
            await ledger.record()
            assert await store.funding.list() == []  # rolled back with the failed update
            assert (await store.positions.get(made.id)) == closed
            store.positions._write = write  # type: ignore[method-assign]
            assert ledger.cursors == {"v": EPOCH}  # not stored: its venue's cursor stays, the next read asks again
            await ledger.record()
            again = FundingLedger(store, clock, Gateway())  # type: ignore[arg-type]  # a restart: reads it again
            again.cursors = {"v": EPOCH}
            await again.record()
            assert [(p.venue_payment_id, p.position_id) for p in await store.funding.list()] == [("late", made.id)]
            after = await store.positions.get(made.id)
            assert after is not None
            assert (after.realized_pnl, after.state.funding, after.state.net) == (
                Decimal("12.5"),
                Decimal("3.5"),
                Decimal("12.5"),
            )
        finally:
            await store.close()

    clock = SimClock(EPOCH)
    asyncio.run(clock.run(scenario(clock)))


def test_a_payment_the_store_cannot_take_now_is_read_and_stored_at_the_next_call(tmp_path: Path) -> None:
    """The store fails (locked, unreachable) while a payment older than the read overlap is stored: it is not
    taken for recorded, its venue's cursor stays, and the next read stores it. The other venue moves on."""
    from fundarb_core.errors import StoreError
    from fundarb_core.venues import FundingPayment

    def payment(pid: str, minutes: int) -> FundingPayment:
        return FundingPayment(
            payment_id=pid, symbol="BTC", amount=Decimal(1), rate=Decimal("0.0001"), position_qty=Decimal(1),
            mark_price=Decimal(60000), at=EPOCH + timedelta(minutes=minutes),
        )  # fmt: skip

    class Gateway:
        venues = ("down", "fine")

        async def funding_payments(self, name: str, since: object) -> list[FundingPayment]:
            assert isinstance(since, type(EPOCH))
            wanted = [payment("d1", 5)] if name == "down" else [payment("f1", 6)]
            return [p for p in wanted if p.at >= since]

    async def scenario(clock: SimClock) -> None:
        store = await Store.open(tmp_path / "fundarb.sqlite3", clock=clock)
        try:
            await clock.sleep(3 * 3600)  # the payments are far older than the one-hour overlap
            ledger = FundingLedger(store, clock, Gateway())  # type: ignore[arg-type]
            ledger.cursors = {"down": EPOCH, "fine": EPOCH}
            add_many, add = store.funding.add_many, store.funding.add

            async def locked(*args: object, **kwargs: object) -> object:
                raise StoreError("store write failed: OperationalError: database is locked")

            async def add_but_down(**values: object) -> object:
                if values["venue"] == "down":
                    raise StoreError("store write failed: OperationalError: database is locked")
                return await add(**values)

            store.funding.add_many, store.funding.add = locked, add_but_down  # type: ignore[method-assign,assignment]
            await ledger.record()
            assert [p.venue_payment_id for p in await store.funding.list()] == ["f1"]
            assert ledger.cursors == {"down": EPOCH, "fine": clock.now() - timedelta(hours=1)}
            store.funding.add_many, store.funding.add = add_many, add  # type: ignore[method-assign]
            await ledger.record()
            assert sorted(p.venue_payment_id for p in await store.funding.list()) == ["d1", "f1"]
            assert ledger.cursors["down"] == clock.now() - timedelta(hours=1)
        finally:
            await store.close()

    clock = SimClock(EPOCH)
    asyncio.run(clock.run(scenario(clock)))
