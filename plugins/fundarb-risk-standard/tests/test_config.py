"""The `[risk_manager]` section, validated by the core's config loader with this plugin registered."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from fundarb_risk_standard import (
    CombinedConfig,
    CombinedManager,
    DivergenceFlipConfig,
    DivergenceFlipManager,
    MaxAgeConfig,
    MaxAgeManager,
    ProfitErosionConfig,
    ProfitErosionManager,
    plugin,
)

from fundarb_core.config import PluginSection, parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins
from fundarb_core.strategy import RiskManager

README = Path(__file__).resolve().parents[1] / "README.md"

KINDS: dict[str, tuple[type[Any], type[Any]]] = {
    "profit_erosion": (ProfitErosionConfig, ProfitErosionManager),
    "divergence_flip": (DivergenceFlipConfig, DivergenceFlipManager),
    "max_age": (MaxAgeConfig, MaxAgeManager),
    "combined": (CombinedConfig, CombinedManager),
}


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    """The built-in plugins and this one, registered in-process (installed entry points are not loaded)."""
    manager = Plugins().load(entry_points=False)
    manager.register(plugin, name="risk_standard", distribution="fundarb-risk-standard")
    return manager


def section(plugins: Plugins, **settings: Any) -> PluginSection:
    result = parse_config({"risk_manager": settings}, plugins, references=False).risk_manager
    assert result is not None
    return result


def problems(plugins: Plugins, **settings: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config({"risk_manager": settings}, plugins, references=False)
    return list(info.value.problems)


# -- registration ----------------------------------------------------------------------------------------------


def test_four_risk_managers_are_registered_by_this_distribution(plugins: Plugins) -> None:
    registry = plugins.registry
    assert plugins.registry.by_plugin("fundarb-risk-standard") == {"risk_managers": sorted(KINDS)}
    for name, (config_cls, manager_cls) in KINDS.items():
        registration = registry.get("risk_managers", name)
        assert registration.config_cls is config_cls
        manager: Any = registration.factory(config_cls())
        assert type(manager) is manager_cls
        assert manager.name == name
        assert manager.config == config_cls()
        assert isinstance(manager, RiskManager)


# -- valid sections --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_bare_section_gets_the_defaults(plugins: Plugins, kind: str) -> None:
    assert section(plugins, kind=kind) == PluginSection(kind, KINDS[kind][0]())


def test_combined_reads_every_setting_from_toml(plugins: Plugins) -> None:
    data = tomllib.loads(
        """
        [risk_manager]
        kind = "combined"
        flip_threshold = "-0.00001"
        severe_erosion_threshold = "0.1"
        erosion_threshold = "0.4"
        hold_if_best = false
        max_age = "12h"
        min_hold = "1h30m"
        """
    )
    assert parse_config(data, plugins).risk_manager == PluginSection(
        "combined",
        CombinedConfig(
            flip_threshold=Decimal("-0.00001"),
            erosion_threshold=Decimal("0.4"),
            severe_erosion_threshold=Decimal("0.1"),
            hold_if_best=False,
            max_age=timedelta(hours=12),
            min_hold=timedelta(hours=1, minutes=30),
        ),
    )


def test_every_readme_example_parses_to_the_documented_defaults(plugins: Plugins) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    kinds = []
    pipelines = []
    for block in blocks:
        parsed = section(plugins, **tomllib.loads(block)["risk_manager"])
        config = parsed.config
        if parsed.kind == "combined" and (config.transfer_on_exit or config.auto_reopen or config.reduce_size):
            pipelines.append(config)  # the pipelines example: its own settings, checked below
            config = attrs.evolve(config, transfer_on_exit=None, auto_reopen=None, reduce_size=[])
        assert config == KINDS[parsed.kind][0](), parsed.kind  # the README shows the defaults
        kinds.append(parsed.kind)
    assert set(kinds) == set(KINDS)
    (example,) = pipelines
    assert example.transfer_on_exit.min_amount == Decimal(10)
    assert example.transfer_on_exit.target == {"aster": Decimal("0.5"), "lighter": Decimal("0.5")}
    assert example.auto_reopen.pair == "best"
    assert [(s.erosion_below, s.fraction) for s in example.reduce_size] == [(Decimal("0.75"), Decimal("0.5"))]


# -- invalid sections ------------------------------------------------------------------------------------------


def test_unknown_key_in_combined_names_its_path(plugins: Plugins) -> None:
    assert problems(plugins, kind="combined", erosion_treshold="0.4", colour="blue") == [
        "risk_manager.erosion_treshold: unknown key (did you mean 'erosion_threshold'?)",
        "risk_manager.colour: unknown key",
    ]


def test_a_setting_of_another_manager_is_an_unknown_key(plugins: Plugins) -> None:
    assert problems(plugins, kind="profit_erosion", max_age="12h") == ["risk_manager.max_age: unknown key"]
    assert problems(plugins, kind="max_age", min_hold="1h") == ["risk_manager.min_hold: unknown key"]


def test_every_bad_value_is_reported_at_once_with_its_path(plugins: Plugins) -> None:
    assert problems(
        plugins,
        kind="combined",
        flip_threshold="5",
        erosion_threshold="1.5",
        severe_erosion_threshold=0.1,
        hold_if_best="yes",
        max_age="0s",
        min_hold="soon",
    ) == [
        "risk_manager.flip_threshold: must be an hourly funding rate between -0.01 and 0.01, found 5",
        "risk_manager.erosion_threshold: must be between 0 and 1, found 1.5",
        'risk_manager.severe_erosion_threshold: expected a decimal string such as "0.1", found the float 0.1 '
        "(floats are inexact)",
        "risk_manager.hold_if_best: expected true or false, found str 'yes'",
        "risk_manager.max_age: must be a positive duration, found 0:00:00",
        'risk_manager.min_hold: expected a duration such as "30s", "8h" or "1h30m", found \'soon\'',
    ]


@pytest.mark.parametrize("kind", ["combined", "profit_erosion"])
def test_severe_threshold_above_the_erosion_threshold_is_refused(plugins: Plugins, kind: str) -> None:
    assert problems(plugins, kind=kind, erosion_threshold="0.4", severe_erosion_threshold="0.6") == [
        "risk_manager: severe_erosion_threshold (0.6) must not be above erosion_threshold (0.4)"
    ]
    # equal is allowed: every erosion exit is then a severe one
    assert section(plugins, kind=kind, erosion_threshold="0.4", severe_erosion_threshold="0.4").config is not None


def test_a_negative_flip_threshold_inside_the_bound_is_fine(plugins: Plugins) -> None:
    assert section(plugins, kind="divergence_flip", flip_threshold="-0.01").config == DivergenceFlipConfig(
        Decimal("-0.01")
    )
    assert problems(plugins, kind="divergence_flip", flip_threshold="-0.0101") == [
        "risk_manager.flip_threshold: must be an hourly funding rate between -0.01 and 0.01, found -0.0101"
    ]


def test_config_error_message_carries_the_path(plugins: Plugins) -> None:
    with pytest.raises(ValueError, match=r"risk_manager\.max_age: must be a positive duration"):
        parse_config({"risk_manager": {"kind": "max_age", "max_age": "0s"}}, plugins)


@pytest.mark.parametrize(
    ("config_cls", "settings", "error", "message"),
    [
        (ProfitErosionConfig, {"erosion_threshold": 0.5}, TypeError, "must be a Decimal"),
        (ProfitErosionConfig, {"erosion_threshold": Decimal("NaN")}, ValueError, "must be a finite number"),
        (CombinedConfig, {"min_hold": timedelta(hours=-1)}, ValueError, "must not be a negative duration"),
        (MaxAgeConfig, {"max_age": 3600}, TypeError, "must be a duration"),
        (CombinedConfig, {"hold_if_best": 1}, TypeError, "must be true or false"),
    ],
)
def test_configs_built_in_python_are_validated_too(
    config_cls: type[Any], settings: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        config_cls(**settings)
