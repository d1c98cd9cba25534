"""Observers with settings: built from `[observers.<id>]` sections for the life of a running bot.

A plugin registers an observer kind through `fundarb_register_observers`; each configured section becomes one
object whose `on_event` (and `on_tick`) the plugin manager calls like any `fundarb_on_event` implementation.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs
from loguru import logger

from fundarb_core.clock import Clock
from fundarb_core.config import Config
from fundarb_core.events import Event
from fundarb_core.hookspecs import hookimpl
from fundarb_core.plugins import Plugins
from fundarb_core.store import Store

__all__ = ["Observer", "ObserverContext", "Observers"]


@attrs.frozen
class ObserverContext:
    """What an observer factory may use: the bot's clock, its store (read only, please) and data directory."""

    name: str  # the section's id: `[observers.<name>]`
    clock: Clock
    store: Store | None = None
    data_dir: Path | None = None


@runtime_checkable
class Observer(Protocol):
    """What a registered observer factory returns. `on_tick(at, seconds)`, `start()` and `aclose()` are optional."""

    def on_event(self, event: Event) -> None: ...


class _Hooks:
    """The pluggy face of one observer object."""

    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    @hookimpl
    def fundarb_on_event(self, event: Any) -> None:
        self.observer.on_event(event)

    @hookimpl
    def fundarb_on_tick(self, at: datetime, seconds: float) -> None:
        on_tick = getattr(self.observer, "on_tick", None)
        if on_tick is not None:
            on_tick(at, seconds)


@attrs.define
class Observers:
    """The observers built from a config, registered with the plugin manager until `aclose()`."""

    plugins: Plugins
    running: dict[str, Observer] = attrs.field(factory=dict)  # plugin-manager name -> observer

    @classmethod
    async def start(
        cls, config: Config, plugins: Plugins, clock: Clock, store: Store | None = None, data_dir: Path | None = None
    ) -> Observers:
        """Build, start and register every configured observer; on a failure, close the ones already started."""
        observers = cls(plugins)
        try:
            for name, section in config.observers.items():
                registration = plugins.registry.get("observers", section.kind)
                observer = registration.factory(section.config, ObserverContext(name, clock, store, data_dir))
                start = getattr(observer, "start", None)
                if start is not None:
                    await start()
                hook_name = f"observer:{name}"
                observers.running[hook_name] = observer
                plugins.register(_Hooks(observer), name=hook_name, distribution=registration.plugin)
        except BaseException:
            await observers.aclose()
            raise
        return observers

    def get(self, name: str) -> Observer:
        """Return the observer built from `[observers.<name>]`."""
        return self.running[f"observer:{name}"]

    async def aclose(self) -> None:
        """Unregister every observer, then let each one finish (flush a queue, stop a server)."""
        running, self.running = self.running, {}
        for hook_name, observer in running.items():
            if self.plugins.pm.has_plugin(hook_name):
                self.plugins.unregister(hook_name)
            aclose = getattr(observer, "aclose", None)
            if aclose is None:
                continue
            try:
                await aclose()
            except Exception as exc:  # one observer's shutdown must not keep the others (or the store) open
                logger.opt(exception=exc).error("observer {} failed to close", hook_name)
