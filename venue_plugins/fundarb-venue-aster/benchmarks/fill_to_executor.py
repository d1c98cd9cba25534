"""From a fill on the fake Aster to the executor acting on it: the user-data stream against polling; and the cost
of one BBO read from the bookTicker stream against REST.

    .venv/bin/python venue_plugins/fundarb-venue-aster/benchmarks/fill_to_executor.py [--rounds 200] [--polled 20]

Each round: the `OrderExecutor` places a post-only order at the touch on the fake (loopback, real websocket); once it
rests and the executor is waiting on it, the fake fills it (`Exchange.fill_resting`, which writes the
`ORDER_TRADE_UPDATE` to the user-data websocket) and the clock starts; it stops when the executor reports the order
done (its `OrderDone` record, after it has counted the fill). "streamed" uses the user-data stream (the adapter's
`capabilities.order_stream`); "polled" is the same with the stream switched off, so the executor polls `get_order`
every 500 ms, as the earlier bot did. Target: streamed p50 <= 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal

import attrs
from eth_account import Account
from fundarb_venue_aster.config import AsterConfig
from fundarb_venue_aster.testing import FakeAsterServer
from fundarb_venue_aster.venue import AsterVenue
from fundarb_venue_aster.wire import wire_client_id

from fundarb_core.clock import WallClock
from fundarb_core.events import Event, OrderDone
from fundarb_core.execution import OrderExecutor, OrderSpec, client_order_id
from fundarb_core.model import ExecutionMode, Side
from fundarb_core.secrets import Secret
from fundarb_core.venues import VenueContext

KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"
USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"
QTY = Decimal("0.002")
random.seed(7)
_ids = itertools.count(1)


def config(server: FakeAsterServer, **overrides: object) -> AsterConfig:
    return AsterConfig(
        user=USER,
        signer=Account.from_key(KEY).address,
        private_key=Secret(KEY),
        base_url=server.url,
        ws_url=server.ws_url,
        timeout=timedelta(seconds=5),
        **overrides,  # type: ignore[arg-type]
    )


async def resting(server: FakeAsterServer, wire_id: str) -> None:
    """Wait until the fake holds `wire_id` as a resting order (not measured)."""
    account = server.v3_account(USER)

    def rests() -> bool:
        order = account.orders.get(account.by_client_id.get(wire_id, -1))
        return order is not None and order.status == "NEW"

    while not rests():  # noqa: ASYNC110 - the fake's state has no event to wait on; not measured
        await asyncio.sleep(0.0005)


async def rounds(server: FakeAsterServer, count: int, *, streamed: bool) -> list[float]:
    venue = AsterVenue("aster", config(server), VenueContext(WallClock()))
    if not streamed:
        venue.capabilities = attrs.evolve(venue.capabilities, order_stream=False)
    done_at: dict[str, float] = {}

    async def record(event: Event) -> None:
        if isinstance(event, OrderDone):
            done_at[event.intent_id] = time.perf_counter()

    executor = OrderExecutor({"aster": venue}, {"aster": await venue.load_instruments()}, WallClock(), record=record)
    laps: list[float] = []
    try:
        for i in range(count):
            intent = f"fill-bench-{next(_ids)}"
            spec = OrderSpec(
                venue="aster", symbol="BTC", side=Side.BUY if i % 2 == 0 else Side.SELL, quantity=QTY,
                intent_id=intent, mode=ExecutionMode.LIMIT_ONLY, limit_offset_bps=Decimal(0),
                timeout=timedelta(seconds=30), reprice_interval=timedelta(seconds=60),
                poll_interval=timedelta(milliseconds=500),
            )  # fmt: skip
            task = asyncio.create_task(executor.execute(spec))
            wire = wire_client_id(client_order_id(intent, "L", 1))
            await resting(server, wire)
            if streamed:  # the first round starts the user-data stream (not measured)
                await venue.stream.connected.wait()
            else:  # a fill comes at any moment of the 500 ms polling cycle (not measured)
                await asyncio.sleep(random.uniform(0, 0.5))
            started = time.perf_counter()
            server.exchange.fill_resting(server.v3_account(USER), wire, QTY)
            result = await task
            assert result.filled_qty == QTY, result
            laps.append(done_at[intent] - started)
    finally:
        await executor.aclose()
        await venue.close()
    return laps


async def bbo_reads(server: FakeAsterServer, count: int, *, streamed: bool) -> list[float]:
    venue = AsterVenue("aster", config(server, market_streams=streamed), VenueContext(WallClock()))
    try:
        await venue.fetch_bbo_prices("BTC")  # subscribes when streamed
        while streamed and venue.market_stream.book("BTCUSDT") is None:
            venue.market_stream.changed.clear()
            await venue.market_stream.changed.wait()
        laps = []
        for _ in range(count):
            start = time.perf_counter()
            await venue.fetch_bbo_prices("BTC")
            laps.append(time.perf_counter() - start)
        return laps
    finally:
        await venue.close()


def show(name: str, laps: list[float], unit: str = "ms") -> None:
    scale = 1000 if unit == "ms" else 1_000_000
    qs = statistics.quantiles(laps, n=100) if len(laps) > 1 else laps * 99
    print(
        f"{name:34s} p50 {statistics.median(laps) * scale:9.2f} {unit}   p99 {qs[98] * scale:9.2f} {unit}"
        f"   ({len(laps)} rounds)"
    )


async def main(count: int, polled: int) -> None:
    async with FakeAsterServer(seed=1) as server:
        print("fill on the fake Aster -> executor done (OrderDone recorded)")
        show("before: polled every 500 ms", await rounds(server, polled, streamed=False))
        show("after: user-data stream", await rounds(server, count, streamed=True))
        print("one BBO read (fetch_bbo_prices)")
        show("before: REST ticker/bookTicker", await bbo_reads(server, count, streamed=False), "us")
        show("after: bookTicker stream", await bbo_reads(server, count, streamed=True), "us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--polled", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.polled))
