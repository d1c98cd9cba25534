"""fundarb's own HTTP transport to Lighter: one aiohttp session, a rate limiter, and typed errors.

The SDK's REST classes are not used by the adapter (they are the independent client in the tests): requests,
timeouts, retries and the line between "nothing was done" and "sent, outcome unknown" are fundarb's. Every body
goes through the one decoding boundary (`decode`) into a typed record; nothing but a `VenueError` (or
`InvalidNonce`, which the nonce manager handles) leaves this module.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Any, TypeVar

import aiohttp
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.errors import AmbiguousOutcome, VenueError, VenueUnavailable
from fundarb_venue_lighter.decode import MAX_BODY, parse_json, parse_object, structure
from fundarb_venue_lighter.errors import MalformedReply, error_from_answer
from fundarb_venue_lighter.nonces import InvalidNonce
from fundarb_venue_lighter.signer import SignedTx

__all__ = ["TRANSPORT_ERRORS", "RateLimiter", "Transport"]

Json = dict[str, Any]
T = TypeVar("T")
# What a connection can fail with once a request is under way (aiohttp wraps most, not all, of these).
TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError, OSError, EOFError, ValueError)
MAX_RETRY_AFTER = 3600.0  # seconds; a longer (or non-finite) Retry-After is ignored


class RateLimiter:
    """A token bucket on the venue's clock: `per_minute` requests a minute, bursts up to the same number."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._tokens = self.capacity
        self._at = clock.monotonic()
        self._lock = asyncio.Lock()
        self.waited = 0.0  # seconds spent waiting (telemetry and tests)

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self.clock.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
                self._at = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                delay = (1 - self._tokens) / self.rate
                self.waited += delay
                await self.clock.sleep(delay)


async def _read(resp: aiohttp.ClientResponse, endpoint: str, venue: str) -> bytes:
    """Read a body, refusing one above `MAX_BODY` without reading it all."""
    declared = resp.content_length
    if declared is not None and declared > MAX_BODY:
        raise MalformedReply(f"{endpoint}: the reply is larger than {MAX_BODY} bytes", venue=venue, endpoint=endpoint)
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise MalformedReply(
                f"{endpoint}: the reply is larger than {MAX_BODY} bytes", venue=venue, endpoint=endpoint
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        value = float(headers.get("Retry-After", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) and 0 <= value <= MAX_RETRY_AFTER else None


def _code(body: Json) -> object:
    """The body's `code` (200 when absent); any other type than int is returned as is, for the caller to refuse."""
    return body.get("code", 200)


class Transport:
    """REST calls to one Lighter host."""

    def __init__(self, base_url: str, *, venue: str, clock: Clock, timeout: float, requests_per_minute: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.venue = venue
        self.timeout = timeout
        self.limiter = RateLimiter(requests_per_minute, clock)
        self._session: aiohttp.ClientSession | None = None
        self.log = logger.bind(venue=venue)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout, sock_connect=self.timeout)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _failure(
        self, status: int, data: bytes, headers: Mapping[str, str], endpoint: str, **context: Any
    ) -> VenueError | InvalidNonce:
        code: object = None
        message: object = ""
        try:
            body = parse_json(data, endpoint=endpoint, venue=self.venue, status=status)
        except MalformedReply:
            body = None
        if isinstance(body, dict):
            code, message = body.get("code"), body.get("message", "")
        if not message:
            message = f"HTTP {status} without a readable message"
        return error_from_answer(status, code, message, venue=self.venue, retry_after=_retry_after(headers), **context)

    async def get(
        self, path: str, record: type[T], params: Mapping[str, Any] | None = None, *, auth: str | None = None
    ) -> T:
        """GET `/api/v1/{path}` and return its body as `record`, or raise a typed error (a GET changes nothing)."""
        await self.limiter.acquire()
        query = {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (params or {}).items() if v is not None
        }
        headers = {"authorization": auth} if auth else {}
        try:
            async with self._client().get(f"{self.base_url}/api/v1/{path}", params=query, headers=headers) as resp:
                status, data = resp.status, await _read(resp, path, self.venue)
                if status != 200:
                    error = self._failure(status, data, resp.headers, path)
                    if isinstance(error, InvalidNonce):
                        raise VenueUnavailable(str(error), venue=self.venue, status=status)
                    raise error
        except TRANSPORT_ERRORS as error:
            raise VenueUnavailable(f"GET {path} failed: {type(error).__name__}", venue=self.venue) from None
        body = parse_object(data, endpoint=path, venue=self.venue, status=200)
        code = _code(body)
        if isinstance(code, bool) or not isinstance(code, int):
            raise MalformedReply(f"{path}: code is not an integer ({code!r:.40})", venue=self.venue, endpoint=path)
        if code != 200:
            failure = error_from_answer(400, code, body.get("message", ""), venue=self.venue)
            raise failure if isinstance(failure, VenueError) else VenueUnavailable(str(failure), venue=self.venue)
        return structure(body, record, endpoint=path, venue=self.venue)

    async def send_tx(self, tx: SignedTx, *, client_order_id: str | None = None, reduce_only: bool = False) -> Json:
        """POST `sendTx`; return the body. Raise `InvalidNonce` when the venue refuses the nonce.

        Once the request may have been written, only a definite refusal (a 4xx, or a 200 whose body carries
        Lighter's error code) is `VenueRejected`/`RateLimited`/`InvalidNonce`; everything else (timeout, dropped
        connection, 5xx, a body that cannot be read) is `AmbiguousOutcome`: the transaction may have executed.
        Failures before sending (no connection) are `VenueUnavailable`.
        """
        await self.limiter.acquire()
        form = {"tx_type": str(tx.tx_type), "tx_info": tx.info}
        self.log.info("sendTx type={} nonce={} client_order_id={}", tx.tx_type, tx.nonce, client_order_id)

        def ambiguous(why: str, status: int | None = None) -> AmbiguousOutcome:
            self.log.warning("sendTx nonce={} outcome unknown: {}", tx.nonce, why)
            return AmbiguousOutcome(
                f"sendTx sent, outcome unknown ({why})",
                venue=self.venue,
                status=status,
                client_order_id=client_order_id,
            )

        try:
            async with self._client().post(f"{self.base_url}/api/v1/sendTx", data=form) as resp:
                status, headers = resp.status, resp.headers
                data = await _read(resp, "sendTx", self.venue)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            raise VenueUnavailable(f"sendTx not sent: {type(error).__name__}", venue=self.venue) from None
        except MalformedReply as error:
            raise ambiguous(error.message, status) from None
        except TRANSPORT_ERRORS as error:
            raise ambiguous(f"reply lost: {type(error).__name__}") from None
        if status >= 500:
            raise ambiguous(f"HTTP {status}", status)
        if status != 200:
            refusal = self._failure(status, data, headers, "sendTx", reduce_only=reduce_only)
            self.log.info("sendTx nonce={} refused: {}", tx.nonce, refusal)
            raise refusal
        try:
            body = parse_object(data, endpoint="sendTx", venue=self.venue, status=status)
        except MalformedReply as error:
            raise ambiguous(error.message, status) from None
        code = _code(body)
        if isinstance(code, bool) or not isinstance(code, int):
            raise ambiguous(f"code is not an integer ({code!r:.40})", status)
        if code != 200:
            refusal = error_from_answer(400, code, body.get("message", ""), venue=self.venue, reduce_only=reduce_only)
            self.log.info("sendTx nonce={} refused: {}", tx.nonce, refusal)
            raise refusal
        self.log.info("sendTx nonce={} accepted tx_hash={!r:.80}", tx.nonce, body.get("tx_hash"))
        return body
