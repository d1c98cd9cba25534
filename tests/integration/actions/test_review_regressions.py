"""Regressions from the review of the action runner: each of these lost money or exposure before its fix."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from fundarb_core import hookimpl
from fundarb_core.actions import ActionPlan, RebalanceAction, TransferStep
from fundarb_core.errors import StoreError
from fundarb_core.model import PositionStatus
from fundarb_core.model.records import ActionStatus, PlannedAction, TransferRecord, TransferState
from fundarb_core.plugins import Register
from tests.integration.actions.test_plans import _drain, _open_one
from tests.integration.bot.conftest import Harness
from tests.unit.actions.test_runner import fail_once

T = TransferState


def test_two_reopens_in_one_round_never_open_past_the_limit(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness(strategy={"symbols": ["BTC"], "max_positions": 1, "min_net_apr": "0"})
    for _ in range(2):  # two plans whose reopens become due together
        h.call(lambda: h.bot.runner.submit([RebalanceAction("open_position", None, "rebalance")]))
    h.call(lambda: h.bot.run_actions())
    opened = h.call(lambda: h.runtime.store.positions.list_open())
    assert len(opened) == 1
    results = [a.result for a in h.call(lambda: h.runtime.store.actions.list())]
    assert sorted(bool(r["opened"]) for r in results) == [False, True]
    assert any("max_positions" in str(r.get("why")) for r in results)


def test_a_submitted_transfer_cannot_be_cancelled_and_a_batch_cancels_whole(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness()
    store = h.runtime.store

    async def go() -> None:
        detail = {"from_venue": "aster_sim", "to_venue": "lighter_sim", "amount": "5"}
        members = [(await h.bot.runner.submit([RebalanceAction("transfer_funds", None, "x", detail)]))[0].id
                   for _ in range(2)]  # fmt: skip
        await store.actions.start(members, "bot", state={"batch": "batch-1", "batch_members": members})
        transfer, _ = await store.transfers.request(
            idempotency_key="batch-1", route="sim", from_venue="aster_sim", to_venue="lighter_sim", asset="USD",
            amount=Decimal(10), action_id=min(members),
        )  # fmt: skip
        for m in members:
            await store.actions.mark_waiting(m, h.clock.now(), "in the route")
        await store.actions.cancel(members[1], "not today")  # requested: nothing moved, the batch goes whole
        assert {(await store.actions.get(m)).status for m in members} == {ActionStatus.CANCELLED}
        assert (await store.transfers.get(transfer.id)).state is T.CANCELLED

        (c,) = await h.bot.runner.submit([RebalanceAction("transfer_funds", None, "x",
                {"from_venue": "aster_sim", "to_venue": "lighter_sim", "amount": "5"})])  # fmt: skip
        await store.actions.start([c.id], "bot")
        submitted, _ = await store.transfers.request(
            idempotency_key=f"action-{c.id}", route="sim", from_venue="aster_sim", to_venue="lighter_sim",
            asset="USD", amount=Decimal(5), action_id=c.id,
        )  # fmt: skip
        await store.transfers.set_state(submitted.id, T.SUBMITTED)  # a crash right after: state not yet saved
        await store.actions.mark_waiting(c.id, h.clock.now(), "resuming")
        with pytest.raises(StoreError, match=f"its transfer {submitted.id} is submitted"):
            await store.actions.cancel(c.id)
        assert (await store.actions.get(c.id)).status is ActionStatus.WAITING

    h.call(go)


class FlakyDeposit:
    """A route whose deposit fails `failures` times after the funds left (a bridge outage)."""

    failures = 7

    def __init__(self, config: Any, context: Any) -> None:
        self.context = context

    def serves(self, from_venue: str, to_venue: str, asset: str) -> bool:
        return True

    async def advance(self, transfer: TransferRecord, *, approvals: int) -> TransferStep:
        if transfer.state is T.REQUESTED:
            return TransferStep(T.WITHDRAWN)
        if FlakyDeposit.failures > 0:
            FlakyDeposit.failures -= 1
            raise RuntimeError("bridge down")
        return TransferStep(T.CONFIRMED)


class FlakyPlugin:
    @hookimpl
    def fundarb_register_transfer_handlers(self, register: Register) -> None:
        register("flaky", None, FlakyDeposit)


def test_a_transfer_past_the_point_of_no_return_is_never_given_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.actions.conftest import action_plugins
    from tests.integration.bot.conftest import make_config

    plugins = action_plugins()
    plugins.register(FlakyPlugin(), name="flaky", distribution="flaky-route")
    config = make_config(tmp_path / "d", plugins, transfers={"bridge": {"kind": "flaky"}},
                         actions={"max_attempts": 2, "retry_backoff": "1m", "batch_window": "0s"})  # fmt: skip
    h = Harness(config, plugins)
    FlakyDeposit.failures = 7
    try:
        (action,) = h.call(lambda: h.bot.runner.submit([RebalanceAction("transfer_funds", None, "x",
                           {"from_venue": "aster_sim", "to_venue": "lighter_sim", "amount": "5"})]))  # fmt: skip
        h.call(lambda: _drain(h, limit=timedelta(hours=1)))
        done = h.call(lambda: h.runtime.store.actions.get(action.id))
        assert done.status is ActionStatus.SUCCEEDED  # 7 failures, max_attempts 2: still not given up
        stuck = [
            e for e in h.call(lambda: h.runtime.store.events.list(kind="alert")) if e.data["alert"] == "transfer_stuck"
        ]
        assert len(stuck) == 1  # told once, not at every retry
    finally:
        h.close()


def test_a_rebalance_counts_the_transfers_already_under_way(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness(actions={"batch_window": "0s"})
    a, b = "aster_sim", "lighter_sim"
    shares = {a: "0.7", b: "0.3"}
    first = h.call(lambda: h.bot.runner.submit([RebalanceAction("transfer_funds", None, "x", {"rebalance": shares})]))
    h.call(lambda: h.bot.run_actions())  # requested and in flight (10 minutes)
    second = h.call(lambda: h.bot.runner.submit([RebalanceAction("transfer_funds", None, "x", {"rebalance": shares})]))
    h.call(lambda: _drain(h))
    one, two = (h.call(lambda x=x: h.runtime.store.actions.get(x[0].id)) for x in (first, second))
    assert (one.result["from_venue"], Decimal(one.result["amount"])) == (b, Decimal(4000))  # 10000/10000 → 14000/6000
    assert two.result["moved"] == "0"  # the first one's 4000 in flight was counted: nothing more to move
    assert {v: h.bot.venues[v].ledger.cash for v in (a, b)} == {a: Decimal(14000), b: Decimal(6000)}


def test_a_malformed_plan_does_not_block_the_exit(action_harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness(
        risk_manager={"kind": "combined", "flip_threshold": "0.01", "min_hold": "0s", "settlement_wait": "0s"}
    )
    position = _open_one(h)

    def broken(view, reason, context):  # type: ignore[no-untyped-def]
        return ActionPlan.of(RebalanceAction("close_position", view.position.id, key="k"),
                             RebalanceAction("open_position", key="k"))  # fmt: skip

    monkeypatch.setattr(h.bot.risk, "generate_actions", broken)
    tick = h.call(lambda: h.bot.tick(scan=False))
    assert position.id in tick.closed
    assert h.call(lambda: h.runtime.store.positions.get(position.id)).status is PositionStatus.CLOSED
    assert h.call(lambda: h.runtime.store.actions.list()) == []


def test_a_reduction_is_recorded_once_per_action(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness()
    position = _open_one(h)
    shed = {position.long_venue: Decimal("0.001"), position.short_venue: Decimal("0.001")}
    first = h.call(lambda: h.bot.book.record_reduction(position.id, shed, level="l", action_id="act-1"))
    again = h.call(lambda: h.bot.book.record_reduction(position.id, shed, level="l", action_id="act-1"))
    assert again.legs == first.legs
    assert len(again.details["reductions"]) == 1


def test_a_store_blip_never_fails_a_transfer_in_flight(action_harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness(actions={"batch_window": "0s"})
    (action,) = h.call(lambda: h.bot.runner.submit([RebalanceAction("transfer_funds", None, "x",
                       {"from_venue": "aster_sim", "to_venue": "lighter_sim", "amount": "100"})]))  # fmt: skip
    h.call(lambda: h.bot.run_actions())  # submitted, withdrawn, in flight: waiting
    assert h.call(lambda: h.runtime.store.actions.get(action.id)).status is ActionStatus.WAITING
    transfers = h.runtime.store.transfers
    real = transfers.get_by_key
    blips = iter([StoreError("store write failed: database is locked")])

    async def flaky(key: str):  # type: ignore[no-untyped-def]
        for blip in blips:
            raise blip
        return await real(key)

    monkeypatch.setattr(transfers, "get_by_key", flaky)
    h.call(lambda: h.clock.sleep(700))
    h.call(lambda: h.bot.run_actions())  # the blip: not failed, waits
    assert h.call(lambda: h.runtime.store.actions.get(action.id)).status is ActionStatus.WAITING
    h.call(lambda: _drain(h))
    done = h.call(lambda: h.runtime.store.actions.get(action.id))
    assert done.status is ActionStatus.SUCCEEDED
    assert h.bot.venues["lighter_sim"].transfers[done.result["transfer_id"]] == {"deposited": "100"}


def test_an_unfinished_close_is_seen_behind_an_older_reduction(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness()
    position = _open_one(h)
    h.call(lambda: h.runtime.store.actions.append_plan(
        [PlannedAction("reduce_size", {"fraction": "0.5"}, position_id=position.id)]))  # fmt: skip
    h.call(lambda: h.clock.sleep(1))
    h.call(lambda: h.runtime.store.actions.append_plan([PlannedAction("close_position", position_id=position.id)]))
    assert h.call(lambda: h.bot.closer.planned_positions()) == {position.id: "close"}


def test_a_failed_transfer_action_releases_a_transfer_not_yet_submitted(action_harness) -> None:  # type: ignore[no-untyped-def]
    h: Harness = action_harness()
    store = h.runtime.store

    async def go() -> None:
        (action,) = await store.actions.append_plan([PlannedAction("transfer_funds", {"amount": "1"})])
        await store.actions.start([action.id], "bot")
        transfer, _ = await store.transfers.request(
            idempotency_key=f"action-{action.id}", route="sim", from_venue="aster_sim", to_venue="lighter_sim",
            asset="USD", amount=Decimal(1), action_id=action.id,
        )  # fmt: skip
        await store.actions.mark_failed(action.id, "gave up")
        released = await store.transfers.get(transfer.id)
        assert (released.state, released.error) == (T.CANCELLED, "gave up")  # no rebalance counts it any more
        assert await store.transfers.list_unfinished() == []

    h.call(go)


def test_a_reduction_shed_but_not_recorded_is_retried_not_failed(action_harness) -> None:  # type: ignore[no-untyped-def]
    """Found by review: a store error while recording a reduction whose orders had filled failed the action, its
    level unrecorded: the risk manager would then plan the same level again and shed a second time. Now it is tried
    again, asking for the same orders (adopted, not sent twice), and recorded once."""
    h: Harness = action_harness()
    position = _open_one(h)
    qty = {v: abs(h.bot.venues[v].ledger.position("BTC").qty) for v in (position.long_venue, position.short_venue)}
    failed = fail_once(h.bot.book, "record_reduction")
    (action,) = h.call(lambda: h.bot.runner.submit(
        [RebalanceAction("reduce_size", position.id, "profit_erosion", {"fraction": "0.5", "level": "erosion<0.7"})]
    ))  # fmt: skip
    h.call(lambda: _drain(h))
    done = h.call(lambda: h.runtime.store.actions.get(action.id))
    assert failed == [position.id]
    assert done.status is ActionStatus.SUCCEEDED, done.error
    assert done.attempts == 2
    after = {v: abs(h.bot.venues[v].ledger.position("BTC").qty) for v in qty}
    for venue in qty:
        assert after[venue] == qty[venue] - Decimal(done.result["reduced"][venue])  # shed once, not twice
        assert after[venue] * 2 == qty[venue]
    stored = h.call(lambda: h.runtime.store.positions.get(position.id))
    assert [r["level"] for r in stored.details["reductions"]] == ["erosion<0.7"]
    assert {leg.venue: leg.filled_quantity for leg in stored.legs} == after
