"""The REST transport: signing, clock correction, rate limiting, and turning every failure into a typed error.

What happened to a request decides its error, not just the reply:

- not sent (connection refused, DNS, connect timeout, client-side rate limit, ban) → `VenueUnavailable` /
  `RateLimited` / `VenueHalted`: nothing was done;
- sent, reply lost or "status unknown" (read timeout, dropped connection, HTTP 503, 5xx, -1000/-1006/-1007) →
  `AmbiguousOutcome` for requests that place or cancel orders (reconcile by client order id), `VenueUnavailable`
  for queries;
- refused (4xx with a code) → the mapping in `errors.py`; timestamp and nonce refusals (-1021, -4225) are fixed
  here (server-time offset, fresh nonce) and sent once more, since a refused request was not processed.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import aiohttp
from loguru import logger
from yarl import URL

from fundarb_core.clock import Clock
from fundarb_core.errors import AmbiguousOutcome, ConfigError, VenueError, VenueUnavailable
from fundarb_core.secrets import redact
from fundarb_venue_aster.config import AsterConfig
from fundarb_venue_aster.decode import MAX_BODY, Malformed, parse
from fundarb_venue_aster.errors import VenueHalted, error_for
from fundarb_venue_aster.ratelimit import WeightLimiter
from fundarb_venue_aster.records import ServerTime, read
from fundarb_venue_aster.signing import NONCES, HmacSigner, V3Signer, encode_params

__all__ = ["AsterRest"]

# V1 reads positions and balances from /fapi/v2 (reference/aster.md "Authentication").
_V1_PATHS = {"positionRisk": "/fapi/v2/positionRisk", "balance": "/fapi/v2/balance"}
_RETRY_CODES = frozenset({-1021, -4225})


class _Retry(Exception):
    def __init__(self, error: VenueError) -> None:
        self.error = error


class AsterRest:
    """One aiohttp session to Aster's REST API for one account."""

    def __init__(self, name: str, config: AsterConfig, clock: Clock) -> None:
        self.name = name
        self.config = config
        self.clock = clock
        self.limiter = WeightLimiter(name, clock, config.weight_headroom)
        self.time_offset_ms = 0  # server time − local time, learnt from GET time after a clock refusal
        self.halted: str | None = None
        self._ban_until = 0.0
        self._session: aiohttp.ClientSession | None = None
        self._v3: V3Signer | None = None
        self._v1: HmacSigner | None = None
        if config.auth == "v3":
            assert config.user
            assert config.signer
            assert config.private_key
            try:
                self._v3 = V3Signer(config.user, config.signer, config.private_key, config.chain_id)
            except ValueError as exc:  # the message names addresses only, never the key
                raise ConfigError([f"venues.{name}.private_key: {exc}"]) from None
        else:
            assert config.api_key
            assert config.api_secret
            recv_ms = int(config.recv_window.total_seconds() * 1000)
            self._v1 = HmacSigner(config.api_key, config.api_secret, recv_ms)

    # -- paths and clock -----------------------------------------------------------------------------------------

    def path(self, endpoint: str) -> str:
        if self._v3 is not None:
            return f"/fapi/v3/{endpoint}"
        return _V1_PATHS.get(endpoint, f"/fapi/v1/{endpoint}")

    def now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000) + self.time_offset_ms

    def _now_us(self) -> int:
        now = self.clock.now()
        return int(now.timestamp()) * 1_000_000 + now.microsecond + self.time_offset_ms * 1000

    async def sync_time(self) -> None:
        """Learn the offset between Aster's clock and ours (used for V1 timestamps and V3 nonces)."""
        before = self.clock.monotonic()
        local = self.clock.now().timestamp() * 1000
        data = await self.call("GET", "time", weight=1, into=lambda d: read(d, ServerTime))
        elapsed_ms = (self.clock.monotonic() - before) * 1000
        self.time_offset_ms = int(data.serverTime - (local + elapsed_ms / 2))
        # Nonces sent on the wrong clock were refused, so they need not be outgrown: start again from Aster's time.
        NONCES.rewind(self._now_us())
        logger.bind(venue=self.name).info("server time offset {} ms", self.time_offset_ms)

    # -- session ------------------------------------------------------------------------------------------------

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=self.config.timeout.total_seconds() + self.config.connect_timeout.total_seconds(),
                connect=self.config.connect_timeout.total_seconds(),
                sock_read=self.config.timeout.total_seconds(),
            )
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    @property
    def session(self) -> aiohttp.ClientSession:
        return self._open()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- halting after a 418 --------------------------------------------------------------------------------------

    def _ban(self, seconds: float, message: str) -> None:
        self._ban_until = max(self._ban_until, self.clock.monotonic() + seconds)
        self.limiter.back_off(seconds)
        self.halted = message
        logger.bind(venue=self.name).critical(
            "ALERT: Aster banned this IP (HTTP 418) for {:.0f}s; trading on this venue is halted: {}", seconds, message
        )

    def ban_remaining(self) -> float:
        """Seconds left of the current IP ban (0 when none)."""
        return max(0.0, self._ban_until - self.clock.monotonic())

    def resume_trading(self) -> None:
        """Lift the halt after a ban (an operator's decision); the ban's own duration still applies."""
        self.halted = None

    def _check_halt(self, order: bool, reduce_only: bool) -> None:
        if self.halted is None:
            return
        left = self._ban_until - self.clock.monotonic()
        if left > 0:
            raise VenueHalted(f"IP banned for another {left:.0f}s ({self.halted})", venue=self.name, status=418)
        if order and not reduce_only:
            raise VenueHalted(
                f"trading halted after an IP ban ({self.halted}); only reduce-only orders are sent until an operator "
                "resumes trading",
                venue=self.name,
                status=418,
            )

    # -- requests -------------------------------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        endpoint: str,
        params: dict[str, str] | None = None,
        *,
        signed: bool = False,
        key_only: bool = False,
        weight: int = 1,
        order: bool = False,
        reduce_only: bool = False,
        changes_orders: bool = False,
        client_order_id: str | None = None,
        into: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON, or `into(json)` (a reader of `records`).

        `order`: counts against the order budget and is refused while halted (unless `reduce_only`).
        `changes_orders`: a lost reply is `AmbiguousOutcome` (with `client_order_id`), not `VenueUnavailable`.
        `key_only`: V1 user-stream calls carry the API key header but no signature.
        `into`: turns the JSON into typed records, raising `decode.Malformed` on anything untrustworthy; that (or a
        body that is not JSON) is `VenueUnavailable`, or `AmbiguousOutcome` when `changes_orders`.
        """
        retries = 0
        while True:
            try:
                return await self._once(
                    method,
                    self.path(endpoint),
                    params or {},
                    signed=signed,
                    key_only=key_only,
                    weight=weight,
                    order=order,
                    reduce_only=reduce_only,
                    changes_orders=changes_orders,
                    client_order_id=client_order_id,
                    into=into,
                )
            except _Retry as retry:
                if retries >= self.config.max_retries_on_clock:
                    raise retry.error from None
                retries += 1
                logger.bind(venue=self.name).warning("{}; resynchronising the clock and retrying", retry.error)
                await self.sync_time()

    async def _once(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        *,
        signed: bool,
        key_only: bool,
        weight: int,
        order: bool,
        reduce_only: bool,
        changes_orders: bool,
        client_order_id: str | None,
        into: Callable[[Any], Any] | None,
    ) -> Any:
        self._check_halt(order, reduce_only)
        self.limiter.acquire(weight, order=order, priority=reduce_only)
        headers: dict[str, str] = {}
        if signed and self._v3 is not None:
            payload = self._v3.sign(params, NONCES.next(self._now_us()))
        elif signed and self._v1 is not None:
            payload = self._v1.sign(params, self.now_ms())
        else:
            payload = encode_params(params)
        if self._v1 is not None and (signed or key_only):
            headers["X-MBX-APIKEY"] = self._v1.api_key.reveal()
        url = self.config.rest_url + path
        what = f"{method} {path}"
        sent = False
        try:
            if method == "GET":
                request = self.session.request(
                    method, URL(f"{url}?{payload}" if payload else url, encoded=True), headers=headers
                )
            else:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                request = self.session.request(method, URL(url, encoded=True), data=payload.encode(), headers=headers)
            async with request as response:
                sent = True
                body = await _read_body(response)
                status, reply_headers = response.status, response.headers
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Never connected: the request did not leave this machine.
            raise VenueUnavailable(f"cannot connect ({what}): {_describe(exc)}", venue=self.name) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # whatever the transport raised once the request may have left: typed, never raw
            detail = f"{what}: {_describe(exc)}"
            if changes_orders:
                raise AmbiguousOutcome(
                    f"reply lost after sending ({detail}); reconcile by client order id",
                    venue=self.name,
                    client_order_id=client_order_id,
                ) from None
            raise VenueUnavailable(
                f"no usable reply ({detail}{'' if sent else ', before a reply'})", venue=self.name
            ) from None
        self.limiter.observe(reply_headers)
        data: Any = None
        garbled: Malformed | None = None
        try:
            data = parse(body)
        except Malformed as exc:
            garbled = exc
        if 200 <= status < 300:
            try:
                if garbled is not None:
                    raise garbled
                return into(data) if into is not None else data
            except Malformed as exc:
                raise self._malformed(what, exc, changes_orders, client_order_id) from None
        code: int | None = None
        message = body[:300].decode("utf-8", "replace") if garbled is not None else ""
        if isinstance(data, dict):
            raw_code = data.get("code")
            if isinstance(raw_code, int) and not isinstance(raw_code, bool) and -100_000 < raw_code < 100_000:
                code = raw_code
            raw_message = data.get("msg")
            message = raw_message[:300] if isinstance(raw_message, str) else message
        retry_after = _retry_after(reply_headers)
        if status == 418:
            self._ban(retry_after if retry_after is not None else self.config.ban_default.total_seconds(), message)
        elif status == 429:
            self.limiter.back_off(retry_after if retry_after is not None else 1.0)
        error = error_for(
            self.name,
            status,
            code,
            f"{what}: {redact(message)}" if message else what,
            changes_orders=changes_orders,
            client_order_id=client_order_id,
            retry_after=retry_after,
        )
        if code in _RETRY_CODES and status < 500:
            raise _Retry(error)
        raise error

    def _malformed(self, what: str, exc: Malformed, changes_orders: bool, client_order_id: str | None) -> VenueError:
        """A 2xx reply that cannot be trusted: after a request that may have changed orders, the outcome is unknown."""
        text = f"{what}: malformed reply at {exc.where}: {redact(exc.why)}"
        if changes_orders:
            return AmbiguousOutcome(
                f"{text}; reconcile by client order id", venue=self.name, client_order_id=client_order_id
            )
        return VenueUnavailable(text, venue=self.name)


async def _read_body(response: aiohttp.ClientResponse) -> bytes:
    """The reply's bytes, refusing more than `MAX_BODY` (a hostile or broken server cannot exhaust memory)."""
    declared = response.content_length
    if declared is not None and declared > MAX_BODY:
        raise ValueError(f"reply of {declared} bytes is over the {MAX_BODY}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > MAX_BODY:
            raise ValueError(f"reply over the {MAX_BODY}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    # A ban lasts at most 3 days (Aster's docs); anything else in the header is not a duration.
    return min(max(0.0, seconds), 3 * 86_400.0) if math.isfinite(seconds) else None


def _describe(exc: BaseException) -> str:
    """An exception's text with every known secret masked (aiohttp may echo a request)."""
    return redact(f"{type(exc).__name__}: {exc}")
