"""The fake checks transactions as Lighter would: nonces, fields of the signer's tx_info, minimums, rules."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from fundarb_venue_lighter.signer import Signer
from fundarb_venue_lighter.testing import FakeLighter, MarketSpec
from fundarb_venue_lighter.venue import LighterVenue

from fundarb_core.errors import VenueRejected
from fundarb_core.model import OrderStatus, RejectReason, Side
from fundarb_core.secrets import Secret

from .conftest import ACCOUNT, KEY, api_key

FAR = 4_000_000_000_000  # an order expiry in ms, far ahead


@pytest_asyncio.fixture
async def signer(fake: FakeLighter) -> AsyncIterator[Signer]:
    opened = await Signer.open(fake.url, ACCOUNT, KEY, Secret(api_key()[0]), 304, venue="t")
    yield opened
    await opened.close()


async def send(fake: FakeLighter, tx_type: int, info: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake.url}/api/v1/sendTx", data={"tx_type": str(tx_type), "tx_info": info}) as resp,
    ):
        return resp.status, await resp.json()


def order(signer: Signer, nonce: int, **fields: Any) -> str:
    args: dict[str, Any] = {
        "market_index": 1,
        "client_order_index": 1000 + nonce,
        "base_amount": 100,
        "price": 590000,
        "is_ask": False,
        "order_type": 0,
        "time_in_force": 1,
        "reduce_only": False,
        "order_expiry": FAR,
        "nonce": nonce,
    }
    args.update(fields)
    return signer.create_order(**args).info


def tamper(info: str, **fields: Any) -> str:
    """The signer's tx_info with fields changed after signing (what the signer itself would refuse to sign)."""
    return json.dumps({**json.loads(info), **fields})


async def test_nonces_are_sequenced_per_key_and_a_refused_one_is_not_consumed(
    fake: FakeLighter, signer: Signer
) -> None:
    status, body = await send(fake, 14, order(signer, 1))
    assert (status, "invalid nonce" in body["message"]) == (400, True)
    assert fake.exchange.next_nonce(ACCOUNT, KEY) == 0
    assert (await send(fake, 14, order(signer, 0)))[0] == 200
    assert (await send(fake, 14, order(signer, 0, client_order_index=5)))[1]["message"].startswith("invalid nonce")
    assert (await send(fake, 14, order(signer, 1)))[0] == 200
    assert fake.exchange.next_nonce(ACCOUNT, KEY) == 2
    assert fake.exchange.next_nonce(ACCOUNT, KEY + 1) == 0  # another key counts on its own


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"Price": 2**32}, 21702),
        ({"Price": 0}, 21702),
        ({"BaseAmount": 0}, 21701),
        ({"BaseAmount": 1}, 21701),  # 0.00001 BTC: below the minimum base amount
        ({"ClientOrderIndex": 2**48}, 21727),
        ({"OrderExpiry": 0}, 21711),  # GTT needs an expiry
        ({"TimeInForce": 0}, 21711),  # IOC needs expiry 0
        ({"Type": 1}, 21501),  # market needs IOC
        ({"MarketIndex": 99}, 21602),
        ({"Price": 1_300_000}, 21734),  # 130000.0 for BTC at 60000: too far from the mark
        ({"Sig": "bm90IGEgc2lnbmF0dXJl"}, 21106),
        ({"ExpiredAt": 1}, 21105),
        ({"ApiKeyIndex": 9}, 21107),  # not a registered key of the account
    ],
)
async def test_tx_fields_are_checked(fake: FakeLighter, signer: Signer, fields: dict[str, Any], code: int) -> None:
    status, body = await send(fake, 14, tamper(order(signer, 0), **fields))
    assert (status, body["code"]) == (400, code), body
    assert fake.exchange.next_nonce(ACCOUNT, KEY) == 0


async def test_minimum_quote_amount(fake: FakeLighter, signer: Signer) -> None:
    # 0.00020 BTC at 30000.0 = 6 USDC < 10 USDC
    status, body = await send(fake, 14, order(signer, 0, base_amount=20, price=300000))
    assert status == 400
    assert "min quote" in body["message"]


async def test_reduce_only_and_margin(fake: FakeLighter, signer: Signer) -> None:
    _status, body = await send(fake, 14, order(signer, 0, reduce_only=True, is_ask=True))
    assert body["code"] == 21732
    _status, body = await send(fake, 14, order(signer, 0, base_amount=10_000_000))  # 100 BTC on 10000 USDC
    assert body["code"] == 21739


async def test_a_resent_client_index_is_refused_21728_even_after_it_filled(
    fake: FakeLighter, make_venue: Callable[..., LighterVenue]
) -> None:
    first = make_venue()
    state = await first.place_market_order(
        "BTC", Side.BUY, Decimal("0.001"), worst_price=Decimal("61000"), client_order_id="fa00000000000000aa-1"
    )
    assert state.status is OrderStatus.FILLED
    # A restarted bot (no memory of the order) sends the same intent again: the venue refuses the index.
    again = make_venue("again")
    with pytest.raises(VenueRejected) as info:
        await again.place_market_order(
            "BTC", Side.BUY, Decimal("0.001"), worst_price=Decimal("61000"), client_order_id="fa00000000000000aa-1"
        )
    assert (info.value.reason, info.value.code) == (RejectReason.DUPLICATE_CLIENT_ORDER_ID, 21728)
    assert (await again.get_position_snapshot("BTC")).quantity == Decimal("0.001")


async def test_partial_fill_of_a_market_order_on_a_thin_book(make_venue: Callable[..., LighterVenue]) -> None:
    venue = make_venue()
    book = await venue.fetch_order_book("BTC", depth=3)
    worst = book.asks[1].price  # two levels of 0.5 BTC within the cap
    state = await venue.place_market_order("BTC", Side.BUY, Decimal("1.5"), worst_price=worst, client_order_id="thin")
    assert state.status is OrderStatus.EXPIRED
    assert state.filled_qty == Decimal("1.00000")
    assert state.avg_price is not None
    assert state.avg_price <= worst
    assert (await venue.get_position_snapshot("BTC")).quantity == Decimal(1)


async def test_a_resting_order_fills_against_another_account(
    fake: FakeLighter, make_venue: Callable[..., LighterVenue]
) -> None:
    maker = make_venue()
    bbo = await maker.fetch_bbo_prices("ETH")
    price = bbo.ask - Decimal("0.01")  # inside the spread: the best ask
    await maker.place_limit_order("ETH", Side.SELL, Decimal("0.0100"), price, client_order_id="maker-1")
    taker_acct = 8
    fake.exchange.register_key(taker_acct, KEY, api_key()[1])
    taker = make_venue("taker", account_index=taker_acct)
    taken = await taker.place_market_order(
        "ETH", Side.BUY, Decimal("0.0050"), worst_price=bbo.ask, client_order_id="t-1"
    )
    assert (taken.filled_qty, taken.avg_price) == (Decimal("0.0050"), price)
    made = await maker.get_order("ETH", "maker-1")
    assert made is not None
    assert (made.status, made.filled_qty) == (OrderStatus.PARTIALLY_FILLED, Decimal("0.0050"))
    assert (await maker.get_position_snapshot("ETH")).quantity == Decimal("-0.0050")


async def test_funding_accrues_hourly_and_liquidation_closes(
    fake: FakeLighter, make_venue: Callable[..., LighterVenue]
) -> None:
    venue = make_venue()
    await venue.place_market_order("SOL", Side.SELL, Decimal(1), worst_price=Decimal(140), client_order_id="s-1")
    before = (await venue.fetch_balance()).wallet
    assert fake.exchange.settle_funding(3_600_000 * 500_000) == 1
    after = (await venue.fetch_balance()).wallet
    # A positive rate: the short receives |size| × mark × rate.
    assert after - before == Decimal(1) * Decimal("150.000") * Decimal("0.00001")
    assert fake.exchange.liquidate(ACCOUNT, 2, 0) == Decimal(-1)
    assert (await venue.get_position_snapshot("SOL")).quantity == 0


async def test_a_seed_makes_the_market_reproducible() -> None:
    a, b, c = (FakeLighter(seed=s) for s in (5, 5, 6))
    assert a.exchange.mids == b.exchange.mids != c.exchange.mids


def test_market_specs_are_values() -> None:
    spec = MarketSpec("X", 9, 2, 2, Decimal(1), Decimal(1), Decimal(1))
    assert spec.min_imf == 200
