"""The fake Aster server, driven by raw HTTP requests signed here with eth-account / hashlib directly.

No plugin code signs these requests: they prove the fake's own checks (signature recovery, nonce and timestamp
windows, filters, reduce-only, post-only, duplicates) independently of the adapter.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from fundarb_venue_aster.testing import FakeAsterServer

from .conftest import SIGNER, SIGNER_KEY, USER, V1_KEY, V1_SECRET

OTHER_KEY = "0x" + "5a" * 32


def eip712(msg: str, chain_id: int = 1666) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Message": [{"name": "msg", "type": "string"}],
        },
        "primaryType": "Message",
        "domain": {"name": "AsterSignTransaction", "version": "1", "chainId": chain_id,
                   "verifyingContract": "0x0000000000000000000000000000000000000000"},
        "message": {"msg": msg},
    }  # fmt: skip


def v3_body(params: dict[str, str], *, key: str = SIGNER_KEY, nonce: int | None = None, prefix: bool = True) -> str:
    full = {**params, "nonce": str(nonce or time.time_ns() // 1000), "user": USER, "signer": SIGNER}
    msg = urlencode(full)
    signature = Account.sign_message(encode_typed_data(full_message=eip712(msg)), private_key=key).signature.hex()
    signature = signature.removeprefix("0x")
    return f"{msg}&signature={'0x' if prefix else ''}{signature}"


async def send(fake: FakeAsterServer, method: str, path: str, body: str = "", **headers: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        if method == "GET":
            request = session.request(method, f"{fake.url}{path}?{body}", headers=headers)
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            request = session.request(method, f"{fake.url}{path}", data=body, headers=headers)
        async with request as response:
            return response.status, await response.json()


async def test_a_request_signed_directly_with_eth_account_is_accepted(fake: FakeAsterServer) -> None:
    status, rows = await send(fake, "GET", "/fapi/v3/balance", v3_body({}))
    assert status == 200, rows
    assert rows[0]["asset"] == "USDT"
    assert Decimal(rows[0]["balance"]) == 100_000


async def test_the_signature_prefix_is_optional(fake: FakeAsterServer) -> None:
    status, rows = await send(fake, "GET", "/fapi/v3/balance", v3_body({}, prefix=False))
    assert status == 200, rows


async def test_a_tampered_request_is_rejected_with_1022(fake: FakeAsterServer) -> None:
    body = v3_body({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                    "quantity": "0.001", "price": "50000"})  # fmt: skip
    tampered = body.replace("quantity=0.001", "quantity=0.002")
    status, reply = await send(fake, "POST", "/fapi/v3/order", tampered)
    assert (status, reply["code"]) == (400, -1022)
    assert not fake.v3_account(USER).orders, "a request with a bad signature reached the engine"


async def test_a_signature_by_another_key_is_rejected(fake: FakeAsterServer) -> None:
    status, reply = await send(fake, "GET", "/fapi/v3/balance", v3_body({}, key=OTHER_KEY))
    assert (status, reply["code"]) == (400, -1022)


async def test_nonce_replay_and_window(fake: FakeAsterServer) -> None:
    nonce = time.time_ns() // 1000
    body = v3_body({}, nonce=nonce)
    assert (await send(fake, "GET", "/fapi/v3/balance", body))[0] == 200
    status, reply = await send(fake, "GET", "/fapi/v3/balance", body)
    assert (status, reply["code"]) == (400, -4225)
    status, reply = await send(fake, "GET", "/fapi/v3/balance", v3_body({}, nonce=nonce - 30_000_000))
    assert (status, reply["code"]) == (400, -1021)


def v1_query(params: dict[str, str], *, secret: str = V1_SECRET, timestamp: int | None = None) -> str:
    query = urlencode({**params, "recvWindow": "5000", "timestamp": str(timestamp or int(time.time() * 1000))})
    return f"{query}&signature={hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()}"


async def test_v1_hmac_requests(fake: FakeAsterServer) -> None:
    assert (await send(fake, "GET", "/fapi/v2/balance", v1_query({}), **{"X-MBX-APIKEY": V1_KEY}))[0] == 200
    status, reply = await send(
        fake, "GET", "/fapi/v2/balance", v1_query({}, secret="wrong"), **{"X-MBX-APIKEY": V1_KEY}
    )
    assert (status, reply["code"]) == (400, -1022)
    stale = v1_query({}, timestamp=int(time.time() * 1000) - 10_000)
    status, reply = await send(fake, "GET", "/fapi/v2/balance", stale, **{"X-MBX-APIKEY": V1_KEY})
    assert (status, reply["code"]) == (400, -1021)
    status, reply = await send(fake, "GET", "/fapi/v2/balance", v1_query({}), **{"X-MBX-APIKEY": "unknown-key"})
    assert (status, reply["code"]) == (401, -2015)


def order(**extra: str) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.002",
            "price": "50000", **extra}  # fmt: skip


async def test_order_rules(fake: FakeAsterServer) -> None:
    ask = fake.exchange.markets["BTCUSDT"].best_ask
    cases = [
        (order(price="50000.05"), -4014),
        (order(quantity="0.0015"), -4023),
        (order(quantity="0.0001"), -4023),
        (order(quantity="0.001", price="4000"), -4164),
        (order(reduceOnly="true"), -2022),
        (order(price=str(ask), timeInForce="GTX"), -5022),
        (order(quantity="900"), -2019),
        (order(symbol="NOPEUSDT"), -1121),
        (order(newClientOrderId="bad id!"), -4015),
    ]
    for params, code in cases:
        status, reply = await send(fake, "POST", "/fapi/v3/order", v3_body(params))
        assert (status, reply.get("code")) == (400, code), (params, reply)


async def test_duplicate_client_id_is_refused_while_open_only(fake: FakeAsterServer) -> None:
    params = order(newClientOrderId="dup-1")
    assert (await send(fake, "POST", "/fapi/v3/order", v3_body(params)))[0] == 200
    status, reply = await send(fake, "POST", "/fapi/v3/order", v3_body(params))
    assert (status, reply["code"]) == (400, -4116)
    cancel = {"symbol": "BTCUSDT", "origClientOrderId": "dup-1"}
    assert (await send(fake, "DELETE", "/fapi/v3/order", v3_body(cancel)))[1]["status"] == "CANCELED"
    # Binance semantics: once the first order is finished, the id may be used again.
    assert (await send(fake, "POST", "/fapi/v3/order", v3_body(params)))[0] == 200


async def test_post_only_crossing_can_expire_instead(fake: FakeAsterServer) -> None:
    fake.exchange.gtx_cross = "expired"
    ask = fake.exchange.markets["BTCUSDT"].best_ask
    status, reply = await send(fake, "POST", "/fapi/v3/order", v3_body(order(price=str(ask), timeInForce="GTX")))
    assert status == 200
    assert (reply["status"], reply["executedQty"]) == ("EXPIRED", "0")


async def test_partial_fill_then_expiry_of_an_ioc(fake: FakeAsterServer) -> None:
    fake.exchange.partial_fill = Decimal("0.5")
    ask = fake.exchange.markets["BTCUSDT"].best_ask
    status, reply = await send(fake, "POST", "/fapi/v3/order", v3_body(order(price=str(ask), timeInForce="IOC")))
    assert status == 200
    assert (reply["status"], reply["executedQty"]) == ("EXPIRED", "0.001")


async def test_spot_exchange_info_lists_no_symbols(fake: FakeAsterServer) -> None:
    status, reply = await send(fake, "GET", "/api/v3/exchangeInfo")
    assert (status, reply["symbols"]) == (200, [])


async def test_injected_faults_carry_aster_headers(fake: FakeAsterServer) -> None:
    fake.faults.inject(429, -1003, "Too many requests", headers={"Retry-After": "7", "X-MBX-USED-WEIGHT-1M": "2400"})
    async with aiohttp.ClientSession() as session, session.get(f"{fake.url}/fapi/v3/time") as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "7"
    assert (await send(fake, "GET", "/fapi/v3/time"))[0] == 200


@pytest.mark.parametrize("limit", [3])
async def test_weight_limit_answers_429_with_retry_after(fake: FakeAsterServer, limit: int) -> None:
    fake.faults.weight_limit = limit
    statuses = [(await send(fake, "GET", "/fapi/v3/time"))[0] for _ in range(limit + 1)]
    assert statuses == [200] * limit + [429]
