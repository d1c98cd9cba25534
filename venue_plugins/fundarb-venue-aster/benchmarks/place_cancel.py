"""Place+cancel round trips per second and p50 latency on loopback: fundarb's adapter vs ccxt's `aster`.

    .venv/bin/python venue_plugins/fundarb-venue-aster/benchmarks/place_cancel.py [--rounds 200]

Both clients sign V3 (EIP-712) requests against the same fake Aster server in the same run, one round trip at a
time (place a resting limit order, cancel it). Bounded: `--rounds` round trips per client, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import timedelta
from decimal import Decimal

import ccxt.async_support as ccxt_async
from eth_account import Account
from fundarb_venue_aster.config import AsterConfig
from fundarb_venue_aster.testing import FakeAsterServer
from fundarb_venue_aster.venue import AsterVenue

from fundarb_core.clock import WallClock
from fundarb_core.model import Side
from fundarb_core.secrets import Secret
from fundarb_core.venues import VenueContext

KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"
USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"


def report(name: str, laps: list[float]) -> float:
    total = sum(laps)
    rate = len(laps) / total
    print(f"{name:10s} {rate:8.1f} round trips/s   p50 {statistics.median(laps) * 1000:6.2f} ms")
    return rate


async def adapter(server: FakeAsterServer, rounds: int) -> list[float]:
    config = AsterConfig(
        user=USER,
        signer=Account.from_key(KEY).address,
        private_key=Secret(KEY),
        base_url=server.url,
        ws_url=server.ws_url,
        timeout=timedelta(seconds=5),
    )
    venue = AsterVenue("aster", config, VenueContext(WallClock()))
    try:
        bbo = await venue.fetch_bbo_prices("BTC")
        price = bbo.bid - 500
        laps = []
        for i in range(rounds):
            start = time.perf_counter()
            await venue.place_limit_order("BTC", Side.BUY, Decimal("0.002"), price, client_order_id=f"bench-{i}")
            await venue.cancel_order("BTC", f"bench-{i}")
            laps.append(time.perf_counter() - start)
        return laps
    finally:
        await venue.close()


async def ccxt_client(server: FakeAsterServer, rounds: int) -> list[float]:
    exchange = ccxt_async.aster({"privateKey": KEY, "enableRateLimit": False, "options": {"builderFee": False}})
    exchange.timeout_on_exit = 0
    exchange.urls["api"] = {
        "fapiPublic": f"{server.url}/fapi",
        "fapiPrivate": f"{server.url}/fapi",
        "sapiPublic": f"{server.url}/api",
        "sapiPrivate": f"{server.url}/api",
    }
    try:
        await exchange.load_markets()
        price = float(server.exchange.markets["BTCUSDT"].best_bid - 500)
        laps = []
        for _ in range(rounds):
            start = time.perf_counter()
            order = await exchange.create_order("BTC/USDT:USDT", "limit", "buy", 0.002, price)
            await exchange.cancel_order(order["id"], "BTC/USDT:USDT")
            laps.append(time.perf_counter() - start)
        return laps
    finally:
        await exchange.close(clean_instance_data=True)


async def main(rounds: int) -> None:
    async with FakeAsterServer(nonce_window=60) as server:
        server.faults.weight_limit = 10**9
        ours = report("fundarb", await adapter(server, rounds))
        theirs = report("ccxt", await ccxt_client(server, rounds))
        print(f"fundarb / ccxt throughput: {ours / theirs:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args().rounds))
