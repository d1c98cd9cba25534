"""The plugin registers kind `lighter`, validates its section with key paths, and builds a full venue."""

from __future__ import annotations

import inspect

import pytest
from fundarb_venue_lighter import plugin
from fundarb_venue_lighter.config import LighterConfig

from fundarb_core.clock import SimClock
from fundarb_core.config import parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins
from fundarb_core.venues import REQUIRED_METHODS, Venue, VenueContext

KEY = "0x" + "ab" * 40  # the form of an API private key (40 bytes in hex)


def loaded() -> Plugins:
    manager = Plugins().load(entry_points=False)
    manager.register(plugin, name="lighter", distribution="fundarb-venue-lighter")
    return manager


def test_venue_kind_is_registered() -> None:
    registration = loaded().registry.get("venues", plugin.KIND)
    assert registration.config_cls is LighterConfig
    assert registration.plugin == "fundarb-venue-lighter"


def test_section_is_validated_with_key_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIGHTER_KEY", KEY)
    section = {"kind": "lighter", "account_index": 5, "api_key_index": 3, "api_private_key": "env:LIGHTER_KEY"}
    with pytest.raises(ConfigError) as info:
        parse_config({"venues": {"l": {**section, "api_key_index": 1, "auth_token_ttl": "9h"}}}, loaded())
    text = "\n".join(info.value.problems)
    assert "venues.l.api_key_index" in text
    assert "venues.l.auth_token_ttl" in text
    config = parse_config({"venues": {"l": section}}, loaded()).venues["l"].config
    assert config.api_private_key.reveal() == KEY
    assert config.resolved_ws_url() == "wss://mainnet.zklighter.elliot.ai/stream"
    assert config.resolved_chain_id() == 304


def test_factory_builds_a_venue_with_every_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIGHTER_KEY", KEY)
    section = {"kind": "lighter", "account_index": 5, "api_key_index": 3, "api_private_key": "env:LIGHTER_KEY"}
    manager = loaded()
    config = parse_config({"venues": {"main": section}}, manager).venues["main"].config
    venue = manager.registry.get("venues", plugin.KIND).factory("main", config, VenueContext(clock=SimClock()))
    assert isinstance(venue, Venue)
    for method in REQUIRED_METHODS:
        assert inspect.iscoroutinefunction(getattr(venue, method)), method
