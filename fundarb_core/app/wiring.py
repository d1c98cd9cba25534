"""What the bot is built from: the configured venues, close policy and risk manager, made by their plugins."""

from __future__ import annotations

from fundarb_core.config import Config
from fundarb_core.errors import ConfigError
from fundarb_core.execution import ClosePolicy
from fundarb_core.plugins import Plugins
from fundarb_core.strategy.risk import RiskManager
from fundarb_core.venues import Venue, VenueContext

__all__ = ["build_venues", "close_policy", "risk_manager"]


def build_venues(config: Config, plugins: Plugins, context: VenueContext) -> dict[str, Venue]:
    """Build every configured venue through its registered factory."""
    venues: dict[str, Venue] = {}
    for name, section in config.venues.items():
        registration = plugins.registry.get("venues", section.kind)
        venues[name] = registration.factory(name, section.config, context)
    return venues


def close_policy(config: Config, plugins: Plugins) -> ClosePolicy:
    """The configured close policy (default `maker_first`)."""
    section = config.close_policy
    kind = section.kind if section is not None else "maker_first"
    if ("close_policies", kind) not in plugins.registry:
        raise ConfigError([f"close_policy.kind: close policy {kind!r} is not installed{plugins.broken_hint()}"])
    registration = plugins.registry.get("close_policies", kind)
    settings = (
        section.config if section is not None else (registration.config_cls() if registration.config_cls else None)
    )
    policy: ClosePolicy = registration.factory(settings, config.strategy.limit_offset_bps)
    return policy


def risk_manager(config: Config, plugins: Plugins) -> RiskManager | None:
    """The configured risk manager, or None (the closer then uses the default exit rules)."""
    section = config.risk_manager
    if section is None:
        return None
    manager: RiskManager = plugins.registry.get("risk_managers", section.kind).factory(section.config)
    return manager
