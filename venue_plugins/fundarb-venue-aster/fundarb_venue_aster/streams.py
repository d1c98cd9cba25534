"""Aster's user-data stream: listenKey life cycle, websocket reconnects with backoff, fan-out to subscribers.

The listenKey is created (`POST listenKey`), kept alive (`PUT` every `listen_key_keepalive`; it lives 60 minutes)
and re-created when Aster says it expired (`listenKeyExpired`, or -1125 on keep-alive). A dropped connection is
reopened with exponential backoff; after every (re)connect the venue reconciles its open orders over REST, because
updates sent while the socket was down are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

import aiohttp
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.errors import VenueError, VenueRejected
from fundarb_venue_aster.config import AsterConfig
from fundarb_venue_aster.decode import Malformed, parse
from fundarb_venue_aster.records import ListenKey, read
from fundarb_venue_aster.rest import AsterRest

__all__ = ["Broadcast", "UserStream"]

T = TypeVar("T")
_CLOSED: Any = object()


class _Subscription(AsyncIterator[T]):
    """One subscriber's queue, registered when the subscription is created (not at the first `anext`)."""

    def __init__(self, owner: Broadcast[T]) -> None:
        self._owner = owner
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        owner._queues.add(self._queue)

    def __aiter__(self) -> _Subscription[T]:
        return self

    async def __anext__(self) -> T:
        self._owner.on_wait()
        item = await self._queue.get()
        if item is _CLOSED:
            raise StopAsyncIteration
        result: T = item
        return result

    async def aclose(self) -> None:
        self._owner._queues.discard(self._queue)


class Broadcast(Generic[T]):
    """Fans items out to every live subscription."""

    def __init__(self, on_wait: Callable[[], None] = lambda: None) -> None:
        self._queues: set[asyncio.Queue[Any]] = set()
        self.on_wait = on_wait

    def subscribe(self) -> _Subscription[T]:
        return _Subscription(self)

    def publish(self, item: T) -> None:
        for queue in self._queues:
            queue.put_nowait(item)

    def close(self) -> None:
        for queue in self._queues:
            queue.put_nowait(_CLOSED)
        self._queues.clear()

    @property
    def subscribers(self) -> int:
        return len(self._queues)


class UserStream:
    """The account's user-data websocket, kept open while anyone listens."""

    def __init__(
        self,
        name: str,
        config: AsterConfig,
        rest: AsterRest,
        clock: Clock,
        on_event: Callable[[dict[str, Any]], None],
        on_connect: Callable[[], Awaitable[None]],
    ) -> None:
        self.name = name
        self.config = config
        self.rest = rest
        self.clock = clock
        self.on_event = on_event
        self.on_connect = on_connect
        self.connected = asyncio.Event()
        self.connects = 0
        self.listen_key: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._log = logger.bind(venue=name)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the stream task if it is not running (needs a running event loop)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"aster-user-stream:{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.connected.clear()
        if self.listen_key is not None:
            with contextlib.suppress(VenueError):
                await self._listen_key("DELETE")
            self.listen_key = None

    async def _listen_key(self, method: str) -> Any:
        v3 = self.config.auth == "v3"
        into = (lambda d: read(d, ListenKey)) if method == "POST" else None
        return await self.rest.call(method, "listenKey", signed=v3, key_only=not v3, weight=1, into=into)

    async def _run(self) -> None:
        delay = self.config.reconnect_initial.total_seconds()
        while True:
            try:
                await self._session()
                delay = self.config.reconnect_initial.total_seconds()  # a clean end (expired key): reconnect now
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever broke the connection, the stream must come back
                self._log.warning("user stream down ({}: {}); reconnecting in {:.2f}s", type(exc).__name__, exc, delay)
            finally:
                self.connected.clear()
            await self.clock.sleep(delay)
            delay = min(delay * 2, self.config.reconnect_max.total_seconds())

    async def _session(self) -> None:
        reply = await self._listen_key("POST")
        self.listen_key = reply.listenKey
        url = f"{self.config.stream_url}/ws/{self.listen_key}"
        async with self.rest.session.ws_connect(url, heartbeat=60.0, autoping=True) as ws:
            self.connects += 1
            self.connected.set()
            self._log.info("user stream connected (connection {})", self.connects)
            keepalive = asyncio.get_running_loop().create_task(self._keepalive(ws))
            try:
                await self.on_connect()
                async for message in ws:
                    if message.type is aiohttp.WSMsgType.TEXT:
                        try:
                            event = parse(message.data)
                        except Malformed as exc:  # one garbled message must not take the stream down
                            self._log.error("unreadable user-stream message ({})", exc)
                            continue
                        if isinstance(event, dict) and "data" in event and "stream" in event:
                            event = event["data"]  # combined-stream wrapping
                        if not isinstance(event, dict):
                            continue
                        if event.get("e") == "listenKeyExpired":
                            self._log.info("listenKey expired; creating a new one")
                            self.listen_key = None
                            return
                        try:
                            self.on_event(event)
                        except Exception as exc:  # one malformed event must not take the stream down
                            self._log.error("cannot handle user-stream event {}: {}", event.get("e"), exc)
                    elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                        break
            finally:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keepalive
        raise aiohttp.ServerDisconnectedError("user stream closed by the server")

    async def _keepalive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await self.clock.sleep(self.config.listen_key_keepalive)
            try:
                await self._listen_key("PUT")
            except VenueRejected as exc:
                self._log.warning("listenKey keep-alive refused ({}); re-creating it", exc)
                self.listen_key = None
                await ws.close()
                return
            except VenueError as exc:
                self._log.warning("listenKey keep-alive failed ({}); will retry", exc)
