"""After a paper run every order the simulated venues hold as final is final in the store, as the venue says."""

from __future__ import annotations

from datetime import timedelta

from fundarb_core.venues.sim import SimVenue
from tests.integration.bot.conftest import Harness


def test_every_final_order_at_the_venues_is_final_in_the_store(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(strategy={"symbols": ["BTC", "ETH", "SOL"]})
    h.run(h.bot.run(duration=timedelta(hours=2)))

    stored = {o.client_order_id: o for o in h.call(lambda: h.runtime.store.orders.list())}
    at_venues = {
        cid: order.state()
        for venue in h.bot.venues.values()
        if isinstance(venue, SimVenue)
        for cid, order in venue.orders.items()
    }
    finals = {cid: state for cid, state in at_venues.items() if state.final}
    assert len(finals) >= 6, "the run traded"
    assert any(s.status.value == "cancelled" for s in finals.values()), "maker orders were re-priced or abandoned"
    wrong = {
        cid: (stored[cid].status if cid in stored else None, state.status)
        for cid, state in finals.items()
        if cid not in stored
        or (stored[cid].status, stored[cid].filled_quantity, stored[cid].fees)
        != (state.status, state.filled_qty, state.fees)
    }
    assert wrong == {}, f"{len(wrong)} of {len(finals)} final orders differ in the store"
