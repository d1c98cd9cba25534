"""Subprocess for the crash test: phase `open-and-close` is killed mid-close; phase `resume` finishes the close."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path

from fundarb_core.app.runtime import Runtime
from fundarb_core.execution import Urgency
from fundarb_core.model import ExitReason, PositionStatus

# The shared helpers live in this folder's conftest; load it by path (this runs as a plain script).
_spec = importlib.util.spec_from_file_location("bot_conftest", Path(__file__).with_name("conftest.py"))
assert _spec is not None
assert _spec.loader is not None
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)
bot_plugins, make_config = _conftest.bot_plugins, _conftest.make_config


async def main(phase: str, data_dir: Path) -> None:
    plugins = bot_plugins()
    config = make_config(
        data_dir, plugins, strategy={"symbols": ["BTC"], "max_positions": 1}, close_policy={"timeout": "60s"}
    )
    runtime = await Runtime.open(config, plugins)
    bot = runtime.bot
    assert bot is not None
    clock = runtime.clock
    journal = bot.orders.journal
    original = journal.record_intent

    async def announce(spec, cid, **kw):  # type: ignore[no-untyped-def]
        await original(spec, cid, **kw)
        print(json.dumps({"intent": cid, "reduce_only": spec.reduce_only}), flush=True)

    journal.record_intent = announce  # type: ignore[method-assign]
    original_state = journal.record_state

    async def announce_state(state):  # type: ignore[no-untyped-def]
        await original_state(state)
        print(json.dumps({"state": state.client_order_id, "reduce_only": state.reduce_only}), flush=True)

    journal.record_state = announce_state  # type: ignore[method-assign]

    async def open_and_close() -> None:
        await bot.tick(scan=True)
        (position,) = await runtime.store.positions.list_open()
        runtime.save_sim_time()
        print(json.dumps({"opened": position.id}), flush=True)
        await bot.book.close(position, ExitReason.MANUAL, Urgency.NORMAL)
        print(json.dumps({"unexpected": "close finished before the kill"}), flush=True)

    async def resume() -> None:
        report = await bot.reconciler.startup()
        for _ in range(20):
            await bot.tick(scan=False)
            if not await runtime.store.positions.list_open():
                break
        positions = await runtime.store.positions.list()
        orders = {
            name: {cid: [o.status.value, str(o.filled_qty), o.reduce_only] for cid, o in venue.orders.items()}  # type: ignore[attr-defined]
            for name, venue in bot.venues.items()
        }
        ledgers = {name: str(venue.ledger.position("BTC").qty) for name, venue in bot.venues.items()}  # type: ignore[attr-defined]
        intents = [o.client_order_id for o in await runtime.store.orders.list()]
        print(json.dumps({
            "report": report,
            "positions": [[p.id, p.status.value, p.details.get("close_attempt")] for p in positions],
            "orders": orders, "ledgers": ledgers, "intents": intents,
            "closed": all(p.status is not PositionStatus.OPEN for p in positions),
        }), flush=True)  # fmt: skip

    work = open_and_close() if phase == "open-and-close" else resume()
    await clock.run(work, speed=50.0)  # type: ignore[attr-defined]
    await bot.shutdown()
    await runtime.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
