"""Signed order submissions per second against one fake Lighter server: fundarb's adapter vs the SDK's own path.

    .venv/bin/python venue_plugins/fundarb-venue-lighter/benchmarks/bench_submit.py [N]

The fake runs in its own process on 127.0.0.1 (so neither client shares its CPU with the server). Measured, in
one run, N resting limit orders each:
- `sdk create_order`: the SDK's `SignerClient.create_order` (sign + sendTx, its optimistic nonce manager);
- `adapter sign+send`: fundarb's signer + nonce manager + transport (`sendTx` only);
- `adapter place_limit_order`: the whole venue call, which also finds the order again by client index.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from decimal import Decimal

import aiohttp
import attrs
from fundarb_venue_lighter.config import LighterConfig
from fundarb_venue_lighter.signer import import_lighter
from fundarb_venue_lighter.testing import throwaway_key_pair
from fundarb_venue_lighter.venue import LighterVenue

from fundarb_core.clock import WallClock
from fundarb_core.model import Side
from fundarb_core.secrets import Secret
from fundarb_core.venues import VenueContext


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"{url}/api/v1/orderBooks"):
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError("the fake did not start")


async def bench(n: int, url: str, private: str) -> dict[str, float]:
    await _wait_up(url)
    results: dict[str, float] = {}
    lighter = import_lighter()
    sdk = lighter.SignerClient(url, 11, {3: private}, chain_id=304)
    start = time.perf_counter()
    for i in range(n):
        _, _, error = await sdk.create_order(1, 1 + i, 100, 590000, False, 0, 1)
        assert error is None, error
    results["sdk create_order"] = n / (time.perf_counter() - start)
    await sdk.close()

    config = LighterConfig(
        account_index=12, api_key_index=3, api_private_key=Secret(private), base_url=url, requests_per_minute=10**9
    )
    venue = LighterVenue("bench", config, VenueContext(WallClock()))
    await venue.load_instruments()
    signer = await venue._signer_ready()
    market = venue._markets["BTC"]

    async def sign_and_send(i: int) -> None:
        async def attempt(nonce: int) -> object:
            signed = signer.create_order(
                market_index=market.market_id,
                client_order_index=1 + i,
                base_amount=100,
                price=590000,
                is_ask=False,
                order_type=0,
                time_in_force=1,
                reduce_only=False,
                order_expiry=-1,
                nonce=nonce,
            )
            return await venue.transport.send_tx(signed)

        await venue.nonces.submit(3, attempt)

    start = time.perf_counter()
    for i in range(n):
        await sign_and_send(i)
    results["adapter sign+send"] = n / (time.perf_counter() - start)
    await venue.close()

    venue = LighterVenue("bench", attrs.evolve(config, account_index=13), VenueContext(WallClock()))
    await venue.load_instruments()
    start = time.perf_counter()
    for i in range(n):
        await venue.place_limit_order("BTC", Side.BUY, Decimal("0.001"), Decimal("59000.0"), client_order_id=f"b-{i}")
    results["adapter place_limit_order"] = n / (time.perf_counter() - start)
    await venue.close()
    return results


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    private, public = throwaway_key_pair()
    port = _free_port()
    args = [sys.executable, "-m", "fundarb_venue_lighter.testing.fake_server", "--port", str(port)]
    for acct in (11, 12, 13):
        args += ["--api-key", f"{acct}:3:{public}"]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        results = asyncio.run(bench(n, f"http://127.0.0.1:{port}", private))
    finally:
        server.terminate()
        server.wait(timeout=10)
    for name, rate in results.items():
        print(f"{name:28s} {rate:8.1f} orders/s  (n={n})")


if __name__ == "__main__":
    main()
