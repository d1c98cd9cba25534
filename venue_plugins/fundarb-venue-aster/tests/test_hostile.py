"""Hostile replies, one by one: each becomes a typed error naming the endpoint and field, never a crash or a 0.

The fuzz suite (`test_fuzz.py`) draws thousands of such replies; these tests pin the cases the issue names.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from decimal import Decimal

import pytest
from fundarb_venue_aster.decode import Malformed, parse
from fundarb_venue_aster.errors import error_for
from fundarb_venue_aster.records import BalanceRow, Depth, read
from fundarb_venue_aster.testing import FakeAsterServer
from fundarb_venue_aster.testing.mutate import Mutation
from fundarb_venue_aster.venue import AsterVenue

from fundarb_core.config import parse_config
from fundarb_core.errors import AmbiguousOutcome, ConfigError, VenueRejected, VenueUnavailable
from fundarb_core.model import RejectReason, Side, TimeInForce

from .conftest import SIGNER, USER, V1_KEY, V1_SECRET, v1_config
from .test_plugin_and_secrets import loaded


@pytest.fixture
def venue(fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]) -> AsterVenue:
    return make_venue(v1_config(fake))


async def test_a_70000_deep_reply_is_a_typed_error_even_with_a_raised_recursion_limit(
    fake: FakeAsterServer, venue: AsterVenue
) -> None:
    await venue.load_instruments()
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)  # what py_ecc (pulled in by eth-account) does at import
    try:
        fake.faults.mutation = Mutation("body", "deep")
        with pytest.raises(VenueUnavailable, match=r"GET /fapi/v1/ticker/bookTicker: malformed reply at \$"):
            await venue.fetch_bbo_prices("BTC")
    finally:
        sys.setrecursionlimit(before)
    with pytest.raises(Malformed, match="depth limit"):
        parse(b"[" * 70_000 + b"]" * 70_000)


@pytest.mark.parametrize("body", ["html", "empty", "null", "binary", "nan"])
async def test_a_200_without_json_is_unavailable(fake: FakeAsterServer, venue: AsterVenue, body: str) -> None:
    fake.faults.mutation = Mutation("body", body)
    with pytest.raises(VenueUnavailable, match="GET /fapi/v2/balance: malformed reply"):
        await venue.fetch_balance()


@pytest.mark.parametrize(
    ("literal", "where"),
    [
        # NaN, Infinity and 1e400 are not JSON a parser may accept: the whole body is refused.
        ("nan", r"\$: not JSON"),
        ("inf", r"\$: not JSON"),
        ("big_float", r"\$: not JSON"),
        ("null", r"\$\.bidPrice: expected a number, found None"),
        ("empty_text", r"\$\.bidPrice: expected a number, found ''"),
        ("nan_text", r"\$\.bidPrice: expected a number, found 'NaN'"),
        ("exp_text", r"\$\.bidPrice: number '1e400' is out of range"),
        ("true", r"\$\.bidPrice: expected a number, found True"),
        ("list", r"\$\.bidPrice: expected a number, found list"),
        ("huge_int", r"\$\.bidPrice: number .* is out of range"),
        ("zero_text", r"\$\.bidPrice: must be positive"),
    ],
)
async def test_absurd_numbers_are_refused_naming_the_field(
    fake: FakeAsterServer, venue: AsterVenue, literal: str, where: str
) -> None:
    await venue.load_instruments()
    fake.faults.mutation = Mutation("tree", literal, node=2)  # [(), symbol, bidPrice, ...]
    with pytest.raises(VenueUnavailable, match=r"ticker/bookTicker: malformed reply at " + where):
        await venue.fetch_bbo_prices("BTC")


async def test_a_missing_wallet_field_is_an_error_not_a_zero(fake: FakeAsterServer, venue: AsterVenue) -> None:
    fake.faults.mutation = Mutation("tree", "delete", node=4)  # [(), [0], accountAlias, asset, balance, ...]
    with pytest.raises(VenueUnavailable, match=r"\$\[0\]\.balance"):
        await venue.fetch_balance()
    with pytest.raises(Malformed, match="availableBalance"):
        read({"asset": "USDT", "balance": "0", "availableBalance": "99990", "crossUnPnl": "0"}, BalanceRow)


def test_books_must_be_sorted_and_uncrossed() -> None:
    with pytest.raises(Malformed, match=r"\$\.bids\[1\]: bids not strictly descending"):
        read({"bids": [["10", "1"], ["11", "1"]], "asks": [["12", "1"]]}, Depth)
    with pytest.raises(Malformed, match="crossed book"):
        read({"bids": [["12", "1"]], "asks": [["11", "1"]]}, Depth)
    assert read({"bids": [["10", "1"]], "asks": [["11", "1"]]}, Depth).bids[0].price == Decimal(10)


async def test_an_absurd_leverage_reply_is_refused(fake: FakeAsterServer, venue: AsterVenue) -> None:
    await venue.load_instruments()
    fake.faults.mutation = Mutation("tree", "huge_int", node=1)  # [(), leverage, maxNotionalValue, symbol]
    with pytest.raises(VenueUnavailable, match=r"leverage: malformed reply at \$\.leverage"):
        await venue.set_leverage("BTC", Decimal(10))
    assert await venue.set_leverage("BTC", Decimal(10)) == 10


@pytest.mark.parametrize(
    "mutation",
    [
        Mutation("body", "html"),
        Mutation("tree", "nan", node=5),
        Mutation("tree", "delete", node=5),
        Mutation("status", "500_-1001"),
        Mutation("status", "504_-2013"),
        Mutation("transport", "truncate"),
        Mutation("transport", "disconnect"),
    ],
    ids=lambda m: f"{m.kind}-{m.op}",
)
async def test_after_a_send_unknown_means_ambiguous_and_the_order_is_tracked(
    fake: FakeAsterServer, venue: AsterVenue, mutation: Mutation
) -> None:
    book = await venue.fetch_bbo_prices("BTC")
    price = book.bid - Decimal(100)
    fake.faults.mutation = mutation
    with pytest.raises(AmbiguousOutcome) as info:
        await venue.place_limit_order("BTC", Side.BUY, Decimal("0.01"), price, client_order_id="hostile-1")
    assert info.value.client_order_id == "hostile-1"
    assert fake.faults.mutation_applied
    assert "hostile-1" in venue._live  # the stream's reconciliation covers it
    assert "hostile-1" in fake.v1_account(V1_KEY).by_client_id  # Aster holds it: never reported as failed
    state = await venue.get_order("BTC", "hostile-1")
    assert state is not None
    assert state.quantity == Decimal("0.01")
    with pytest.raises(VenueRejected) as again:  # the same id is refused: one client id is one order
        await venue.place_limit_order("BTC", Side.BUY, Decimal("0.01"), price, client_order_id="hostile-1")
    assert again.value.reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID


async def test_a_reply_describing_another_order_is_ambiguous(fake: FakeAsterServer, venue: AsterVenue) -> None:
    book = await venue.fetch_bbo_prices("BTC")
    # [(), orderId, symbol, status, clientOrderId, price, avgPrice, origQty, ...]: a plausible, different quantity
    fake.faults.mutation = Mutation("tree", "one_text", node=7)
    with pytest.raises(AmbiguousOutcome, match=r"\$\.origQty: reply says 1, the order sent 0\.01"):
        await venue.place_limit_order(
            "BTC", Side.BUY, Decimal("0.01"), book.bid - 100, client_order_id="other-1", time_in_force=TimeInForce.GTC
        )


def test_the_body_code_decides_a_5xx_except_after_a_send() -> None:
    transient = error_for("aster", 500, -1001, "internal", changes_orders=False)
    assert type(transient) is VenueUnavailable
    missing = error_for("aster", 504, -2013, "no such order", changes_orders=False)
    assert isinstance(missing, VenueRejected)
    assert missing.reason == RejectReason.UNKNOWN_ORDER
    for status, code in ((500, -1001), (504, -2013), (502, None), (503, -1007), (500, -2010)):
        assert isinstance(error_for("aster", status, code, "x", changes_orders=True), AmbiguousOutcome), status
    assert isinstance(error_for("aster", 400, None, "<html>", changes_orders=True), AmbiguousOutcome)


@pytest.mark.parametrize("status_code", [(401, -2015), (400, -1022), (400, -2014), (401, None)])
def test_authentication_failures_are_typed(status_code: tuple[int, int | None]) -> None:
    status, code = status_code
    error = error_for("aster", status, code, "denied", changes_orders=False)
    assert isinstance(error, VenueRejected)
    assert error.reason == RejectReason.AUTHENTICATION
    assert "[aster]" in str(error)


async def test_a_wrong_v1_secret_is_an_authentication_error_without_the_secret(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    from fundarb_core.secrets import Secret

    wrong = "wrong-secret-0123456789abcdef"
    venue = make_venue(v1_config(fake, api_secret=Secret(wrong)), name="asterx")
    with pytest.raises(VenueRejected) as info:
        await venue.fetch_balance()
    assert info.value.reason == RejectReason.AUTHENTICATION
    assert "[asterx]" in str(info.value)
    assert wrong not in str(info.value)
    assert V1_SECRET not in str(info.value)


@pytest.mark.parametrize("key", ["0x1234", "not-a-key", "0x" + "g" * 64, "0x" + "0" * 64, "0x" + "f" * 64])
def test_a_malformed_private_key_is_a_config_error_naming_the_key_path(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("ASTER_BAD_KEY", key)
    section = {"kind": "aster", "user": USER, "signer": SIGNER, "private_key": "env:ASTER_BAD_KEY"}
    with pytest.raises(ConfigError) as info:
        parse_config({"venues": {"a": section}}, loaded())
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("venues.a.private_key: ")
    assert key not in info.value.problems[0]


def test_a_malformed_v1_secret_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASTER_BAD_SECRET", "has a space\n")
    section = {"kind": "aster", "auth": "v1", "api_key": "k-123456", "api_secret": "env:ASTER_BAD_SECRET"}
    with pytest.raises(ConfigError) as info:
        parse_config({"venues": {"a": section}}, loaded())
    assert info.value.problems[0].startswith("venues.a.api_secret: ")
    assert "has a space" not in str(info.value)


async def test_the_user_stream_survives_hostile_messages(fake: FakeAsterServer, venue: AsterVenue) -> None:
    stream = venue.order_updates()
    bbo = await venue.fetch_bbo_prices("BTC")
    await venue.place_limit_order("BTC", Side.BUY, Decimal("0.004"), bbo.bid - 50, client_order_id="stream-1")
    first = await asyncio.wait_for(anext(stream), 5)
    assert first.client_order_id == "stream-1"
    connects = venue.stream.connects
    account = fake.v1_account(V1_KEY)
    order = {"e": "ORDER_TRADE_UPDATE", "o": {"s": "BTCUSDT", "c": "stream-1", "X": "NEW", "x": "TRADE"}}
    for text in (
        "[" * 70_000 + "]" * 70_000,
        "<html>502</html>",
        '{"e": "ORDER_TRADE_UPDATE", "o": {"s": "BTCUSDT", "c": "stream-1", "z": NaN}}',
        json.dumps(order),  # required fields missing
        json.dumps({"e": "ORDER_TRADE_UPDATE", "o": []}),
        json.dumps({"e": "forceOrder", "o": {"s": "BTCUSDT", "z": "1e400", "L": "-1"}}),
        json.dumps({"e": "ACCOUNT_UPDATE", "a": "x"}),
    ):
        fake.emit_raw(account, text)
    fake.exchange.fill_resting(account, "stream-1", Decimal("0.001"))
    state = await asyncio.wait_for(anext(stream), 5)  # the next good event still arrives, on the same connection
    assert (state.client_order_id, state.filled_qty) == ("stream-1", Decimal("0.001"))
    assert venue.stream.connects == connects


async def test_replies_about_a_sent_order_must_describe_it(fake: FakeAsterServer, venue: AsterVenue) -> None:
    """Found by the fuzz suite: a get/cancel reply claiming another quantity was taken at its word."""
    book = await venue.fetch_bbo_prices("BTC")
    await venue.place_limit_order("BTC", Side.BUY, Decimal("0.002"), book.bid - 100, client_order_id="known-1")
    fake.faults.mutation = Mutation("tree", "one_text", node=7)  # origQty
    with pytest.raises(VenueUnavailable, match=r"\$\.origQty: reply says 1, the order sent 0\.002"):
        await venue.get_order("BTC", "known-1")
    fake.faults.mutation = Mutation("tree", "one_text", node=7)
    with pytest.raises(AmbiguousOutcome, match="origQty"):
        await venue.cancel_order("BTC", "known-1")
    state = await venue.get_order("BTC", "known-1")
    assert state is not None
    assert state.quantity == Decimal("0.002")
