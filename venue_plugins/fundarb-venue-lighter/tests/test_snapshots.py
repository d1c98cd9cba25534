"""Bulk position snapshots: every leg from one account request (and one of marks), equal to the single reads."""

from __future__ import annotations

from decimal import Decimal

import attrs
from fundarb_venue_lighter.testing import FakeLighter
from fundarb_venue_lighter.venue import LighterVenue

from fundarb_core.model import Side


async def test_bulk_snapshots_match_the_single_ones_in_two_requests(fake: FakeLighter, venue: LighterVenue) -> None:
    assert venue.capabilities.bulk_snapshots
    await venue.place_market_order("BTC", Side.BUY, Decimal("0.002"), worst_price=Decimal(61000), client_order_id="b")
    await venue.place_market_order("ETH", Side.SELL, Decimal("0.1"), worst_price=Decimal(2900), client_order_id="e")
    before = dict(fake.requests)
    bulk = await venue.get_position_snapshots(["BTC", "ETH", "SOL"])
    assert fake.requests["account"] - before.get("account", 0) == 1
    assert fake.requests["orderBookDetails"] - before.get("orderBookDetails", 0) == 1
    assert set(bulk) == {"BTC", "ETH", "SOL"}
    assert (bulk["BTC"].quantity, bulk["ETH"].quantity, bulk["SOL"].quantity) == (
        Decimal("0.002"),
        Decimal("-0.1"),
        Decimal(0),
    )
    for symbol, snapshot in bulk.items():
        single = await venue.get_position_snapshot(symbol)
        assert attrs.evolve(snapshot, at=single.at) == single
