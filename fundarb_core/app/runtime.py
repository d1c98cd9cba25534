"""Start-up for commands that need the real thing: config → plugins → clock → store → venues → bot."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from fundarb_core.app.bot import Bot
from fundarb_core.app.observers import Observers
from fundarb_core.clock import EPOCH, Clock, SimClock, WallClock
from fundarb_core.config import Config
from fundarb_core.plugins import Plugins
from fundarb_core.store import Store, default_data_dir
from fundarb_core.venues import VenueContext

__all__ = ["Runtime", "all_simulated"]


def all_simulated(config: Config, plugins: Plugins) -> bool:
    """Whether every configured venue's kind declares that it runs on the run's clock (sim, replay, test fakes)."""
    return bool(config.venues) and all(plugins.registry.simulated(s.kind) for s in config.venues.values())


@attrs.define
class Runtime:
    """What a running bot is made of; `close()` releases it."""

    config: Config
    plugins: Plugins
    clock: Clock
    store: Store
    data_dir: Path
    bot: Bot | None = None
    observers: Observers | None = None

    @property
    def clock_file(self) -> Path:
        return self.data_dir / "sim" / "clock.json"

    @classmethod
    async def open(cls, config: Config, plugins: Plugins, *, build_bot: bool = True, observe: bool = False) -> Runtime:
        """Open the store and build the bot; with `observe`, also start the configured `[observers.*]`.

        Only the process that runs the bot observes it (`fundarb run`): a one-off command (`fundarb scan`) must not
        start a second metrics server or notifier beside the running bot's.
        """
        data_dir = (config.bot.data_dir or default_data_dir()).expanduser()
        data_dir.mkdir(parents=True, exist_ok=True)
        clock: Clock
        if all_simulated(config, plugins):
            # Simulated time resumes where the last run stopped, so a restarted paper run never goes back in time.
            start = _saved_sim_time(data_dir / "sim" / "clock.json") or EPOCH
            clock = SimClock(start)
        else:
            clock = WallClock()
        store = await Store.open(config.store.url, data_dir=data_dir, clock=clock)
        runtime = cls(config, plugins, clock, store, data_dir)
        if build_bot:
            create = Bot.create(config, plugins, clock, store, VenueContext(clock, data_dir=data_dir))
            # Simulated venues answer in simulated time: drive the clock while they load.
            runtime.bot = await (clock.run(create) if isinstance(clock, SimClock) else create)
        if build_bot and observe:  # observers live as long as the bot does (a notifier's queue, a metrics server)
            assert runtime.bot is not None
            try:
                runtime.observers = await Observers.start(config, plugins, clock, store, data_dir)
            except BaseException:
                await runtime.bot.shutdown()
                await store.close()
                raise
        return runtime

    def save_sim_time(self) -> None:
        if isinstance(self.clock, SimClock):
            self.clock_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.clock_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"now": self.clock.now().isoformat()}), encoding="utf-8")
            tmp.replace(self.clock_file)

    async def close(self) -> None:
        self.save_sim_time()
        if self.observers is not None:
            await self.observers.aclose()
        await self.store.close()


def _saved_sim_time(path: Path) -> datetime | None:
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return datetime.fromisoformat(data["now"])
