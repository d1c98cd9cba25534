"""The adapter under the fake's faults: 429, maintenance, invalid nonces, lost replies, slow replies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from fundarb_venue_lighter.records import NonceReply
from fundarb_venue_lighter.testing import FakeLighter
from fundarb_venue_lighter.venue import LighterVenue

from fundarb_core.clock import SimClock
from fundarb_core.errors import AmbiguousOutcome, RateLimited, VenueUnavailable
from fundarb_core.model import OrderStatus, Side
from fundarb_core.venues import VenueContext

from .conftest import ACCOUNT, KEY, make_config

QTY = Decimal("0.001")
BID = Decimal("59000.0")


async def rest(venue: LighterVenue, cid: str) -> OrderStatus:
    return (await venue.place_limit_order("BTC", Side.BUY, QTY, BID, client_order_id=cid)).status


def nonces(fake: FakeLighter) -> list[int]:
    return [tx["Nonce"] for tx in fake.sent_txs]


async def test_429_is_rate_limited_and_gives_the_nonce_back(fake: FakeLighter, venue: LighterVenue) -> None:
    assert await rest(venue, "a") is OrderStatus.OPEN
    fake.faults.rate_limit_next, fake.faults.retry_after = 1, 7.0
    with pytest.raises(RateLimited) as info:
        await rest(venue, "b")
    assert (info.value.status, info.value.retry_after) == (429, 7.0)
    assert await rest(venue, "b") is OrderStatus.OPEN
    assert nonces(fake) == [0, 1]  # no gap: the refused transaction's nonce was used by the next one


async def test_invalid_nonce_resyncs_and_resigns(fake: FakeLighter, venue: LighterVenue) -> None:
    assert await rest(venue, "a") is OrderStatus.OPEN
    fake.exchange.bump_nonce(ACCOUNT, KEY, 3)  # another client used the key three times
    assert await rest(venue, "b") is OrderStatus.OPEN
    fake.faults.invalid_nonce_next = 1
    assert await rest(venue, "c") is OrderStatus.OPEN
    assert nonces(fake) == [0, 4, 5]
    assert venue.nonces.resyncs == 2


async def test_a_request_lost_before_the_venue_leaves_no_blocking_gap(fake: FakeLighter, venue: LighterVenue) -> None:
    assert await rest(venue, "a") is OrderStatus.OPEN
    fake.faults.timeout_before_next = 1
    with pytest.raises(AmbiguousOutcome) as info:
        await rest(venue, "b")
    assert info.value.client_order_id == "b"
    assert await venue.get_order("BTC", "b") is None  # reconciled: it never arrived
    assert await rest(venue, "c") is OrderStatus.OPEN  # nonce 2 was refused, the key re-synchronised to 1
    assert nonces(fake) == [0, 1]


async def test_a_slow_reply_after_sending_is_ambiguous(
    fake: FakeLighter, make_venue: Callable[..., LighterVenue]
) -> None:
    venue = make_venue(timeout=timedelta(seconds=0.2))
    assert await rest(venue, "a") is OrderStatus.OPEN
    fake.faults.send_latency = 0.5
    with pytest.raises(AmbiguousOutcome):
        await rest(venue, "b")
    fake.faults.send_latency = 0
    found = await venue.get_order("BTC", "b")
    assert found is not None
    assert found.status is OrderStatus.OPEN
    assert await rest(venue, "c") is OrderStatus.OPEN
    assert nonces(fake) == [0, 1, 2]


async def test_maintenance_at_start_up_is_retried_with_backoff(fake: FakeLighter) -> None:
    clock = SimClock()
    venue = LighterVenue("lighter", make_config(fake), VenueContext(clock))
    try:
        fake.faults.unavailable_next = 2
        instruments = await clock.run(venue.load_instruments())
        assert "BTC" in instruments
        assert clock.monotonic() == 3.0  # waited 1 s then 2 s (simulated)
    finally:
        await venue.close()


async def test_lasting_maintenance_is_reported_not_crashed(fake: FakeLighter) -> None:
    clock = SimClock()
    venue = LighterVenue("lighter", make_config(fake, startup_retries=2), VenueContext(clock))
    try:
        fake.faults.unavailable_next = 100
        with pytest.raises(VenueUnavailable) as info:
            await clock.run(venue.load_instruments())
        assert info.value.status == 503
    finally:
        await venue.close()


async def test_the_rate_limiter_keeps_to_the_tier(fake: FakeLighter) -> None:
    clock = SimClock()
    venue = LighterVenue("lighter", make_config(fake, requests_per_minute=60), VenueContext(clock))
    try:

        async def many() -> None:
            for _ in range(70):
                await venue.transport.get("nextNonce", NonceReply, {"account_index": ACCOUNT, "api_key_index": KEY})

        await clock.run(many())
        # 60 in a burst, then one a second: 10 more take 10 simulated seconds.
        assert clock.monotonic() == pytest.approx(10.0, abs=0.01)
    finally:
        await venue.close()


async def test_cancelling_a_finished_order_sends_nothing(fake: FakeLighter, venue: LighterVenue) -> None:
    await venue.place_market_order("BTC", Side.BUY, QTY, worst_price=Decimal(61000), client_order_id="m")
    sent = len(fake.sent_txs)
    assert (await venue.cancel_order("BTC", "m")).status is OrderStatus.FILLED
    assert len(fake.sent_txs) == sent


async def test_leverage_is_sent_as_an_initial_margin_fraction(fake: FakeLighter, venue: LighterVenue) -> None:
    assert await venue.set_leverage("BTC", Decimal(20)) == 20
    assert fake.sent_txs[-1]["InitialMarginFraction"] == 500
    assert await venue.set_leverage("BTC", Decimal(500)) == 50  # capped at 10000 / 200
    assert fake.sent_txs[-1]["InitialMarginFraction"] == 200
