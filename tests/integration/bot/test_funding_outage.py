"""Funding settled while a venue is down is read once it answers: every payment stored exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from fundarb_core.clock import EPOCH
from tests.integration.bot.conftest import Harness

STEP = timedelta(minutes=20)
# Longer than the ledger's one-hour overlap; settlements every 15 min: five of them while the venue is down.
DOWN, UP = EPOCH + timedelta(minutes=10), EPOCH + timedelta(minutes=90)


def test_funding_missed_in_an_outage_is_recovered_once(harness_factory) -> None:  # type: ignore[no-untyped-def]
    symbols = ["BTC"]
    h: Harness = harness_factory(
        venues={
            "aster_sim": {"kind": "sim", "profile": "aster-like", "seed": 7, "symbols": symbols},
            "lighter_sim": {
                "kind": "sim", "profile": "lighter-like", "seed": 7, "symbols": symbols, "funding_interval": "15m",
                "faults": {"maintenance": [{"start": DOWN.isoformat(), "duration": "80m"}]},
            },
        },
        strategy={"symbols": symbols, "max_positions": 1, "min_net_apr": "0"},
    )  # fmt: skip

    async def run() -> None:
        for i in range(6):  # 100 min: before, during and after the outage
            if i:
                await h.clock.sleep(STEP.total_seconds())
            await h.bot.tick(scan=i == 0)

    h.run(run())
    venue = h.bot.venues["lighter_sim"]
    (position,) = h.call(lambda: h.runtime.store.positions.list())
    paid = [p for p in venue.payments if p.at >= position.created_at]  # type: ignore[attr-defined]
    assert len([p for p in paid if DOWN <= p.at < UP]) == 5, "the position was paid funding while the venue was down"
    stored = h.call(lambda: h.runtime.store.funding.list(venue="lighter_sim"))
    counts = Counter(s.venue_payment_id for s in stored)
    assert {p.payment_id for p in paid} == set(counts), "every settlement is stored"
    assert set(counts.values()) == {1}, "and none twice"
    by_id = {s.venue_payment_id: s for s in stored}
    for p in paid:
        assert by_id[p.payment_id].amount == p.amount
        assert by_id[p.payment_id].position_id == position.id
