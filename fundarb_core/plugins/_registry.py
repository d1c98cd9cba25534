"""Typed registrars: what plugins register, under unique names, with the plugin that registered it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Literal, Protocol

import attrs

from fundarb_core.errors import PluginError

__all__ = ["CATEGORIES", "HOOK_FOR", "Category", "Register", "Registration", "Registry"]

Category = Literal["venues", "close_policies", "risk_managers", "action_types", "transfer_handlers", "observers"]

CATEGORIES: Final[tuple[Category, ...]] = (
    "venues",
    "close_policies",
    "risk_managers",
    "action_types",
    "transfer_handlers",
    "observers",
)

HOOK_FOR: Final[Mapping[Category, str]] = {
    "venues": "fundarb_register_venues",
    "close_policies": "fundarb_register_close_policies",
    "risk_managers": "fundarb_register_risk_managers",
    "action_types": "fundarb_register_action_types",
    "transfer_handlers": "fundarb_register_transfer_handlers",
    "observers": "fundarb_register_observers",
}

# What one item is called in messages ("venue kind 'aster'").
NOUN: Final[Mapping[Category, str]] = {
    "venues": "venue kind",
    "close_policies": "close policy",
    "risk_managers": "risk manager",
    "action_types": "action type",
    "transfer_handlers": "transfer handler",
    "observers": "observer kind",
}


@attrs.frozen
class Registration:
    """One thing a plugin registered: its unique `name`, the attrs class for its config, and its factory."""

    category: Category
    name: str
    config_cls: type[Any] | None
    factory: Callable[..., Any]
    plugin: str


class Register(Protocol):
    """The callable a registration hook receives."""

    def __call__(self, name: str, config_cls: type[Any] | None, factory: Callable[..., Any]) -> None: ...


class Registry:
    """Everything registered, by category and name."""

    def __init__(self) -> None:
        self._items: dict[Category, dict[str, Registration]] = {c: {} for c in CATEGORIES}

    def registrar(self, category: Category, plugin: str) -> Register:
        """Return the `register` callable handed to `plugin`'s hook for `category`."""

        def register(name: str, config_cls: type[Any] | None, factory: Callable[..., Any]) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {plugin} registered a {NOUN[category]} without a name", plugin=plugin)
            if config_cls is not None and not attrs.has(config_cls):
                raise PluginError(
                    f"plugin {plugin}: {NOUN[category]} {name!r} config class must be an attrs class, "
                    f"got {config_cls!r}",
                    plugin=plugin,
                )
            if not callable(factory):
                raise PluginError(f"plugin {plugin}: {NOUN[category]} {name!r} factory is not callable", plugin=plugin)
            existing = self._items[category].get(name)
            if existing is not None:
                raise PluginError(
                    f"{NOUN[category]} {name!r} is registered twice: by plugin {existing.plugin} "
                    f"and by plugin {plugin}",
                    plugin=plugin,
                )
            self._items[category][name] = Registration(category, name, config_cls, factory, plugin)

        return register

    def get(self, category: Category, name: str) -> Registration:
        """Return the registration, or raise `PluginError` listing what is known."""
        try:
            return self._items[category][name]
        except KeyError:
            known = ", ".join(sorted(self._items[category])) or "none"
            raise PluginError(f"unknown {NOUN[category]} {name!r} (known: {known})") from None

    def names(self, category: Category) -> list[str]:
        return sorted(self._items[category])

    def by_plugin(self, plugin: str) -> dict[Category, list[str]]:
        """Return what `plugin` registered, by category (empty categories left out)."""
        out: dict[Category, list[str]] = {}
        for category, items in self._items.items():
            names = sorted(n for n, r in items.items() if r.plugin == plugin)
            if names:
                out[category] = names
        return out

    def __iter__(self) -> Iterator[Registration]:
        for items in self._items.values():
            yield from items.values()

    def __contains__(self, key: tuple[Category, str]) -> bool:
        category, name = key
        return name in self._items[category]
