"""Hostile replies: every one becomes a typed `VenueError` naming the endpoint and field, or a sane value.

Each test makes the fake answer one request badly (see `hostile`) and calls a public venue method.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fundarb_venue_lighter.errors import MalformedReply
from fundarb_venue_lighter.testing import FakeLighter
from fundarb_venue_lighter.venue import LighterVenue

from fundarb_core.errors import AmbiguousOutcome, VenueRejected, VenueUnavailable
from fundarb_core.model import OrderStatus, RejectReason, Side

from .hostile import replace_reply, rewrite_reply

QTY = Decimal("0.001")
BID = Decimal("59000.0")


async def test_a_70000_deep_reply_is_a_typed_error_not_a_crash(fake: FakeLighter, venue: LighterVenue) -> None:
    # py_ecc (imported with the SDK) raises the recursion limit: the standard library's parser would overflow the
    # C stack on this body and kill the process with SIGSEGV.
    assert sys.getrecursionlimit() >= 100_000
    await venue.load_instruments()
    replace_reply(fake, "orderBookOrders", b"[" * 70_000 + b"]" * 70_000)
    with pytest.raises(MalformedReply) as info:
        await venue.fetch_order_book("BTC")
    assert info.value.endpoint == "orderBookOrders"
    assert "not JSON" in str(info.value)
    assert (await venue.fetch_order_book("BTC")).bids  # and the next call is answered normally


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<html><body>502 Bad Gateway</body></html>", "not JSON"),
        ("", "not JSON"),
        ('{"code": 200, "accounts": [', "not JSON"),
        ("null", "expected a JSON object"),
        ("[]", "expected a JSON object"),
        ('{"code": "abc"}', "code is not an integer"),
        ('{"code": null}', "code is not an integer"),
        ('{"code": 200}', "accounts: required field missing"),
        ('{"code": 200, "accounts": "x"}', "expected a list"),
    ],
)
async def test_a_malformed_200_is_a_typed_error(
    fake: FakeLighter, venue: LighterVenue, body: str, expected: str
) -> None:
    replace_reply(fake, "account", body, content_type="text/html" if body.startswith("<") else "application/json")
    with pytest.raises(MalformedReply) as info:
        await venue.fetch_balance()
    assert expected in str(info.value)
    assert "[lighter]" in str(info.value)


async def test_an_error_code_of_the_wrong_type_is_still_a_typed_error(fake: FakeLighter, venue: LighterVenue) -> None:
    replace_reply(fake, "account", '{"code": [21739], "message": {"a": 1}}', status=400)
    with pytest.raises(VenueRejected) as info:
        await venue.fetch_balance()
    assert info.value.code is None
    replace_reply(fake, "account", '{"code": 23000, "message": "slow down"}', status=200)
    with pytest.raises(VenueUnavailable):  # RateLimited, from the body's code
        await venue.fetch_balance()


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Any], Any]:
    def rewrite(body: Any) -> Any:
        node = body
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return body

    return rewrite


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("1e400", "magnitude"),
        ("-5", "positive"),
        ("0", "positive"),
        (True, "expected a number"),
        (None, "expected a number"),
        ([1], "expected a number"),
        ("abc", "expected a number"),
    ],
)
async def test_absurd_numbers_are_refused_with_their_field(
    fake: FakeLighter, venue: LighterVenue, value: Any, why: str
) -> None:
    await venue.load_instruments()
    await venue.place_limit_order("BTC", Side.BUY, QTY, BID, client_order_id="rest")
    rewrite_reply(fake, "orderBookOrders", _set(("bids", 0, "price"), value))
    with pytest.raises(MalformedReply) as info:
        await venue.fetch_order_book("BTC")
    assert why in str(info.value)
    assert info.value.field == "reply.bids[0].price"


async def test_a_crossed_book_is_refused(fake: FakeLighter, venue: LighterVenue) -> None:
    await venue.load_instruments()
    rewrite_reply(fake, "orderBookOrders", _set(("bids", 0, "price"), "70000.0"))
    with pytest.raises(MalformedReply, match="crossed"):
        await venue.fetch_order_book("BTC")


async def test_a_1970_timestamp_is_refused(fake: FakeLighter, venue: LighterVenue) -> None:
    await venue.place_limit_order("BTC", Side.BUY, QTY, BID, client_order_id="t")
    venue._orders.clear()
    rewrite_reply(fake, "accountActiveOrders", _set(("orders", 0, "updated_at"), 86_400))
    with pytest.raises(MalformedReply, match="between 2020 and 2100"):
        await venue.get_order("BTC", "t")


async def test_a_market_with_an_infinite_fee_is_skipped_not_listed(fake: FakeLighter, venue: LighterVenue) -> None:
    rewrite_reply(fake, "orderBooks", _set(("order_books", 1, "taker_fee"), "Infinity"))
    instruments = await venue.load_instruments()
    assert "BTC" not in instruments
    assert {"ETH", "SOL", "DOGE"} <= set(instruments)


async def test_an_order_whose_side_flips_is_refused(fake: FakeLighter, venue: LighterVenue) -> None:
    await venue.place_limit_order("BTC", Side.BUY, QTY, BID, client_order_id="side")
    venue._orders.clear()
    rewrite_reply(fake, "accountActiveOrders", _set(("orders", 0, "is_ask"), True))
    with pytest.raises(MalformedReply, match="is_ask"):
        await venue.get_order("BTC", "side")
    assert (await venue.get_order("BTC", "side")).side is Side.BUY  # type: ignore[union-attr]


@pytest.mark.parametrize("funding_id", [True, "", [], None, -1, 1.5])
async def test_funding_payment_ids_must_be_integers(fake: FakeLighter, venue: LighterVenue, funding_id: Any) -> None:
    await venue.place_market_order("BTC", Side.BUY, QTY, worst_price=Decimal(61000), client_order_id="fp")
    fake.exchange.settle_funding(4_000_000_000_000)
    fake.exchange.settle_funding(4_000_003_600_000)
    rewrite_reply(fake, "positionFunding", _set(("position_fundings", 0, "funding_id"), funding_id))
    with pytest.raises(MalformedReply, match="funding_id"):
        await venue.fetch_funding_payments("BTC", venue.clock.now().replace(year=2024))


async def test_two_settlements_under_one_id_are_refused(fake: FakeLighter, venue: LighterVenue) -> None:
    await venue.place_market_order("BTC", Side.BUY, QTY, worst_price=Decimal(61000), client_order_id="dup")
    fake.exchange.settle_funding(4_000_000_000_000)
    fake.exchange.settle_funding(4_000_003_600_000)

    def same_id(body: Any) -> Any:
        body["position_fundings"][1]["funding_id"] = body["position_fundings"][0]["funding_id"]
        return body

    rewrite_reply(fake, "positionFunding", same_id)
    with pytest.raises(MalformedReply, match="share the id"):
        await venue.fetch_funding_payments("BTC", venue.clock.now().replace(year=2024))


async def test_a_nonce_of_minus_one_never_reaches_the_signer(fake: FakeLighter, venue: LighterVenue) -> None:
    replace_reply(fake, "nextNonce", '{"code": 200, "nonce": -1}')
    with pytest.raises(MalformedReply, match="nonce"):
        await venue.place_limit_order("BTC", Side.BUY, QTY, BID, client_order_id="n")
    assert fake.sent_txs == []
    assert await venue.get_order("BTC", "n") is None
    signer = await venue._signer_ready()
    with pytest.raises(VenueUnavailable, match="nonce"):
        signer.create_order(
            market_index=1,
            client_order_index=1,
            base_amount=1,
            price=1,
            is_ask=False,
            order_type=0,
            time_in_force=1,
            reduce_only=False,
            order_expiry=0,
            nonce=-1,
        )


@pytest.mark.parametrize(
    ("body", "status"),
    [("<html>oops</html>", 200), ("", 200), ('{"code": "x"}', 200), ("bad gateway", 502), ("{}", 500)],
)
async def test_an_unreadable_send_answer_is_ambiguous(
    fake: FakeLighter, venue: LighterVenue, body: str, status: int
) -> None:
    replace_reply(fake, "sendTx", body, status=status)
    with pytest.raises(AmbiguousOutcome) as info:
        await venue.place_limit_order("BTC", Side.BUY, QTY, BID, client_order_id="amb")
    assert info.value.client_order_id == "amb"
    found = await venue.get_order("BTC", "amb")  # the fake executed it: reconciliation finds it
    assert found is not None
    assert found.status is OrderStatus.OPEN


@pytest.mark.parametrize(
    ("endpoint", "body", "status"),
    [
        ("accountActiveOrders", "<html>gateway</html>", 200),
        ("accountActiveOrders", '{"code": 21500, "message": "not found"}', 400),
        ("accountActiveOrders", '{"code": 23000, "message": "slow"}', 429),
        ("accountActiveOrders", "{}", 503),
    ],
)
async def test_an_order_whose_post_send_lookup_fails_is_reconciled_never_failed(
    fake: FakeLighter, venue: LighterVenue, endpoint: str, body: str, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    await venue.load_instruments()
    await venue.auth_token()
    updates = venue.order_updates()
    first = asyncio.ensure_future(anext(updates))  # subscribes at the loop's next step, before any reply
    # Every look-up during the send fails, whoever asks: the post-send look-up, and the stream's own reconciliation
    # once it connects (which would otherwise take the one broken reply and leave the look-up a good one). The
    # account stream could also tell of the order before the look-up: its pushes wait until the send returned.
    replace_reply(fake, endpoint, body, status=status, times=1_000)
    sent = asyncio.Event()
    push = fake._broadcast

    async def after_the_send() -> None:
        await sent.wait()
        await push()

    monkeypatch.setattr(fake, "_broadcast", after_the_send)
    with pytest.raises(AmbiguousOutcome) as info:  # never VenueRejected / VenueUnavailable: it was accepted
        await venue.place_limit_order("BTC", Side.BUY, QTY, BID, client_order_id="lost")
    fake.mutate = None  # the venue answers again
    sent.set()
    assert info.value.client_order_id == "lost"
    assert "lost" in venue._sent  # tracked as live from the moment it was sent
    await venue.reconcile()
    async with asyncio.timeout(10):
        state = await first
    assert (state.client_order_id, state.status) == ("lost", OrderStatus.OPEN)
    assert venue._orders["lost"].status is OrderStatus.OPEN
    await updates.aclose()


async def test_a_definite_refusal_is_not_tracked(fake: FakeLighter, venue: LighterVenue) -> None:
    with pytest.raises(VenueRejected) as info:
        await venue.place_limit_order("BTC", Side.BUY, Decimal(100), BID, client_order_id="big")
    assert info.value.reason is RejectReason.INSUFFICIENT_MARGIN
    assert "big" not in venue._sent


async def test_a_refused_resend_keeps_the_first_send_tracked(fake: FakeLighter, venue: LighterVenue) -> None:
    await venue.load_instruments()
    fake.faults.drop_reply_next = 1
    with pytest.raises(AmbiguousOutcome):
        await venue.place_limit_order("BTC", Side.BUY, QTY, BID, client_order_id="again")
    with pytest.raises(VenueRejected) as info:  # the same id again: the venue already has it (21728)
        await venue.place_limit_order("BTC", Side.BUY, QTY, BID, client_order_id="again")
    assert info.value.reason is RejectReason.DUPLICATE_CLIENT_ORDER_ID
    assert "again" in venue._sent  # the first send is still reconciled
    await venue.reconcile()
    assert venue._orders["again"].status is OrderStatus.OPEN
