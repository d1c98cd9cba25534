"""Nonce management per API key: fundarb, not the SDK, decides which nonce each transaction carries.

Lighter accepts a transaction only with the API key's next nonce (+1 per transaction). The rules kept here:

- Nonces come from the venue (`nextNonce`) the first time a key is used and after every "invalid nonce" answer;
  in between they are counted locally, one per transaction, under a per-key lock held from signing until the
  venue answers, so transactions of one key reach the venue in nonce order and no nonce is handed out twice.
- A transaction the venue definitely did not take (refused before sequencing, rate-limited, never sent) gives its
  nonce back, so the next transaction fills the slot instead of leaving a gap that would block every later one.
  [?] Whether a refused transaction consumes its nonce is not documented; the SDK's own optimistic manager assumes
  it does not (`acknowledge_failure`). If it did, the next transaction is answered "invalid nonce" and the key is
  re-synchronised: correct under both readings, at the cost of one round trip.
- A transaction whose reply was lost keeps its nonce (assumed consumed). If it was not, the next transaction is
  answered "invalid nonce", the key is re-synchronised and that transaction re-signed with the venue's nonce.
- "Invalid nonce" re-synchronises from `nextNonce` and re-signs, a bounded number of times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fundarb_core.errors import AmbiguousOutcome, VenueRejected, VenueUnavailable

__all__ = ["InvalidNonce", "NonceManager"]

T = TypeVar("T")


class InvalidNonce(Exception):
    """The venue answered that the transaction's nonce is not the key's next one."""

    def __init__(self, message: str = "invalid nonce") -> None:
        super().__init__(message)


class NonceManager:
    """Hands out nonces per API key and re-synchronises with the venue when it disagrees."""

    def __init__(self, fetch: Callable[[int], Awaitable[int]], *, venue: str = "lighter", max_resyncs: int = 3) -> None:
        self._fetch = fetch
        self.venue = venue
        self.max_resyncs = max_resyncs
        self._next: dict[int, int] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.resyncs = 0  # how many times a key was re-synchronised (telemetry and tests)

    def peek(self, key: int) -> int | None:
        """The nonce the next transaction of `key` will carry, if known."""
        return self._next.get(key)

    def forget(self, key: int) -> None:
        """Drop what is known of `key`: its next transaction fetches the nonce from the venue first."""
        self._next.pop(key, None)

    async def submit(self, key: int, attempt: Callable[[int], Awaitable[T]]) -> T:
        """Run `attempt(nonce)` (sign with that nonce and send) under the key's lock; return its result.

        `attempt` raises `InvalidNonce` when the venue refuses the nonce: the key is re-synchronised and `attempt`
        runs again with the venue's nonce (so the transaction is signed again). Any other error passes through,
        after the nonce is given back (definitely not taken) or kept (`AmbiguousOutcome`: maybe taken).
        """
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            for _ in range(self.max_resyncs + 1):
                if key not in self._next:
                    self._next[key] = await self._fetch(key)
                nonce = self._next[key]
                self._next[key] = nonce + 1
                try:
                    return await attempt(nonce)
                except InvalidNonce:
                    self.resyncs += 1
                    self._next.pop(key, None)  # fetched again at the top of the loop
                except AmbiguousOutcome:
                    raise  # maybe consumed: keep counting from nonce + 1
                except (VenueRejected, VenueUnavailable):
                    # Definitely not taken: refused before sequencing, rate-limited, or never sent.
                    if self._next.get(key) == nonce + 1:
                        self._next[key] = nonce
                    raise
                except BaseException:
                    # Unknown failure or cancellation mid-send: the nonce may or may not be taken, so trust only
                    # the venue from now on (the next transaction fetches `nextNonce`).
                    self._next.pop(key, None)
                    raise
            raise VenueUnavailable(
                f"the venue refused {self.max_resyncs + 1} nonces in a row for API key {key}", venue=self.venue
            )
