"""The official SDK is the independent client: its REST models parse every answer of the fake, and its own
`SignerClient` (client check, nonce manager, `create_order`, `cancel_order`) works against the fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest_asyncio
from fundarb_venue_lighter.signer import import_lighter
from fundarb_venue_lighter.testing import FakeLighter

from .conftest import ACCOUNT, KEY, api_key

lighter = import_lighter()


@pytest_asyncio.fixture
async def sdk(fake: FakeLighter) -> AsyncIterator[Any]:
    client = lighter.ApiClient(configuration=lighter.Configuration(host=fake.url))
    yield client
    await client.close()


@pytest_asyncio.fixture
async def signer(fake: FakeLighter) -> AsyncIterator[Any]:
    client = lighter.SignerClient(fake.url, ACCOUNT, {KEY: api_key()[0]}, chain_id=304)
    yield client
    await client.close()


async def test_sdk_models_parse_every_public_answer(fake: FakeLighter, sdk: Any) -> None:
    orders = lighter.OrderApi(sdk)
    books = await orders.order_books()
    assert {b.symbol for b in books.order_books} == {"ETH", "BTC", "SOL", "DOGE"}
    details = await orders.order_book_details(market_id=1)
    assert details.order_book_details[0].price_decimals == 1
    assert details.order_book_details[0].min_initial_margin_fraction == 200
    book = await orders.order_book_orders(market_id=1, limit=5)
    assert Decimal(book.bids[0].price) < Decimal(book.asks[0].price)
    await orders.recent_trades(market_id=1, limit=5)
    rates = await lighter.FundingApi(sdk).funding_rates()
    assert any(r.exchange == "lighter" for r in rates.funding_rates)
    now = int(datetime.now(UTC).timestamp())
    fundings = await lighter.CandlestickApi(sdk).fundings(
        market_id=1, resolution="1h", start_timestamp=now - 7200, end_timestamp=now, count_back=2
    )
    assert len(fundings.fundings) == 2
    nonce = await lighter.TransactionApi(sdk).next_nonce(account_index=ACCOUNT, api_key_index=KEY)
    assert nonce.nonce == 0
    keys = await lighter.AccountApi(sdk).apikeys(account_index=ACCOUNT, api_key_index=KEY)
    assert keys.api_keys[0].public_key == api_key()[1].removeprefix("0x")
    accounts = await lighter.AccountApi(sdk).account(by="index", value=str(ACCOUNT))
    assert accounts.accounts[0].collateral == "10000.000000"


async def test_the_sdk_signer_client_trades_on_the_fake(fake: FakeLighter, sdk: Any, signer: Any) -> None:
    # The check is a blocking HTTP call made by the Go signer: run it off the loop that serves the fake.
    assert await asyncio.to_thread(signer.check_client) is None, "the SDK's own key check must pass against the fake"
    created, response, error = await signer.create_order(
        market_index=1,
        client_order_index=77,
        base_amount=100,  # 0.001 BTC
        price=590000,  # 59000.0, below the bid: rests
        is_ask=False,
        order_type=signer.ORDER_TYPE_LIMIT,
        time_in_force=signer.ORDER_TIME_IN_FORCE_GOOD_TILL_TIME,
    )
    assert error is None, error
    assert response.code == 200
    assert (created.base_amount, created.nonce) == (100, 0)  # the SDK parses its own tx_info back
    auth, err = signer.create_auth_token_with_expiry(api_key_index=KEY)
    assert err is None
    active = await lighter.OrderApi(sdk).account_active_orders(account_index=ACCOUNT, market_id=1, authorization=auth)
    (order,) = active.orders
    assert (order.client_order_index, order.price, order.status) == (77, "59000.0", "open")
    # The SDK cancels by the index it was given: here the client order index.
    _, response, error = await signer.cancel_order(market_index=1, order_index=77)
    assert error is None, error
    inactive = await lighter.OrderApi(sdk).account_inactive_orders(
        account_index=ACCOUNT, market_id=1, limit=10, authorization=auth
    )
    assert [(o.client_order_index, o.status) for o in inactive.orders] == [(77, "canceled")]
    # A market order fills; positions and funding then parse in the SDK's models too.
    _, response, error = await signer.create_market_order(
        market_index=1, client_order_index=78, base_amount=100, avg_execution_price=610000, is_ask=False
    )
    assert error is None, error
    fake.exchange.settle_funding(int(datetime.now(UTC).timestamp() * 1000))
    accounts = await lighter.AccountApi(sdk).account(by="index", value=str(ACCOUNT))
    (position,) = accounts.accounts[0].positions
    assert (position.sign, position.position) == (1, "0.00100")
    fundings = await lighter.AccountApi(sdk).position_funding(
        account_index=ACCOUNT, limit=10, authorization=auth, market_ids=[1]
    )
    assert fundings.position_fundings[0].position_side == "long"
    assert fake.exchange.next_nonce(ACCOUNT, KEY) == 3  # three transactions, nonces 0, 1, 2 in order
    assert [tx["Nonce"] for tx in fake.sent_txs] == [0, 1, 2]


async def test_the_sdk_resyncs_its_nonce_on_the_fakes_invalid_nonce(fake: FakeLighter, signer: Any) -> None:
    fake.exchange.bump_nonce(ACCOUNT, KEY, 5)  # the SDK's lazily fetched nonce is now stale... once fetched
    _, _, error = await signer.create_order(1, 1, 100, 590000, False, 0, 1)
    assert error is None  # fetched lazily: 5
    fake.exchange.bump_nonce(ACCOUNT, KEY, 1)
    _, _, error = await signer.create_order(1, 2, 100, 590000, False, 0, 1)
    assert error is not None
    assert "invalid nonce" in error
    _, _, error = await signer.create_order(1, 3, 100, 590000, False, 0, 1)
    assert error is None, "after its hard refresh the SDK's next order goes through"


async def test_the_sdk_key_check_fails_for_an_unregistered_key(fake: FakeLighter) -> None:
    other_private, _public, _ = lighter.create_api_key()
    client = lighter.SignerClient(fake.url, ACCOUNT, {KEY: other_private}, chain_id=304)
    try:
        error = await asyncio.to_thread(client.check_client)
    finally:
        await client.close()
    assert error is not None
