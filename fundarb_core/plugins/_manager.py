"""The plugin manager: loads built-in and installed plugins and builds the registry from their hooks."""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any

import attrs
import pluggy
from loguru import logger

from fundarb_core import hookspecs
from fundarb_core._version import __version__
from fundarb_core.errors import PluginError
from fundarb_core.plugins._entry import (
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    LOAD_ENV,
    canonical_dist,
    command_entries,
    distribution_name,
    selects,
)
from fundarb_core.plugins._registry import CATEGORIES, HOOK_FOR, Registry

if TYPE_CHECKING:
    import click

__all__ = [
    "DEFAULT_PLUGINS",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "LOAD_ENV",
    "BrokenPlugin",
    "PluginInfo",
    "Plugins",
    "canonical_dist",
]

CORE_DIST = "fundarb-core"

# Built-in parts register through the same hooks as external plugins.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "fundarb_core.venues.sim.plugin",
    "fundarb_core.venues.replay.plugin",
    "fundarb_core.actions.plugin",
)


@attrs.frozen
class BrokenPlugin:
    """An installed plugin that could not be imported; the rest loaded without it."""

    distribution: str
    entry_point: str
    error: str


@attrs.frozen
class PluginInfo:
    """What `fundarb plugins` shows for one plugin."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    registered: Mapping[str, tuple[str, ...]]
    builtin: bool


@attrs.define
class _Origin:
    distribution: str
    version: str
    builtin: bool


class Plugins:
    """A typed facade over `pluggy.PluginManager("fundarb")`.

    `load()` is idempotent. The registry is built from the registration hooks on first use and rebuilt when a
    plugin is registered or unregistered, so tests can add and remove what they need.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.broken: list[BrokenPlugin] = []
        self._origins: dict[str, _Origin] = {}
        self._registry: Registry | None = None
        self._loaded_defaults = False
        self._loaded_entry_points = False
        self._environ: Mapping[str, str] | None = None

    # -- loading -----------------------------------------------------------------------------------------------

    def load(
        self,
        *,
        defaults: bool = True,
        entry_points: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> Plugins:
        """Load the built-in plugins and the installed ones (group `fundarb`), then `check()` them.

        `FUNDARB_LOAD_PLUGINS` (comma list of distributions; empty = none) chooses which installed plugins load,
        `FUNDARB_DISABLE_PLUGINS` leaves some out; both are read from `environ` (default: `os.environ`). A plugin
        that fails to import is recorded in `broken` and the rest load; a misspelled hook, a wrong hook signature,
        a duplicate registered name or a registration hook that raises stops loading with `PluginError`.
        """
        env = os.environ if environ is None else environ
        if defaults and not self._loaded_defaults:
            for module_name in DEFAULT_PLUGINS:
                module = importlib.import_module(module_name)
                self.register(module, name=module_name, distribution=CORE_DIST, version=__version__, builtin=True)
            self._loaded_defaults = True
        if entry_points and not self._loaded_entry_points:
            self._load_entry_points(env)
            self._environ = env
            self._loaded_entry_points = True
        self.check()
        return self

    def _load_entry_points(self, environ: Mapping[str, str]) -> None:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.value, e.name)):
            dist_name = distribution_name(ep)
            version = ep.dist.version if ep.dist is not None else "unknown"
            if not selects(dist_name, environ):
                continue
            # Two distributions may both call their entry point "plugin": keep both, the second one qualified.
            name = ep.name if not self.pm.has_plugin(ep.name) else f"{dist_name}:{ep.name}"
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take the others down
                error = f"{type(exc).__name__}: {exc}"
                self.broken.append(BrokenPlugin(dist_name, ep.name, error))
                logger.warning("plugin {} failed to load and was skipped: {}", dist_name, error)
                continue
            self.register(plugin, name=name, distribution=dist_name, version=version)

    def register(
        self,
        plugin: object,
        *,
        name: str | None = None,
        distribution: str | None = None,
        version: str = "",
        builtin: bool = False,
    ) -> str:
        """Register `plugin` (a module or an object with hook implementations) and return its name."""
        plugin_name = name or getattr(plugin, "__name__", None) or repr(plugin)
        dist = distribution or plugin_name
        try:
            registered = self.pm.register(plugin, name=plugin_name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {dist}: {exc}", plugin=dist) from exc
        except ValueError as exc:  # already registered under this name
            raise PluginError(f"plugin {dist}: {exc}", plugin=dist) from exc
        assert registered is not None
        self._origins[registered] = _Origin(dist, version, builtin)
        self._registry = None
        return registered

    def unregister(self, name: str) -> None:
        """Remove a plugin by name (tests use this to clean up what they registered)."""
        self.pm.unregister(name=name)
        self._origins.pop(name, None)
        self._registry = None

    def check(self) -> None:
        """Fail with the plugin's name if a hook implementation names no known hook, or registrations clash.

        Every misspelled hook is reported (one line each, with the closest real hook name); then the registry is
        built, so a duplicate name or a registration hook that raises also fails at start, not at first use.
        """
        known = [name for name in dir(hookspecs) if name.startswith(f"{hookspecs.PROJECT}_")]
        problems: list[str] = []
        first: str | None = None
        for hook_name, caller in sorted(vars(self.pm.hook).items()):
            if hook_name.startswith("_") or caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.optionalhook:
                    continue
                dist = self.distribution_of(impl.plugin_name)
                first = first or dist
                close = difflib.get_close_matches(hook_name, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                problems.append(
                    f"plugin {dist}: hook implementation {hook_name!r} in {impl.plugin_name} "
                    f"matches no fundarb hook{hint}"
                )
        if problems:
            raise PluginError("\n".join(problems), plugin=first)
        try:
            self.pm.check_pending()  # pluggy's own rules, in case they grow beyond the scan above
        except pluggy.PluginValidationError as exc:
            dist = self.distribution_of(self.pm.get_name(exc.plugin) or repr(exc.plugin))
            raise PluginError(f"plugin {dist}: {exc}", plugin=dist) from exc
        self._registry = self._build_registry()

    def distribution_of(self, plugin_name: str) -> str:
        """Return the distribution a plugin came from (its own name for plugins registered in-process)."""
        origin = self._origins.get(plugin_name)
        return origin.distribution if origin else plugin_name

    # -- the registry ------------------------------------------------------------------------------------------

    @property
    def registry(self) -> Registry:
        """What every plugin registered (built on first use)."""
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def _build_registry(self) -> Registry:
        registry = Registry()
        for category in CATEGORIES:
            caller = getattr(self.pm.hook, HOOK_FOR[category])
            for impl in caller.get_hookimpls():  # registration order
                dist = self.distribution_of(impl.plugin_name)
                register = registry.registrar(category, dist)
                try:
                    _call(impl, register=register)
                except PluginError:
                    raise
                except Exception as exc:
                    raise PluginError(
                        f"plugin {dist} failed in {HOOK_FOR[category]}: {type(exc).__name__}: {exc}", plugin=dist
                    ) from exc
        return registry

    def broken_hint(self) -> str:
        """A sentence naming the plugins that failed to load, for 'unknown kind' messages ('' when none did)."""
        if not self.broken:
            return ""
        parts = [f"plugin {b.distribution} failed to load ({b.error})" for b in self.broken]
        return "; " + "; ".join(parts)

    # -- other hooks -------------------------------------------------------------------------------------------

    def add_commands(self, cli: click.Group, *, reserved: Iterable[str] = ()) -> None:
        """Let plugins add CLI commands to `cli`; a name taken twice (or a `reserved` one) names both owners."""
        owner = dict.fromkeys(reserved, "fundarb-core")
        owner.update(dict.fromkeys(cli.commands, "fundarb-core"))
        for dist, commands in self._commands().items():
            for name, command in commands.items():
                if name in owner:
                    raise PluginError(
                        f"command {name!r} is added twice: by plugin {owner[name]} and by plugin {dist}", plugin=dist
                    )
                owner[name] = dist
                cli.add_command(command, name)

    def _commands(self) -> dict[str, dict[str, click.Command]]:
        """Ask each plugin, on its own, for its commands: distribution -> {name: command}."""
        import click

        out: dict[str, dict[str, click.Command]] = {}
        for impl in self.pm.hook.fundarb_register_commands.get_hookimpls():
            dist = self.distribution_of(impl.plugin_name)
            scratch = click.Group()
            try:
                _call(impl, cli=scratch)
            except Exception as exc:
                raise PluginError(
                    f"plugin {dist} failed in fundarb_register_commands: {type(exc).__name__}: {exc}", plugin=dist
                ) from exc
            out.setdefault(dist, {}).update(scratch.commands)
        return out

    def emit(self, event: Any) -> None:
        """Deliver an event to every observer; an observer that raises is logged, never propagated."""
        for impl in self.pm.hook.fundarb_on_event.get_hookimpls():
            try:
                _call(impl, event=event)
            except Exception as exc:
                logger.opt(exception=exc).error(
                    "event observer {} failed on {}", self.distribution_of(impl.plugin_name), event
                )

    def tick_done(self, at: datetime, seconds: float) -> None:
        """Tell every `fundarb_on_tick` observer that a tick finished; an observer that raises is logged."""
        for impl in self.pm.hook.fundarb_on_tick.get_hookimpls():
            try:
                _call(impl, at=at, seconds=seconds)
            except Exception as exc:
                logger.opt(exception=exc).error("tick observer {} failed", self.distribution_of(impl.plugin_name))

    # -- introspection -----------------------------------------------------------------------------------------

    def info(self) -> list[PluginInfo]:
        """Describe every loaded plugin: distribution, version, hooks it implements, what it registered."""
        self.registry  # noqa: B018 - builds the registry, so a clash fails here as everywhere else
        by_plugin = self._registered_by_plugin()
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda kv: kv[0]):
            if plugin is None:
                continue
            origin = self._origins.get(name, _Origin(name, "", False))
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or ()))
            registered = {k: tuple(v) for k, v in by_plugin.get(name, {}).items()}
            out.append(PluginInfo(name, origin.distribution, origin.version, hooks, registered, origin.builtin))
        return out

    def _registered_by_plugin(self) -> dict[str, dict[str, list[str]]]:
        """Ask each plugin, on its own, what it registers: plugin name -> {category: sorted names}.

        Per plugin, not per distribution: the core's built-in modules share one distribution but not what they
        register.
        """
        out: dict[str, dict[str, list[str]]] = {}
        for category in CATEGORIES:
            for impl in getattr(self.pm.hook, HOOK_FOR[category]).get_hookimpls():
                scratch = Registry()
                _call(impl, register=scratch.registrar(category, impl.plugin_name))
                names = scratch.by_plugin(impl.plugin_name).get(category, [])
                if names:
                    out.setdefault(impl.plugin_name, {})[category] = names
        for impl in self.pm.hook.fundarb_register_commands.get_hookimpls():
            scratch_cli = _click_group()
            try:
                _call(impl, cli=scratch_cli)
            except Exception as exc:
                dist = self.distribution_of(impl.plugin_name)
                raise PluginError(
                    f"plugin {dist} failed in fundarb_register_commands: {type(exc).__name__}: {exc}", plugin=dist
                ) from exc
            if scratch_cli.commands:
                out.setdefault(impl.plugin_name, {})["commands"] = sorted(scratch_cli.commands)
        if self._environ is not None:  # commands declared as `fundarb.commands` entry points, by distribution
            plugin_of: dict[str, str] = {}
            for name in sorted(self._origins):
                plugin_of.setdefault(self._origins[name].distribution, name)
            for entry in command_entries(self._environ):
                plugin = plugin_of.get(entry.distribution)
                if plugin is not None:
                    names = out.setdefault(plugin, {}).setdefault("commands", [])
                    names[:] = sorted({*names, entry.name})
        return out

    def modules(self) -> Iterable[ModuleType]:
        """Return the loaded plugins that are modules."""
        return (p for p in self.pm.get_plugins() if isinstance(p, ModuleType))

    def module_names(self) -> set[str]:
        """Return the names of the modules the loaded plugins live in (for enabling their logs)."""
        return {p.__name__ if isinstance(p, ModuleType) else type(p).__module__ for p in self.pm.get_plugins()}


def _click_group() -> click.Group:
    import click

    return click.Group()


def _call(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one hook implementation the way pluggy would: with only the arguments it declares."""
    return impl.function(*(kwargs[name] for name in impl.argnames))
