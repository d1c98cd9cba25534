"""An independent client, ccxt's `aster` exchange (async, V3 EIP-712), against the fake server.

ccxt builds, orders and signs its requests its own way (nonce/user/signer first, its own ECDSA, ccxt's URL
encoding); the fake verifies them like Aster does. Passing proves the fake speaks the protocol a third-party client
speaks, not merely the dialect of fundarb's adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from fundarb_venue_aster.testing import FakeAsterServer

from .conftest import SIGNER, SIGNER_KEY

ccxt_async = pytest.importorskip("ccxt.async_support")


@pytest_asyncio.fixture
async def client(fake: FakeAsterServer) -> AsyncIterator[Any]:
    exchange = ccxt_async.aster({"privateKey": SIGNER_KEY, "enableRateLimit": False, "options": {"builderFee": False}})
    exchange.timeout_on_exit = 0
    exchange.urls["api"] = {
        "fapiPublic": f"{fake.url}/fapi",
        "fapiPrivate": f"{fake.url}/fapi",
        "sapiPublic": f"{fake.url}/api",
        "sapiPrivate": f"{fake.url}/api",
    }
    try:
        yield exchange
    finally:
        # ccxt 4.5.60's close() keeps its HTTP session unless asked to clean the instance's data.
        await exchange.close(clean_instance_data=True)


async def test_ccxt_loads_markets_rates_and_positions(fake: FakeAsterServer, client: Any) -> None:
    markets = await client.load_markets()
    btc = markets["BTC/USDT:USDT"]
    assert btc["id"] == "BTCUSDT"
    assert Decimal(str(btc["precision"]["price"])) == Decimal("0.1")  # ccxt reads the PRICE_FILTER tick too
    assert "1000PEPE/USDT:USDT" in markets
    rates = await client.fetch_funding_rates()
    assert Decimal(str(rates["BTC/USDT:USDT"]["fundingRate"])) == fake.exchange.markets["BTCUSDT"].funding_rate
    positions = await client.fetch_positions()
    assert all(float(p["contracts"] or 0) == 0 for p in positions)


async def test_ccxt_places_and_cancels_a_limit_order(fake: FakeAsterServer, client: Any) -> None:
    await client.load_markets()
    bid = fake.exchange.markets["BTCUSDT"].best_bid
    price = float(bid - 500)
    placed = await client.create_order("BTC/USDT:USDT", "limit", "buy", 0.002, price)
    account = fake.v3_account(SIGNER)  # ccxt's user is the signing wallet itself
    order = account.orders[int(placed["id"])]
    assert (order.status, order.qty, order.price) == ("NEW", Decimal("0.002"), bid - 500)
    cancelled = await client.cancel_order(placed["id"], "BTC/USDT:USDT")
    assert cancelled["status"] == "canceled"
    assert order.status == "CANCELED"


async def test_a_tampered_ccxt_request_is_rejected(fake: FakeAsterServer, client: Any) -> None:
    await client.load_markets()
    original_sign = client.sign

    def tamper(path: str, api: Any = "public", method: str = "GET", params: Any = None, headers: Any = None,
               body: Any = None) -> Any:  # fmt: skip
        request = original_sign(path, api, method, params or {}, headers, body)
        if request["body"]:
            request["body"] = request["body"].replace("quantity=0.002", "quantity=0.003")
        return request

    client.sign = tamper
    with pytest.raises(ccxt_async.AuthenticationError):
        await client.create_order("BTC/USDT:USDT", "limit", "buy", 0.002, 50000.0)
    assert not fake.v3_account(SIGNER).orders
