"""Nonce management as a state machine against a model venue: never a reused nonce, never a blocking gap.

The model venue accepts a transaction only with the key's next nonce. Faults: refusals that do or do not consume
the nonce (both readings of an undocumented rule), replies lost after or before execution, rate limits, and other
clients using the same key. Whatever happened before, the next healthy transaction goes through.
"""

from __future__ import annotations

import asyncio

import pytest
from fundarb_venue_lighter.nonces import InvalidNonce, NonceManager
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from fundarb_core.errors import AmbiguousOutcome, RateLimited, VenueRejected, VenueUnavailable
from fundarb_core.model import RejectReason

KEYS = st.sampled_from([3, 4])


class NonceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.venue: dict[int, int] = {3: 17, 4: 0}  # the venue's next nonce per key
        self.executed: dict[int, set[int]] = {3: set(), 4: set()}  # nonces our transactions consumed
        self.handed: list[tuple[int, int]] = []
        self.fetches = 0
        self.manager = NonceManager(self._fetch, venue="model")

    async def _fetch(self, key: int) -> int:
        self.fetches += 1
        return self.venue[key]

    def teardown(self) -> None:
        self.loop.close()

    def _send(self, key: int, outcome: str) -> object:
        async def attempt(nonce: int) -> str:
            assert nonce not in self.executed[key], f"nonce {nonce} of key {key} handed out again after it executed"
            self.handed.append((key, nonce))
            if outcome == "lost-before":
                raise AmbiguousOutcome("request lost before the venue", venue="model")
            if nonce != self.venue[key]:
                raise InvalidNonce()
            if outcome == "ok":
                self.venue[key] += 1
                self.executed[key].add(nonce)
                return "ok"
            if outcome == "lost-after":
                self.venue[key] += 1
                self.executed[key].add(nonce)
                raise AmbiguousOutcome("reply lost", venue="model")
            if outcome == "refused-consuming":
                self.venue[key] += 1  # [?] the other reading: a refusal consumes the nonce (not "executed")
                raise VenueRejected("refused", venue="model", reason=RejectReason.INSUFFICIENT_MARGIN)
            if outcome == "refused":
                raise VenueRejected("refused", venue="model", reason=RejectReason.INSUFFICIENT_MARGIN)
            raise RateLimited("slow down", venue="model")

        async def run() -> object:
            try:
                return await self.manager.submit(key, attempt)
            except (AmbiguousOutcome, VenueRejected, VenueUnavailable) as error:
                return error

        return self.loop.run_until_complete(run())

    @rule(key=KEYS)
    def healthy_transaction_goes_through(self, key: int) -> None:
        before = self.venue[key]
        assert self._send(key, "ok") == "ok", "a healthy transaction was blocked by an earlier failure"
        assert self.venue[key] == before + 1

    @rule(key=KEYS, outcome=st.sampled_from(["lost-after", "lost-before", "refused", "refused-consuming", "429"]))
    def faulty_transaction(self, key: int, outcome: str) -> None:
        result = self._send(key, outcome)
        expected = {
            "lost-after": AmbiguousOutcome,
            "lost-before": AmbiguousOutcome,
            "refused": VenueRejected,
            "refused-consuming": VenueRejected,
            "429": RateLimited,
        }[outcome]
        assert isinstance(result, expected), result

    @rule(key=KEYS, uses=st.integers(1, 3))
    def another_client_uses_the_key(self, key: int, uses: int) -> None:
        self.venue[key] += uses


TestNonceMachine = NonceMachine.TestCase
TestNonceMachine.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)


async def test_first_use_fetches_then_counts_locally() -> None:
    fetched: list[int] = []

    async def fetch(key: int) -> int:
        fetched.append(key)
        return 40

    manager = NonceManager(fetch)
    seen = [await manager.submit(3, _echo) for _ in range(3)]
    assert seen == [40, 41, 42]
    assert fetched == [3]


async def test_invalid_nonce_resyncs_and_resigns() -> None:
    venue = {"next": 10}

    async def fetch(key: int) -> int:
        return venue["next"]

    signed: list[int] = []

    async def attempt(nonce: int) -> int:
        signed.append(nonce)  # each attempt is a fresh signature with this nonce
        if nonce != venue["next"]:
            raise InvalidNonce()
        venue["next"] += 1
        return nonce

    manager = NonceManager(fetch)
    assert await manager.submit(3, attempt) == 10
    venue["next"] = 15  # someone else used the key five times
    assert await manager.submit(3, attempt) == 15
    assert signed == [10, 11, 15]
    assert manager.resyncs == 1


async def test_a_venue_that_keeps_refusing_nonces_is_reported_unavailable() -> None:
    async def fetch(key: int) -> int:
        return 0

    async def attempt(nonce: int) -> int:
        raise InvalidNonce()

    with pytest.raises(VenueUnavailable):
        await NonceManager(fetch, max_resyncs=2).submit(3, attempt)


async def test_concurrent_transactions_of_one_key_get_distinct_consecutive_nonces() -> None:
    async def fetch(key: int) -> int:
        return 0

    async def attempt(nonce: int) -> int:
        await asyncio.sleep(0)
        return nonce

    manager = NonceManager(fetch)
    results = await asyncio.gather(*(manager.submit(3, attempt) for _ in range(20)))
    assert sorted(results) == list(range(20))


async def _echo(nonce: int) -> int:
    return nonce
