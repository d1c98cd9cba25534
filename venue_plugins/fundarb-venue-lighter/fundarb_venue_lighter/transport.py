"""fundarb's own HTTP transport to Lighter: one aiohttp session, a rate limiter, and typed errors.

The SDK's REST classes are not used by the adapter (they are the independent client in the tests): requests,
timeouts, retries and the line between "nothing was done" and "sent, outcome unknown" are fundarb's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import aiohttp
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.errors import AmbiguousOutcome, VenueError, VenueUnavailable
from fundarb_venue_lighter.errors import error_from_answer
from fundarb_venue_lighter.nonces import InvalidNonce
from fundarb_venue_lighter.signer import SignedTx

__all__ = ["RateLimiter", "Transport"]

Json = dict[str, Any]


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


def _loads(text: str) -> Any:
    # Every number with a fraction becomes a Decimal: money never passes through float.
    return json.loads(text, parse_float=Decimal)


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

    def _failure(self, status: int, text: str, headers: Mapping[str, str], **context: Any) -> VenueError | InvalidNonce:
        code: int | None = None
        message = text[:300]
        try:
            body = _loads(text)
            if isinstance(body, dict):
                code = int(body["code"]) if isinstance(body.get("code"), int) else None
                message = str(body.get("message", message))
        except ValueError:
            pass
        retry_after: float | None = None
        if "Retry-After" in headers:
            try:
                retry_after = float(headers["Retry-After"])
            except ValueError:
                retry_after = None
        return error_from_answer(status, code, message, venue=self.venue, retry_after=retry_after, **context)

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *, auth: str | None = None) -> Json:
        """GET `/api/v1/{path}`; return the JSON body, or raise a typed error (nothing is changed by a GET)."""
        await self.limiter.acquire()
        query = {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (params or {}).items() if v is not None
        }
        headers = {"authorization": auth} if auth else {}
        try:
            async with self._client().get(f"{self.base_url}/api/v1/{path}", params=query, headers=headers) as resp:
                text = await resp.text()
                if resp.status != 200:
                    error = self._failure(resp.status, text, resp.headers)
                    if isinstance(error, InvalidNonce):
                        raise VenueUnavailable(str(error), venue=self.venue, status=resp.status)
                    raise error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise VenueUnavailable(f"GET {path} failed: {type(error).__name__}", venue=self.venue) from None
        body = _loads(text)
        if not isinstance(body, dict):
            raise VenueUnavailable(f"GET {path}: unexpected answer", venue=self.venue, status=200)
        code = body.get("code", 200)
        if code != 200:
            failure = error_from_answer(400, int(code), str(body.get("message", "")), venue=self.venue)
            raise failure if isinstance(failure, VenueError) else VenueUnavailable(str(failure), venue=self.venue)
        return body

    async def send_tx(self, tx: SignedTx, *, client_order_id: str | None = None, reduce_only: bool = False) -> Json:
        """POST `sendTx`; return the body. Raise `InvalidNonce` when the venue refuses the nonce.

        A failure once the request may have been written (timeout, dropped connection, gateway error) is
        `AmbiguousOutcome`: the transaction may have been executed. Failures before sending are
        `VenueUnavailable`; refusals are `VenueRejected` with their reason.
        """
        await self.limiter.acquire()
        form = {"tx_type": str(tx.tx_type), "tx_info": tx.info}
        self.log.info("sendTx type={} nonce={} client_order_id={}", tx.tx_type, tx.nonce, client_order_id)
        try:
            async with self._client().post(f"{self.base_url}/api/v1/sendTx", data=form) as resp:
                text = await resp.text()
                status, headers = resp.status, resp.headers
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            raise VenueUnavailable(f"sendTx not sent: {type(error).__name__}", venue=self.venue) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            self.log.warning("sendTx nonce={} outcome unknown: {}", tx.nonce, type(error).__name__)
            raise AmbiguousOutcome(
                f"sendTx sent, reply lost ({type(error).__name__})", venue=self.venue, client_order_id=client_order_id
            ) from None
        if status != 200:
            if status >= 500 and status != 503:
                raise AmbiguousOutcome(
                    f"sendTx answered HTTP {status}", venue=self.venue, status=status, client_order_id=client_order_id
                )
            refusal = self._failure(status, text, headers, reduce_only=reduce_only)
            self.log.info("sendTx nonce={} refused: {}", tx.nonce, refusal)
            raise refusal
        body = _loads(text)
        if not isinstance(body, dict) or body.get("code", 200) != 200:
            code = body.get("code") if isinstance(body, dict) else None
            message = str(body.get("message", "")) if isinstance(body, dict) else text[:300]
            raise error_from_answer(400, code, message, venue=self.venue, reduce_only=reduce_only)
        self.log.info("sendTx nonce={} accepted tx_hash={}", tx.nonce, body.get("tx_hash"))
        return body
