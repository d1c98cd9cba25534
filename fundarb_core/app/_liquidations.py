"""Liquidation notices from the venues' streams: an alert, and the next tick at once instead of after the interval.

A venue that announces `capabilities.liquidation_stream` (and is not simulated: simulated venues run on the run's
clock, whose ticks stay as they are) is read by one background task. A notice is recorded as a `liquidation` alert
and wakes the bot's loop, so the monitor sees the missing leg and the closer flattens the surviving one within a tick,
not `monitor_interval` later. A dropped stream is read again after a pause; it never stops the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from loguru import logger

from fundarb_core.clock import Clock, wait_for
from fundarb_core.events import Alert, Record, Severity
from fundarb_core.venues import Venue

__all__ = ["LiquidationWatch"]

_RETRY = 5.0  # seconds (clock time) before a stream that ended or failed is read again


class LiquidationWatch:
    """Reads every live venue's liquidation stream while the bot runs; `sleep` ends early on a notice."""

    def __init__(self, venues: Mapping[str, Venue], clock: Clock, record: Record) -> None:
        self.clock = clock
        self.record = record
        self.woken = asyncio.Event()
        self.notices = 0
        self.venues = {
            name: venue
            for name, venue in venues.items()
            if venue.capabilities.liquidation_stream and not venue.capabilities.simulated
        }
        self._tasks = [
            asyncio.get_running_loop().create_task(self._read(name, venue), name=f"liquidations:{name}")
            for name, venue in self.venues.items()
        ]

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of clock time, or less if a liquidation is noticed meanwhile."""
        if not self._tasks:
            await self.clock.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await wait_for(self.clock, self.woken.wait(), seconds)
        self.woken.clear()

    async def _read(self, name: str, venue: Venue) -> None:
        log = logger.bind(venue=name)
        while True:
            try:
                async for notice in venue.liquidations():
                    self.notices += 1
                    log.warning("liquidation notice: {} {} @ {}", notice.symbol, notice.quantity, notice.price)
                    self.woken.set()
                    await self.record(
                        Alert(
                            alert="liquidation",
                            level=Severity.CRITICAL,
                            message=f"{name} liquidated {notice.quantity} {notice.symbol} at {notice.price}",
                            details={"venue": name, "symbol": notice.symbol, "quantity": str(notice.quantity),
                                     "price": str(notice.price), "at": notice.at.isoformat()},
                        )
                    )  # fmt: skip
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a venue's stream trouble must not stop the bot; snapshots still show the leg
                log.warning("liquidation stream failed ({}: {}); reading it again later", type(exc).__name__, exc)
            await self.clock.sleep(_RETRY)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
