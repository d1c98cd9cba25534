"""A paper run on the starter config: each fact is one event, seen once by an observer and once in the store.

Counts: one `position_opened` per position that opened, one `position_closed` per closed position, one
`action_done` per action that reached a final status, one `order` per order intent; and the observer saw exactly
what the store holds, in the same order. And every order the simulated venues hold as final is final in the store
with the venue's status, filled quantity and fees (re-priced and abandoned maker orders included).
"""

from __future__ import annotations

import asyncio
import tomllib
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fundarb_core import hookimpl
from fundarb_core.app.runtime import Runtime
from fundarb_core.cli._init import starter_text
from fundarb_core.clock import SimClock
from fundarb_core.config import parse_config
from fundarb_core.events import Event, EventKind, PositionClosed
from fundarb_core.model import OrderStatus, PositionStatus
from fundarb_core.model.records import ActionStatus
from fundarb_core.plugins import Plugins
from fundarb_core.venues.sim import SimVenue


class Observer:
    def __init__(self) -> None:
        self.seen: list[Event] = []

    @hookimpl
    def fundarb_on_event(self, event: Event) -> None:
        self.seen.append(event)


async def _paper_run(data_dir: Path, observer: Observer, duration: timedelta) -> Runtime:
    plugins = Plugins().load()  # the installed plugins the starter config names (close, risk, transfer routes)
    plugins.register(observer, name="test-observer", distribution="test-observer")
    raw: dict[str, Any] = tomllib.loads(starter_text())
    raw["bot"] = {**raw.get("bot", {}), "data_dir": str(data_dir), "log_level": "WARNING"}
    # The earlier starter's churn (latest quotes, ratio exits after 8 h), so that 20 simulated hours open and close.
    raw["strategy"] = {**raw["strategy"], "signal_window": "0s", "entry_hold": "168h", "maker_share": "1"}
    raw["risk_manager"] = {**raw["risk_manager"], "min_hold": "8h", "erosion_threshold": "0.5",
                           "severe_erosion_threshold": "0.2", "settlement_wait": "0s"}  # fmt: skip
    runtime = await Runtime.open(parse_config(raw, plugins), plugins)
    assert isinstance(runtime.clock, SimClock)
    assert runtime.bot is not None
    await runtime.clock.run(runtime.bot.run(duration=duration))
    return runtime


@pytest.mark.slow
def test_each_fact_is_one_event_over_a_paper_run(tmp_path: Path) -> None:
    observer = Observer()

    async def go() -> dict[str, Any]:
        runtime = await _paper_run(tmp_path / "data", observer, timedelta(hours=20))
        store = runtime.store
        out = {
            "positions": await store.positions.list(),
            "actions": await store.actions.list(),
            "orders": await store.orders.list(),
            "events": await store.events.list(),
            "at_venues": {
                cid: order.state()
                for venue in runtime.bot.venues.values()  # type: ignore[union-attr]
                if isinstance(venue, SimVenue)
                for cid, order in venue.orders.items()
            },
        }
        await runtime.close()
        return out

    got = asyncio.run(go())
    kinds = Counter(e.kind for e in observer.seen)
    opened = [p for p in got["positions"] if p.opened_at is not None]
    closed = [p for p in got["positions"] if p.status is PositionStatus.CLOSED]
    assert closed, "the run closed positions (else this test shows nothing)"
    finals = (ActionStatus.SUCCEEDED, ActionStatus.FAILED, ActionStatus.CANCELLED)
    final = [a for a in got["actions"] if a.status in finals]
    assert final, "plans ran"

    closed_events = [e for e in observer.seen if e.kind == EventKind.POSITION_CLOSED]
    assert sorted(str(e.data["position_id"]) for e in closed_events) == sorted(p.id for p in closed)
    assert all(isinstance(e.payload, PositionClosed) for e in closed_events)
    opened_events = [e for e in observer.seen if e.kind == EventKind.POSITION_OPENED]
    assert sorted(str(e.data["position_id"]) for e in opened_events) == sorted(p.id for p in opened)
    done = [e for e in observer.seen if e.kind == EventKind.ACTION_DONE]
    assert sorted(str(e.data["action_id"]) for e in done) == sorted(a.id for a in final)
    # Every order sent belongs to exactly one `order` event (an intent), and every order event names its orders.
    cids = [cid for e in observer.seen if e.kind == EventKind.ORDER for cid in e.data["client_order_ids"]]
    assert sorted(cids) == sorted(o.client_order_id for o in got["orders"])
    # The observer saw exactly the store's audit trail, fact for fact, in order.
    assert [(e.kind, dict(e.data)) for e in observer.seen] == [
        (e.kind, {**e.data, "position_id": e.position_id}) for e in got["events"]
    ]
    assert kinds[EventKind.POSITION_CLOSED] == len(closed)
    # Every order's final state is in the store when its execution returned (issue 19): as the venue holds it.
    stored = {o.client_order_id: o for o in got["orders"]}
    finals = {cid: state for cid, state in got["at_venues"].items() if state.final}
    assert any(s.status is OrderStatus.CANCELLED for s in finals.values()), "maker orders were re-priced or abandoned"
    wrong = {
        cid: (stored[cid].status if cid in stored else None, state.status)
        for cid, state in finals.items()
        if cid not in stored
        or (stored[cid].status, stored[cid].filled_quantity, stored[cid].fees)
        != (state.status, state.filled_qty, state.fees)
    }
    assert wrong == {}, f"{len(wrong)} of {len(finals)} final orders differ in the store"
