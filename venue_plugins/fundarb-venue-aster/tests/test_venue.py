"""The adapter against the fake server: instruments and units, faults, clock correction, streams, funding.

No test sleeps: faults are switched on the server, and waits on streams are bounded by small timeouts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from fundarb_venue_aster.errors import VenueHalted
from fundarb_venue_aster.testing import FakeAsterServer
from fundarb_venue_aster.venue import AsterVenue

from fundarb_core.errors import AmbiguousOutcome, RateLimited, VenueRejected, VenueUnavailable
from fundarb_core.model import OrderStatus, RejectReason, Side, TimeInForce
from fundarb_core.venues import OrderState, Rounding

from .conftest import USER, V1_KEY, v1_config, v3_config

T = TypeVar("T")
WAIT = 5.0


async def next_item(stream: AsyncIterator[T]) -> T:
    return await asyncio.wait_for(anext(stream), WAIT)


async def until(stream: AsyncIterator[OrderState], check: Callable[[OrderState], bool]) -> OrderState:
    while not check(state := await next_item(stream)):
        pass
    return state


async def test_instruments_come_from_filters_with_units_and_intervals(venue_v3: AsterVenue) -> None:
    instruments = await venue_v3.load_instruments()
    assert set(instruments) == {"BTC", "ETH", "SOL", "XRP", "PEPE", "2Z"}
    btc = instruments["BTC"]
    # tick/step from PRICE_FILTER / LOT_SIZE, not from pricePrecision/quantityPrecision (8 in the fake).
    assert (btc.tick_size, btc.step_size, btc.min_qty, btc.min_notional) == (
        Decimal("0.1"), Decimal("0.001"), Decimal("0.001"), Decimal("5")
    )  # fmt: skip
    assert btc.funding_interval == timedelta(hours=8)  # not in fundingInfo: the 8 h default
    assert btc.max_leverage == 50  # from leverageBracket
    assert (btc.maker_fee, btc.taker_fee) == (Decimal("0.0001"), Decimal("0.00035"))  # from commissionRate
    assert btc.extra["fees_known"] is True
    pepe = instruments["PEPE"]
    assert pepe.venue_symbol == "1000PEPEUSDT"
    assert pepe.extra["quantity_multiplier"] == 1000
    assert (pepe.tick_size, pepe.step_size, pepe.min_qty) == (Decimal("1E-10"), Decimal(1000), Decimal(1000))
    assert pepe.max_leverage == 25
    two_z = instruments["2Z"]
    assert two_z.venue_symbol == "2ZUSDT"
    assert two_z.funding_interval == timedelta(hours=4)  # fundingInfo.fundingIntervalHours
    rates = await venue_v3.fetch_funding_rates()
    assert rates["2Z"].interval == timedelta(hours=4)
    assert rates["2Z"].hourly == rates["2Z"].rate / 4


async def test_1000_prefixed_market_converts_quantities_and_prices(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    market = fake.exchange.markets["1000PEPEUSDT"]
    bbo = await venue_v3.fetch_bbo_prices("PEPE")
    assert bbo.ask == market.best_ask / 1000
    worst = (await venue_v3.load_instruments())["PEPE"].round_price(bbo.ask * Decimal("1.01"), Rounding.UP)
    state = await venue_v3.place_market_order(
        "PEPE", Side.BUY, Decimal(1_000_000), worst_price=worst, client_order_id="pepe-1"
    )
    assert (state.status, state.filled_qty) == (OrderStatus.FILLED, Decimal(1_000_000))
    wire = fake.v3_account(USER).orders[int(state.venue_order_id or 0)]
    assert wire.qty == 1000  # 1,000,000 PEPE = 1000 contracts of 1000PEPE
    snapshot = await venue_v3.get_position_snapshot("PEPE")
    assert snapshot.quantity == 1_000_000
    assert snapshot.mark_price == market.mark / 1000
    assert state.fees > 0


async def test_funding_rates_and_marks_of_1000_markets(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    rates = await venue_v3.fetch_funding_rates(["PEPE"])
    assert set(rates) == {"PEPE"}
    assert rates["PEPE"].mark_price == fake.exchange.markets["1000PEPEUSDT"].mark / 1000
    assert rates["PEPE"].rate == fake.exchange.markets["1000PEPEUSDT"].funding_rate


async def test_a_client_id_outside_asters_alphabet_is_mapped_and_found(
    fake: FakeAsterServer, venue_v3: AsterVenue
) -> None:
    cid = "fundarb order #1 with spaces and a length well beyond thirty-six characters"
    bbo = await venue_v3.fetch_bbo_prices("BTC")
    price = (bbo.bid * Decimal("0.9")).quantize(Decimal("0.1"))
    placed = await venue_v3.place_limit_order("BTC", Side.BUY, Decimal("0.002"), price, client_order_id=cid)
    assert placed.client_order_id == cid
    wire = fake.v3_account(USER).orders[int(placed.venue_order_id or 0)].client_id
    assert wire != cid
    assert len(wire) <= 36
    found = await venue_v3.get_order("BTC", cid)
    assert found is not None
    assert found.client_order_id == cid
    assert (await venue_v3.cancel_order("BTC", cid)).status is OrderStatus.CANCELLED


async def test_503_after_the_order_was_accepted_is_ambiguous_and_reconciles(
    fake: FakeAsterServer, venue_v3: AsterVenue
) -> None:
    bbo = await venue_v3.fetch_bbo_prices("BTC")
    fake.faults.inject(503, -1007, "Timeout waiting for response from backend server.", path="order", method="POST",
                       after=True)  # fmt: skip
    with pytest.raises(AmbiguousOutcome) as info:
        await venue_v3.place_limit_order("BTC", Side.BUY, Decimal("0.002"), bbo.bid - 100, client_order_id="amb-1")
    assert info.value.client_order_id == "amb-1"
    assert info.value.status == 503
    found = await venue_v3.get_order("BTC", "amb-1")
    assert found is not None
    assert found.status is OrderStatus.OPEN
    with pytest.raises(VenueRejected) as again:
        await venue_v3.place_limit_order("BTC", Side.BUY, Decimal("0.002"), bbo.bid - 100, client_order_id="amb-1")
    assert again.value.reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID
    assert len(fake.v3_account(USER).orders) == 1


async def test_a_lost_request_that_never_arrived_frees_its_client_id(
    fake: FakeAsterServer, venue_v3: AsterVenue
) -> None:
    bbo = await venue_v3.fetch_bbo_prices("BTC")
    fake.faults.inject(503, None, "Service Unavailable.", path="order", method="POST")  # refused before processing
    with pytest.raises(AmbiguousOutcome):
        await venue_v3.place_limit_order("BTC", Side.BUY, Decimal("0.002"), bbo.bid - 100, client_order_id="amb-2")
    assert await venue_v3.get_order("BTC", "amb-2") is None
    state = await venue_v3.place_limit_order("BTC", Side.BUY, Decimal("0.002"), bbo.bid - 100, client_order_id="amb-2")
    assert state.status is OrderStatus.OPEN


async def test_503_on_a_query_is_transient_not_ambiguous(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    await venue_v3.load_instruments()
    fake.faults.inject(503, None, "Service Unavailable.", path="ticker/bookTicker")
    with pytest.raises(VenueUnavailable) as info:
        await venue_v3.fetch_bbo_prices("BTC")
    assert info.value.transient
    assert not isinstance(info.value, AmbiguousOutcome)


async def test_construction_and_first_calls_survive_maintenance(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    fake.faults.maintenance = True
    venue = make_venue(v3_config(fake))  # the old bot crashed here on a 503
    venue.order_updates()  # starting the stream during maintenance must not fail either
    with pytest.raises(VenueUnavailable) as info:
        await venue.load_instruments()
    assert info.value.transient
    fake.faults.maintenance = False
    assert "BTC" in await venue.load_instruments()


async def test_an_unreachable_venue_is_unavailable_not_ambiguous(make_venue: Callable[..., AsterVenue]) -> None:
    async with FakeAsterServer() as closed:
        url = closed.url
    venue = make_venue(v3_config(closed, base_url=url))
    with pytest.raises(VenueUnavailable) as info:
        await venue.load_instruments()
    assert not isinstance(info.value, AmbiguousOutcome)


async def test_429_backs_off_for_retry_after_without_sending(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    await venue_v3.load_instruments()
    fake.faults.inject(429, -1003, "Too many requests.", headers={"Retry-After": "30", "X-MBX-USED-WEIGHT-1M": "2399"})
    with pytest.raises(RateLimited) as info:
        await venue_v3.fetch_bbo_prices("BTC")
    assert info.value.retry_after == 30
    assert info.value.transient
    sent = len(fake.requests)
    with pytest.raises(RateLimited) as local:
        await venue_v3.fetch_bbo_prices("BTC")
    assert local.value.retry_after is not None
    assert 29 < local.value.retry_after <= 30
    assert len(fake.requests) == sent, "a request was sent while backing off"


async def test_used_weight_header_drives_the_client_side_budget(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    await venue_v3.load_instruments()
    limiter = venue_v3.rest.limiter
    assert limiter.weight_limit == 2400  # from exchangeInfo.rateLimits
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "2100"})
    with pytest.raises(RateLimited):
        await venue_v3.fetch_bbo_prices("BTC")  # 2100 + 2 > 85 % of 2400
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "100"})
    assert (await venue_v3.fetch_bbo_prices("BTC")).bid > 0


async def test_418_halts_trading_and_only_lets_closes_through_after_the_ban(
    fake: FakeAsterServer, venue_v3: AsterVenue
) -> None:
    bbo = await venue_v3.fetch_bbo_prices("BTC")
    opened = await venue_v3.place_market_order("BTC", Side.BUY, Decimal("0.002"), worst_price=bbo.ask + 100,
                                               client_order_id="before-ban")  # fmt: skip
    assert opened.status is OrderStatus.FILLED
    fake.faults.inject(418, -1003, "Way too many requests; IP banned.", headers={"Retry-After": "0"})
    with pytest.raises(VenueHalted) as info:
        await venue_v3.fetch_bbo_prices("BTC")
    assert not info.value.transient
    sent = len(fake.requests)
    with pytest.raises(VenueHalted):
        await venue_v3.place_limit_order("BTC", Side.BUY, Decimal("0.002"), bbo.bid - 100, client_order_id="after-ban")
    assert len(fake.requests) == sent, "an opening order was sent after a ban"
    closed = await venue_v3.place_market_order("BTC", Side.SELL, Decimal("0.002"), worst_price=bbo.bid - 100,
                                               client_order_id="close-after-ban", reduce_only=True)  # fmt: skip
    assert closed.status is OrderStatus.FILLED
    venue_v3.resume_trading()
    state = await venue_v3.place_limit_order(
        "BTC", Side.BUY, Decimal("0.002"), bbo.bid - 100, client_order_id="resumed"
    )
    assert state.status is OrderStatus.OPEN


async def test_418_ban_refuses_everything_while_it_lasts(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    fake.faults.inject(418, -1003, "IP banned until later.", headers={"Retry-After": "120"})
    with pytest.raises(VenueHalted):
        await venue_v3.load_instruments()
    sent = len(fake.requests)
    with pytest.raises(VenueHalted):
        await venue_v3.fetch_balance()
    assert len(fake.requests) == sent


async def test_v1_timestamp_refusal_resynchronises_the_clock(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    fake.faults.clock_skew_ms = 20_000  # Aster's clock runs 20 s ahead of ours
    venue = make_venue(v1_config(fake))
    balance = await venue.fetch_balance()
    assert balance.wallet == 100_000
    assert 19_000 < venue.rest.time_offset_ms < 21_000
    assert ("GET", "/fapi/v1/time") in fake.requests


async def test_v3_nonce_outside_the_window_resynchronises_the_clock(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    fake.faults.clock_skew_ms = -30_000
    venue = make_venue(v3_config(fake))
    assert (await venue.fetch_balance()).wallet == 100_000
    assert -31_000 < venue.rest.time_offset_ms < -29_000


async def test_stream_reports_partial_fills_with_fees(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    stream = venue_v3.order_updates()
    bbo = await venue_v3.fetch_bbo_prices("BTC")
    await venue_v3.place_limit_order("BTC", Side.BUY, Decimal("0.004"), bbo.bid - 50, client_order_id="partial-1")
    fake.exchange.fill_resting(fake.v3_account(USER), "partial-1", Decimal("0.001"))
    state = await until(stream, lambda s: s.status is OrderStatus.PARTIALLY_FILLED)
    assert (state.client_order_id, state.filled_qty, state.maker_qty) == (
        "partial-1",
        Decimal("0.001"),
        Decimal("0.001"),
    )
    assert state.fees > 0
    assert state.avg_price == bbo.bid - 50
    polled = await venue_v3.get_order("BTC", "partial-1")
    assert polled is not None
    assert (polled.filled_qty, polled.fees) == (state.filled_qty, state.fees)


async def test_stream_reconnects_and_reconciles_what_it_missed(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    stream = venue_v3.order_updates()
    bbo = await venue_v3.fetch_bbo_prices("BTC")
    await venue_v3.place_limit_order("BTC", Side.BUY, Decimal("0.002"), bbo.bid - 50, client_order_id="missed-1")
    await until(stream, lambda s: s.client_order_id == "missed-1")
    connects = venue_v3.stream.connects
    await fake.drop_streams()
    # While the socket is down, Aster cancels the order: its event is lost with the connection.
    fake.exchange.cancel(fake.v3_account(USER), {"symbol": "BTCUSDT", "origClientOrderId": "missed-1"})
    state = await until(stream, lambda s: s.client_order_id == "missed-1" and s.final)
    assert state.status is OrderStatus.CANCELLED
    assert venue_v3.stream.connects > connects


async def test_an_expired_listen_key_is_recreated(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    stream = venue_v3.order_updates()
    await asyncio.wait_for(venue_v3.stream.connected.wait(), WAIT)
    first_key = venue_v3.stream.listen_key
    fake.expire_listen_keys()
    while venue_v3.stream.connects < 2 or not venue_v3.stream.connected.is_set():
        await asyncio.wait_for(venue_v3.stream.connected.wait(), WAIT)
        await asyncio.sleep(0)
    assert venue_v3.stream.listen_key not in (None, first_key)
    bbo = await venue_v3.fetch_bbo_prices("BTC")
    await venue_v3.place_limit_order("BTC", Side.SELL, Decimal("0.002"), bbo.ask + 50, client_order_id="after-expiry")
    assert (await until(stream, lambda s: s.client_order_id == "after-expiry")).status is OrderStatus.OPEN


async def test_liquidation_is_announced(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    notices = venue_v3.liquidations()
    bbo = await venue_v3.fetch_bbo_prices("ETH")
    await venue_v3.place_market_order(
        "ETH", Side.SELL, Decimal("0.01"), worst_price=bbo.bid - 10, client_order_id="liq"
    )
    await asyncio.wait_for(venue_v3.stream.connected.wait(), WAIT)
    fake.exchange.liquidate(fake.v3_account(USER), "ETHUSDT")
    notice = await next_item(notices)
    assert (notice.symbol, notice.quantity) == ("ETH", Decimal("0.01"))
    assert notice.price == fake.exchange.markets["ETHUSDT"].mark
    assert (await venue_v3.get_position_snapshot("ETH")).quantity == 0


async def test_funding_payments_come_from_income_with_their_rate(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    bbo = await venue_v3.fetch_bbo_prices("BTC")
    await venue_v3.place_market_order("BTC", Side.BUY, Decimal("0.01"), worst_price=bbo.ask + 100, client_order_id="f1")
    fake.exchange.settle_funding("BTCUSDT")
    payments = await venue_v3.fetch_funding_payments("BTC", since)
    assert len(payments) == 1
    payment = payments[0]
    market = fake.exchange.markets["BTCUSDT"]
    assert payment.amount == (-Decimal("0.01") * market.mark * market.funding_rate).quantize(Decimal("0.00000001"))
    assert payment.amount < 0  # a positive rate: the long pays
    assert payment.rate == market.funding_rate
    assert abs(payment.position_qty - Decimal("0.01")) < Decimal("0.0001")
    assert await venue_v3.fetch_funding_payments(None, since) == payments


async def test_leverage_is_capped_at_the_bracket_maximum(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    assert await venue_v3.set_leverage("PEPE", Decimal(100)) == 25
    assert fake.v3_account(USER).leverage["1000PEPEUSDT"] == 25


async def test_post_only_expired_by_the_engine_is_a_post_only_rejection(
    fake: FakeAsterServer, venue_v3: AsterVenue
) -> None:
    fake.exchange.gtx_cross = "expired"
    bbo = await venue_v3.fetch_bbo_prices("BTC")
    with pytest.raises(VenueRejected) as info:
        await venue_v3.place_limit_order(
            "BTC", Side.BUY, Decimal("0.002"), bbo.ask, client_order_id="gtx-x", time_in_force=TimeInForce.POST_ONLY
        )
    assert info.value.reason == RejectReason.POST_ONLY_WOULD_CROSS
    found = await venue_v3.get_order("BTC", "gtx-x")
    assert found is not None
    assert (found.status, found.reject_reason, found.filled_qty) == (
        OrderStatus.REJECTED, RejectReason.POST_ONLY_WOULD_CROSS, 0
    )  # fmt: skip


async def test_v1_streams_use_the_api_key_header(fake: FakeAsterServer, make_venue: Callable[..., Any]) -> None:
    venue = make_venue(v1_config(fake))
    stream = venue.order_updates()
    bbo = await venue.fetch_bbo_prices("SOL")
    await venue.place_limit_order("SOL", Side.BUY, Decimal(1), bbo.bid - 1, client_order_id="v1-stream")
    assert (await until(stream, lambda s: s.client_order_id == "v1-stream")).status is OrderStatus.OPEN
    assert fake.v1_account(V1_KEY).orders


async def test_unreadable_fees_never_hide_a_filled_order(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    bbo = await venue_v3.fetch_bbo_prices("BTC")
    fake.faults.inject(429, -1003, "Too many requests.", path="userTrades", headers={"Retry-After": "0"})
    state = await venue_v3.place_market_order("BTC", Side.BUY, Decimal("0.002"), worst_price=bbo.ask + 100,
                                              client_order_id="fees-later")  # fmt: skip
    assert (state.status, state.filled_qty) == (OrderStatus.FILLED, Decimal("0.002"))
    assert state.fees == (state.avg_price or 0) * Decimal("0.002") * Decimal("0.00035")  # estimated at the taker rate
    exact = await venue_v3.get_order("BTC", "fees-later")
    assert exact is not None
    assert exact.fees == Decimal(fake.v3_account(USER).trades[-1]["commission"])


async def test_the_same_client_id_sent_concurrently_is_one_order(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    bbo = await venue_v3.fetch_bbo_prices("BTC")
    fake.faults.latency = 0.05  # keep the first request in flight while the second is tried

    async def send() -> OrderState | VenueRejected:
        try:
            return await venue_v3.place_market_order(
                "BTC", Side.BUY, Decimal("0.002"), worst_price=bbo.ask + 100, client_order_id="twin"
            )
        except VenueRejected as exc:
            return exc

    results = await asyncio.gather(send(), send())
    refused = [r for r in results if isinstance(r, VenueRejected)]
    assert len(refused) == 1
    assert refused[0].reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID
    assert len(fake.v3_account(USER).orders) == 1


async def test_a_market_that_stops_trading_stays_closable(fake: FakeAsterServer, venue_v3: AsterVenue) -> None:
    bbo = await venue_v3.fetch_bbo_prices("SOL")
    await venue_v3.place_market_order("SOL", Side.BUY, Decimal(1), worst_price=bbo.ask + 1, client_order_id="sol-1")
    original = fake._exchange_info

    def settling() -> dict[str, Any]:
        info = original()
        for entry in info["symbols"]:
            if entry["symbol"] == "SOLUSDT":
                entry["status"] = "SETTLING"
        return info

    fake._exchange_info = settling  # type: ignore[method-assign]
    await venue_v3._ensure_markets(force=True)
    assert "SOL" not in await venue_v3.load_instruments(), "a settling market is offered for new trades"
    assert (await venue_v3.get_position_snapshot("SOL")).quantity == 1
    closed = await venue_v3.place_market_order(
        "SOL", Side.SELL, Decimal(1), worst_price=bbo.bid - 1, client_order_id="sol-close", reduce_only=True
    )
    assert closed.status is OrderStatus.FILLED


async def test_unreadable_commission_rates_are_assumed_at_the_base_taker_rate_never_0(
    fake: FakeAsterServer, venue_v3: AsterVenue
) -> None:
    fake.faults.inject(400, -1000, "unavailable", path="commissionRate", times=100)
    instruments = await venue_v3.load_instruments()
    for instrument in instruments.values():
        assert (instrument.maker_fee, instrument.taker_fee) == (Decimal("0.00035"), Decimal("0.00035"))
        assert instrument.extra["fees_known"] is False
