"""Order-update streams shared by all executions on a venue, with polling as the safety net.

A venue that announces `capabilities.order_stream` gets one background reader; executions wait on it for their
client ids. When the stream drops, the reader reconnects with backoff, and the waiters' polling covers the gap
(a reconnect is always followed by a `get_order` reconcile, because updates may have been missed).
"""

from __future__ import annotations

import asyncio
import contextlib

from loguru import logger

from fundarb_core.clock import Clock, wait_for
from fundarb_core.errors import VenueError
from fundarb_core.venues import OrderState, Venue

__all__ = ["OrderStreamHub"]


class OrderStreamHub:
    """Latest order states seen on one venue's stream."""

    def __init__(self, venue: Venue, clock: Clock) -> None:
        self.venue = venue
        self.clock = clock
        self.latest: dict[str, OrderState] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._read(), name=f"orders:{self.venue.name}")

    async def _read(self) -> None:
        delay = 0.5
        while True:
            try:
                async for state in self.venue.order_updates():
                    self.latest[state.client_order_id] = state
                    self._changed.set()
                    delay = 0.5
            except VenueError as exc:
                self.reconnects += 1
                logger.bind(venue=self.venue.name).warning("order stream dropped ({}); reconnecting", exc)
                self._changed.set()  # wake waiters so they reconcile by polling
                await self.clock.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def wait(self, client_order_id: str, timeout: float) -> OrderState | None:  # noqa: ASYNC109 - clock time
        """Wait up to `timeout` (clock seconds) for news of `client_order_id`; return the latest state seen."""
        self.start()
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await wait_for(self.clock, self._changed.wait(), timeout)
        return self.latest.get(client_order_id)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
