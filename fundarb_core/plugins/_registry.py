"""Typed registrars: what plugins register, under unique names, with the plugin that registered it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Literal, Protocol

import attrs

from fundarb_core.errors import PluginError

__all__ = ["CATEGORIES", "HOOK_FOR", "TRAITS", "Category", "Register", "Registration", "Registry"]

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


# Properties a registration may declare, per category, with their types and defaults.
TRAITS: Final[Mapping[Category, Mapping[str, bool]]] = {
    "venues": {"simulated": False},  # the venue runs on the run's clock: a run of only such venues is simulated
    "close_policies": {},
    "risk_managers": {},
    "action_types": {"closes_position": False},  # the action closes its position: it may be an exit plan's close
    "transfer_handlers": {},
    "observers": {},
}


@attrs.frozen
class Registration:
    """One thing a plugin registered: its unique `name`, the attrs class for its config, its factory, and the
    properties it declared (`traits`, see `TRAITS`)."""

    category: Category
    name: str
    config_cls: type[Any] | None
    factory: Callable[..., Any]
    plugin: str
    traits: Mapping[str, bool] = attrs.field(factory=dict)

    def trait(self, key: str) -> bool:
        return bool(self.traits.get(key, TRAITS[self.category].get(key, False)))


class Register(Protocol):
    """The callable a registration hook receives: `register(name, config_cls, factory, **traits)`.

    - venues: `factory(venue_id, config, context: VenueContext) -> Venue`; trait `simulated`;
    - close policies: `factory(config, open_offset_bps) -> ClosePolicy`;
    - risk managers: `factory(config) -> RiskManager`;
    - action types: `factory(context: ActionContext) -> ActionHandler` (config_cls: the details class); trait
      `closes_position`;
    - transfer handlers: `factory(config, context: ActionContext) -> TransferHandler`.
    """

    def __call__(
        self, name: str, config_cls: type[Any] | None, factory: Callable[..., Any], **traits: bool
    ) -> None: ...


class Registry:
    """Everything registered, by category and name."""

    def __init__(self) -> None:
        self._items: dict[Category, dict[str, Registration]] = {c: {} for c in CATEGORIES}

    def registrar(self, category: Category, plugin: str) -> Register:
        """Return the `register` callable handed to `plugin`'s hook for `category`."""

        def register(name: str, config_cls: type[Any] | None, factory: Callable[..., Any], **traits: bool) -> None:
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
            for key, value in traits.items():
                if key not in TRAITS[category]:
                    allowed = ", ".join(sorted(TRAITS[category])) or "none"
                    raise PluginError(
                        f"plugin {plugin}: {NOUN[category]} {name!r} declares unknown trait {key!r} "
                        f"(a {NOUN[category]} may declare: {allowed})",
                        plugin=plugin,
                    )
                if not isinstance(value, bool):
                    raise PluginError(
                        f"plugin {plugin}: {NOUN[category]} {name!r} trait {key} must be true or false, "
                        f"found {value!r}",
                        plugin=plugin,
                    )
            self._items[category][name] = Registration(category, name, config_cls, factory, plugin, dict(traits))

        return register

    def get(self, category: Category, name: str) -> Registration:
        """Return the registration, or raise `PluginError` listing what is known."""
        try:
            return self._items[category][name]
        except KeyError:
            known = ", ".join(sorted(self._items[category])) or "none"
            raise PluginError(f"unknown {NOUN[category]} {name!r} (known: {known})") from None

    def closes_position(self, action_type: str) -> bool:
        """Whether the registered action type declares that it closes its position (unknown types: False)."""
        item = self._items["action_types"].get(action_type)
        return item is not None and item.trait("closes_position")

    def simulated(self, venue_kind: str) -> bool:
        """Whether the venue kind declares that it runs on the run's clock (unknown kinds: False)."""
        item = self._items["venues"].get(venue_kind)
        return item is not None and item.trait("simulated")

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
