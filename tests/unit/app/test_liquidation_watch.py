"""The bot's liquidation watch: a notice on a venue's stream is an alert and ends the loop's sleep at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

from fundarb_core.app._liquidations import LiquidationWatch
from fundarb_core.clock import SimClock
from fundarb_core.events import Alert, EventPayload
from fundarb_core.venues import Capabilities, LiquidationNotice

NOTICE = LiquidationNotice("BTC", Decimal("0.5"), Decimal(60000), datetime(2026, 1, 1, tzinfo=UTC))


class StreamVenue:
    """A venue whose liquidation stream yields what the test puts in `queue` (an exception is raised)."""

    def __init__(self, name: str, *, simulated: bool = False) -> None:
        self.name = name
        self.capabilities = Capabilities(liquidation_stream=True, simulated=simulated)
        self.queue: asyncio.Queue[LiquidationNotice | Exception] = asyncio.Queue()
        self.reads = 0

    async def liquidations(self) -> AsyncIterator[LiquidationNotice]:
        self.reads += 1
        while True:
            item = await self.queue.get()
            if isinstance(item, Exception):
                raise item
            yield item


async def test_a_notice_is_alerted_and_wakes_the_sleep_early() -> None:
    clock = SimClock()
    venue = StreamVenue("lighter")
    recorded: list[EventPayload] = []

    async def record(event: EventPayload) -> None:
        recorded.append(event)

    async def scenario() -> float:
        watch = LiquidationWatch({"lighter": venue}, clock, record)  # type: ignore[dict-item]
        sleeper = asyncio.ensure_future(watch.sleep(60.0))
        await clock.sleep(2.0)
        venue.queue.put_nowait(NOTICE)
        await sleeper
        woke_at = clock.monotonic()
        await watch.stop()
        return woke_at

    woke_at = await clock.run(scenario())
    assert woke_at == 2.0  # not 60: the notice ended the sleep
    (alert,) = recorded
    assert isinstance(alert, Alert)
    assert alert.alert == "liquidation"
    assert alert.details["symbol"] == "BTC"
    assert alert.details["quantity"] == "0.5"


async def test_without_a_notice_the_sleep_is_the_interval_and_a_failing_stream_is_read_again() -> None:
    clock = SimClock()
    venue = StreamVenue("aster")

    async def record(event: EventPayload) -> None:
        raise AssertionError(f"nothing to record, got {event}")

    async def scenario() -> tuple[float, int]:
        watch = LiquidationWatch({"aster": venue}, clock, record)  # type: ignore[dict-item]
        venue.queue.put_nowait(RuntimeError("stream broke"))
        await watch.sleep(30.0)
        woke_at, reads = clock.monotonic(), venue.reads
        await watch.stop()
        return woke_at, reads

    woke_at, reads = await clock.run(scenario())
    assert woke_at == 30.0
    assert reads >= 2  # read again after the failure, the bot untouched


async def test_simulated_venues_are_not_watched() -> None:
    clock = SimClock()

    async def record(event: EventPayload) -> None:
        raise AssertionError("no notice expected")

    async def scenario() -> dict[str, object]:
        watch = LiquidationWatch({"sim": StreamVenue("sim", simulated=True)}, clock, record)  # type: ignore[dict-item]
        await watch.sleep(5.0)
        await watch.stop()
        return dict(watch.venues)

    assert await clock.run(scenario()) == {}
    assert clock.monotonic() == 5.0
