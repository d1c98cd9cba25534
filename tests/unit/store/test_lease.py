"""One bot per store: a second bot is refused while the lease is live and starts once it has expired."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from datetime import timedelta

import attrs
import psutil
import pytest

from fundarb_core.clock import SimClock
from fundarb_core.errors import StoreError
from fundarb_core.store import LeaseHeld, LeaseLost, ProcessIdentity
from fundarb_core.store._lease import this_host

TTL = timedelta(seconds=30)


async def asleep_again(clock: SimClock, sleepers: int = 1) -> None:
    """Yield (no real sleep) until `sleepers` tasks wait on the clock, i.e. the woken heartbeat finished its I/O."""
    for _ in range(1_000_000):
        if clock.pending >= sleepers:
            return
        await asyncio.sleep(0)
    raise AssertionError("the heartbeat never went back to sleep")


async def test_a_second_bot_is_refused_naming_the_holder_and_expiry(store, open_store) -> None:
    await store.acquire_lease("bot-A@host1", TTL)
    second = await open_store()
    with pytest.raises(LeaseHeld) as info:
        await second.acquire_lease("bot-B@host2", TTL)
    message = str(info.value)
    assert isinstance(info.value, StoreError)
    assert "in use by bot 'bot-A@host1'" in message
    assert "expires 2026-01-01 00:00:30 UTC" in message
    assert info.value.holder.owner == "bot-A@host1"


async def test_after_the_lease_expires_a_new_bot_starts(store, open_store, clock) -> None:
    first = await store.acquire_lease("bot-A", TTL)
    second = await open_store()
    await clock.advance(29.9)
    with pytest.raises(LeaseHeld):
        await second.acquire_lease("bot-B", TTL)
    await clock.advance(0.1)  # exactly at expiry: the lease is over
    lease = await second.acquire_lease("bot-B", TTL)
    assert lease.owner == "bot-B"
    assert (await store.lease_holder()).owner == "bot-B"
    # The old holder learns it at its next renewal.
    with pytest.raises(LeaseLost, match="now held by 'bot-B'"):
        await first.renew()


async def test_each_bot_reads_time_from_its_own_clock(target, open_store) -> None:
    early, late = SimClock(), SimClock()
    await late.advance(3600)
    a = await open_store(clock_=early)
    b = await open_store(clock_=late)
    await a.acquire_lease("bot-A", TTL)
    # bot-B's clock says an hour has passed: for it, bot-A's lease ran out long ago.
    assert (await b.acquire_lease("bot-B", TTL)).owner == "bot-B"


async def test_the_heartbeat_keeps_the_lease_alive(store, open_store, clock) -> None:
    lease = await store.acquire_lease("bot-A", TTL)
    beat = asyncio.create_task(lease.heartbeat())
    second = await open_store()
    try:
        await asleep_again(clock)
        for _ in range(30):  # five minutes, ten times the ttl, one beat (ttl / 3) at a time
            await clock.advance(10)
            await asleep_again(clock)
            with pytest.raises(LeaseHeld):
                await second.acquire_lease("bot-B", TTL)
        assert lease.expires_at == clock.now() + TTL
    finally:
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)
    await clock.advance(30)  # heartbeat stopped (the bot hung): the lease runs out
    assert (await second.acquire_lease("bot-B", TTL)).owner == "bot-B"


async def test_a_heartbeat_that_finds_its_lease_taken_stops_with_lease_lost(store, open_store, clock) -> None:
    lease = await store.acquire_lease("bot-A", TTL)
    await clock.advance(31)  # bot-A stalled past its expiry...
    await (await open_store()).acquire_lease("bot-B", TTL)  # ...and bot-B took over
    beat = asyncio.create_task(lease.heartbeat())
    await asleep_again(clock)
    await clock.advance(10)
    with pytest.raises(LeaseLost, match="now held by 'bot-B'"):
        await asyncio.wait_for(beat, timeout=30)  # a safety net for a broken heartbeat, not a wait


async def test_the_heartbeat_rides_out_a_short_outage_but_not_a_long_one(store, clock, monkeypatch) -> None:
    lease = await store.acquire_lease("bot-A", TTL)
    real_renew = lease.renew
    outage = {"left": 1}

    async def flaky_renew() -> None:
        if outage["left"]:
            outage["left"] -= 1
            raise StoreError("store unreachable (simulated)")
        await real_renew()

    monkeypatch.setattr(lease, "renew", flaky_renew)
    beat = asyncio.create_task(lease.heartbeat())
    await asleep_again(clock)
    await clock.advance(10)  # the renewal fails; the lease (valid until 30 s) is kept, retried at 20 s
    await asleep_again(clock)
    await clock.advance(10)
    await asleep_again(clock)
    assert not beat.done()
    assert lease.expires_at == clock.now() + TTL  # renewed at 20 s
    outage["left"] = 10**6  # now the store stays unreachable
    await clock.advance(50)  # beats at 30, 40, 50 fail; at 50 s the lease has run out
    with pytest.raises(LeaseLost, match="could not renew its lease before it expired"):
        await asyncio.wait_for(beat, timeout=30)


async def test_release_lets_the_next_bot_start_at_once(store, open_store) -> None:
    async with await store.acquire_lease("bot-A", TTL):
        assert (await store.lease_holder()).owner == "bot-A"
    assert await store.lease_holder() is None
    assert (await (await open_store()).acquire_lease("bot-B", TTL)).owner == "bot-B"


async def test_lease_arguments_are_checked(store) -> None:
    with pytest.raises(ValueError, match="ttl must be positive"):
        await store.acquire_lease("bot", 0)
    with pytest.raises(ValueError, match="owner must not be empty"):
        await store.acquire_lease(" ", TTL)


# -- the holder's process: a restart on the same host takes over at once from a holder that is gone ----------------


def _exited_process() -> ProcessIdentity:
    """A process of this host that ran and is gone now (its pid reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(child.pid).create_time()
    child.wait()
    return ProcessIdentity(this_host(), child.pid, started)


async def test_the_lease_names_its_process(store) -> None:
    await store.acquire_lease("bot-A", TTL)
    holder = await store.lease_holder()
    assert ProcessIdentity.of(holder) == ProcessIdentity.current()
    assert not ProcessIdentity.current().gone()


async def test_a_dead_holder_on_this_host_is_taken_over_at_once(store, open_store) -> None:
    dead = _exited_process()
    assert dead.gone()
    first = await store.acquire_lease("bot-A", TTL, process=dead)
    lease = await (await open_store()).acquire_lease("bot-B", TTL)  # no time passed: the lease is live
    assert lease.owner == "bot-B"
    assert ProcessIdentity.of(await store.lease_holder()) == ProcessIdentity.current()
    with pytest.raises(LeaseLost, match="now held by 'bot-B'"):
        await first.renew()


async def test_a_reused_pid_is_not_the_holder(store, open_store) -> None:
    me = ProcessIdentity.current()
    earlier = attrs.evolve(me, started=me.started - 3600)  # this pid, but a process started an hour earlier
    assert earlier.gone()
    await store.acquire_lease("bot-A", TTL, process=earlier)
    assert (await (await open_store()).acquire_lease("bot-B", TTL)).owner == "bot-B"


async def test_a_live_holder_or_one_on_another_host_waits_for_expiry(store, open_store, clock) -> None:
    elsewhere = attrs.evolve(_exited_process(), host=f"not-{socket.gethostname()}")
    if this_host() != socket.gethostname():  # Linux: a pid is looked up only in the pid namespace that named it
        for beside in (f"{socket.gethostname()} pid:[1]", socket.gethostname()):  # another container of this name
            assert not attrs.evolve(_exited_process(), host=beside).gone()
    assert not elsewhere.gone()  # another host's processes cannot be checked
    await store.acquire_lease("bot-A", TTL, process=elsewhere)
    second = await open_store()
    with pytest.raises(LeaseHeld, match=rf"pid {elsewhere.pid} on not-"):
        await second.acquire_lease("bot-B", TTL)
    await clock.advance(TTL.total_seconds())
    assert (await second.acquire_lease("bot-B", TTL)).owner == "bot-B"
    with pytest.raises(LeaseHeld):  # this process is alive: a second bot in it is refused
        await (await open_store()).acquire_lease("bot-C", TTL)
