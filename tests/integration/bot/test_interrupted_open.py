"""An open cut short by an error that is not the venue's (a store write, a bug) is not left `opening` — unwatched by
the closer and the kill switch — until a restart: the next tick settles its orders and adopts what the venues hold."""

from __future__ import annotations

from typing import Any

from fundarb_core.model import PositionStatus
from tests.integration.bot.conftest import Harness


def test_the_next_tick_adopts_an_open_an_error_cut_short(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(strategy={"symbols": ["BTC"], "max_positions": 1, "min_net_apr": "0"})
    store = h.runtime.store
    atomic = h.bot.book.atomic
    real_open = atomic.open

    async def open_then_fail(*args: Any, **kwargs: Any) -> Any:
        await real_open(*args, **kwargs)  # the legs are on the venues...
        raise RuntimeError("database is locked (test)")  # ...but the open never records them

    atomic.open = open_then_fail  # type: ignore[method-assign]
    h.call(lambda: h.bot.tick(scan=True))
    (position,) = h.call(lambda: store.positions.list_open())
    assert position.status is PositionStatus.OPENING
    atomic.open = real_open  # type: ignore[method-assign]

    h.call(lambda: h.bot.tick(scan=False))
    adopted = h.call(lambda: store.positions.get(position.id))
    assert adopted is not None
    assert adopted.status is PositionStatus.OPEN
    held = {leg.venue: leg.filled_quantity for leg in adopted.legs}
    venues = {name: abs(v.ledger.position("BTC").qty) for name, v in h.bot.venues.items()}  # type: ignore[attr-defined]
    assert held == venues
    assert all(q > 0 for q in held.values())
