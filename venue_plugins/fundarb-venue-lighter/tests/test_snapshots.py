"""Bulk position snapshots: every leg from one account request (and one of marks), equal to the single reads."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pytest
from fundarb_venue_lighter.errors import MalformedReply
from fundarb_venue_lighter.testing import FakeLighter
from fundarb_venue_lighter.venue import LighterVenue

from fundarb_core.model import Side

from .hostile import rewrite_reply


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


def _imf(value: str) -> Callable[[Any], Any]:
    def rewrite(body: Any) -> Any:
        body["accounts"][0]["positions"][0]["initial_margin_fraction"] = value
        return body

    return rewrite


async def test_a_position_without_its_own_margin_fraction_uses_the_market_default(
    fake: FakeLighter, venue: LighterVenue
) -> None:
    await venue.place_market_order("BTC", Side.BUY, Decimal("0.002"), worst_price=Decimal(61000), client_order_id="d")
    rewrite_reply(fake, "account", _imf("0.00"))
    snapshot = await venue.get_position_snapshot("BTC")
    assert snapshot.leverage == 10  # the fake's BTC default: 1000 / 10000
    assert snapshot.margin == Decimal("0.002") * snapshot.mark_price / 10


async def test_a_leverage_above_the_market_maximum_is_refused(fake: FakeLighter, venue: LighterVenue) -> None:
    await venue.place_market_order("BTC", Side.BUY, Decimal("0.002"), worst_price=Decimal(61000), client_order_id="x")
    rewrite_reply(fake, "account", _imf("1.00"))  # 100x; BTC allows 50x
    with pytest.raises(MalformedReply, match="leverage"):
        await venue.get_position_snapshot("BTC")
