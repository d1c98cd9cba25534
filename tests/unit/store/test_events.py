"""The audit trail, telemetry and operator control commands."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fundarb_core.model.records import ControlCommand
from fundarb_core.secrets import Secret


async def test_events_are_appended_in_order_and_listed(store, clock) -> None:
    first = await store.events.append("position_opened", {"symbol": "BTC", "apr": Decimal("0.31")}, position_id="p1")
    await clock.advance(1)
    second = await store.events.append("alert", {"text": "leg skew"})
    assert first.data == {"symbol": "BTC", "apr": "0.31"}
    assert second.id > first.id
    assert second.at > first.at
    assert await store.events.list() == [first, second]
    assert await store.events.list(kind="alert") == [second]
    assert await store.events.list(position_id="p1") == [first]
    assert await store.events.list(after_id=first.id) == [second]
    assert await store.events.list(limit=1) == [first]


async def test_secrets_never_reach_the_store(store) -> None:
    key = Secret("sk-live-0123456789")
    with pytest.raises(TypeError, match="refusing to store a secret"):
        await store.events.append("oops", {"key": key})
    # A known secret that slipped into plain text is masked before it is written.
    event = await store.events.append("echo", {"body": "signed with sk-live-0123456789"})
    assert event.data == {"body": "signed with ***"}
    assert (await store.events.list(kind="echo"))[0].data == {"body": "signed with ***"}


async def test_telemetry_is_kept_per_position(store) -> None:
    await store.telemetry.record("leg_skew_ms", Decimal("12.5"), position_id="p1", client_order_id="c1")
    await store.telemetry.record("slippage_bps", Decimal("-0.75"), position_id="p1", data={"leg": "short"})
    await store.telemetry.record("slippage_bps", Decimal("1"), position_id="p2")
    rows = await store.telemetry.list(position_id="p1")
    assert [(r.name, r.value) for r in rows] == [("leg_skew_ms", Decimal("12.5")), ("slippage_bps", Decimal("-0.75"))]
    assert rows[1].data == {"leg": "short"}
    assert len(await store.telemetry.list(name="slippage_bps")) == 2


async def test_control_commands_are_consumed_once_in_order(store, open_store) -> None:
    operator = await open_store()
    await operator.control.issue(ControlCommand.PAUSE, issued_by="alice", reason="maintenance")
    await operator.control.issue(ControlCommand.HALT, issued_by="alice")
    taken = await store.control.consume()
    assert [(c.command, c.consumed) for c in taken] == [(ControlCommand.PAUSE, True), (ControlCommand.HALT, True)]
    assert taken[0].reason == "maintenance"
    assert await store.control.consume() == []
    assert await operator.control.list(include_consumed=False) == []
    assert [c.consumed for c in await operator.control.list()] == [True, True]
