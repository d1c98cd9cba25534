"""The plugin registers its venue kind, validates its section, and builds a venue with every Venue method."""

from __future__ import annotations

import inspect

import pytest
from fundarb_venue_template import plugin
from fundarb_venue_template.config import TemplateVenueConfig

from fundarb_core.clock import SimClock
from fundarb_core.config import parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins
from fundarb_core.venues import REQUIRED_METHODS, VenueContext


def loaded() -> Plugins:
    manager = Plugins().load(entry_points=False)
    manager.register(plugin, name="template", distribution="fundarb-venue-template")
    return manager


def test_venue_kind_is_registered() -> None:
    registration = loaded().registry.get("venues", plugin.KIND)
    assert registration.config_cls is TemplateVenueConfig
    assert registration.plugin == "fundarb-venue-template"


def test_section_is_validated_with_key_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPLATE_API_KEY", "template-key-123456")
    monkeypatch.delenv("TEMPLATE_API_SECRET", raising=False)
    section = {"kind": plugin.KIND, "api_key": "env:TEMPLATE_API_KEY", "api_secret": "env:TEMPLATE_API_SECRET"}
    with pytest.raises(ConfigError) as info:
        parse_config({"venues": {"main": {**section, "timeout": "0s"}}}, loaded())
    assert info.value.problems == (
        "venues.main.api_secret: environment variable TEMPLATE_API_SECRET is not set",
        "venues.main.timeout: must be a positive duration, found 0:00:00",
    )
    monkeypatch.setenv("TEMPLATE_API_SECRET", "template-secret-654321")
    config = parse_config({"venues": {"main": section}}, loaded())
    assert config.venues["main"].config.api_key.reveal() == "template-key-123456"


def test_factory_builds_a_venue_with_every_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPLATE_API_KEY", "template-key-123456")
    monkeypatch.setenv("TEMPLATE_API_SECRET", "template-secret-654321")
    section = {"kind": plugin.KIND, "api_key": "env:TEMPLATE_API_KEY", "api_secret": "env:TEMPLATE_API_SECRET"}
    manager = loaded()
    config = parse_config({"venues": {"main": section}}, manager).venues["main"].config
    venue = manager.registry.get("venues", plugin.KIND).factory("main", config, VenueContext(clock=SimClock()))
    assert venue.name == "main"
    for method in REQUIRED_METHODS:
        assert inspect.iscoroutinefunction(getattr(venue, method)), method
