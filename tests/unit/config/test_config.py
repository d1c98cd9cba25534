"""Configuration: every problem at once with its key path; plugin sections validated by the plugin's class."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from fundarb_core.config import Config, PluginSection, dump_config, load_config, parse_config
from fundarb_core.config.validators import positive
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins
from fundarb_core.secrets import MASK, Secret


def problems(data: dict[str, Any], plugins: Plugins | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, plugins)
    return list(info.value.problems)


def test_every_problem_is_reported_at_once_with_its_key_path() -> None:
    data = {
        "strategy": {"position_size_usd": -5, "max_positions": "ten", "colour": "blue"},
        "bot": {"log_level": "LOUD"},
        "stratgy": {},
    }
    assert problems(data) == [
        "stratgy: unknown key (did you mean 'strategy'?)",
        "bot.log_level: expected one of 'TRACE', 'DEBUG', 'INFO', 'SUCCESS', 'WARNING', 'ERROR', found 'LOUD'",
        "strategy.colour: unknown key",
        "strategy.position_size_usd: must be positive, found -5",
        "strategy.max_positions: expected an integer, found str 'ten'",
    ]


def test_config_error_is_a_value_error_carrying_the_lines() -> None:
    with pytest.raises(ValueError, match=r"strategy\.leverage: must be positive, found 0"):
        parse_config({"strategy": {"leverage": "0"}}, None)


@pytest.mark.parametrize("value", [0.1, 2.5, 1e-3])
def test_float_is_refused_where_a_decimal_is_expected(value: float) -> None:
    (line,) = problems({"strategy": {"min_net_apr": value}})
    assert line.startswith("strategy.min_net_apr: expected a decimal string such as")
    assert "floats are inexact" in line


def test_decimal_strings_and_integers_are_exact() -> None:
    config = parse_config({"strategy": {"min_net_apr": "0.1", "position_size_usd": 250}}, None)
    assert config.strategy.min_net_apr == Decimal("0.1")
    assert config.strategy.position_size_usd == Decimal(250)


def test_durations_are_read_from_text() -> None:
    config = parse_config({"strategy": {"expected_hold": "1h30m", "open_timeout": "500ms"}}, None)
    assert config.strategy.expected_hold == timedelta(hours=1, minutes=30)
    assert config.strategy.open_timeout == timedelta(milliseconds=500)
    assert problems({"strategy": {"scan_interval": "0s"}}) == [
        "strategy.scan_interval: must be a positive duration, found 0:00:00"
    ]


def test_defaults_fill_an_empty_file() -> None:
    assert parse_config({}, None) == Config()


# -- plugin sections -------------------------------------------------------------------------------------------


@attrs.frozen
class ExchangeConfig:
    api_key: Secret
    size: Decimal = attrs.field(default=Decimal(1), validator=positive)
    poll: timedelta = timedelta(seconds=5)
    label: str | None = None


@attrs.frozen
class WithPrivate:
    _token: str = "x"


@pytest.fixture
def exchange_plugins(plugins: Plugins, registering: Callable[..., object]) -> Plugins:
    exchange = registering("venues", "exchange", config_cls=ExchangeConfig)
    plugins.register(exchange, name="exchange", distribution="fundarb-exchange")
    plugins.register(registering("venues", "bare"), name="bare", distribution="fundarb-bare")
    private = registering("risk_managers", "private", config_cls=WithPrivate)
    plugins.register(private, name="private", distribution="fundarb-private")
    return plugins


def test_plugin_section_is_built_by_the_plugins_class(
    exchange_plugins: Plugins, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUNDARB_TEST_EXCHANGE_KEY", "sk-live-abcdef123456")
    data = {"venues": {"x": {"kind": "exchange", "api_key": "env:FUNDARB_TEST_EXCHANGE_KEY", "poll": "2s"}}}
    config = parse_config(data, exchange_plugins)
    section = config.venues["x"]
    assert section == PluginSection(
        "exchange", ExchangeConfig(Secret("sk-live-abcdef123456"), poll=timedelta(seconds=2))
    )
    assert section.config.api_key.reveal() == "sk-live-abcdef123456"


def test_plugin_section_problems_carry_the_full_key_path(
    exchange_plugins: Plugins, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FUNDARB_TEST_UNSET_KEY", raising=False)
    data = {
        "venues": {
            "x": {"kind": "exchange", "api_key": "env:FUNDARB_TEST_UNSET_KEY", "foo": 1, "size": "-2"},
            "y": {"kind": "bare", "speed": 3},
            "z": {"api_key": "k"},
        },
        "strategy": {"leverage": 1.5},
    }
    assert problems(data, exchange_plugins) == [
        "venues.x.foo: unknown key",
        "venues.x.api_key: environment variable FUNDARB_TEST_UNSET_KEY is not set",
        "venues.x.size: must be positive, found -2",
        "venues.y.speed: unknown key (venue kind 'bare' takes no settings)",
        "venues.z.kind: missing (which venue kind to use)",
        'strategy.leverage: expected a decimal string such as "1.5", found the float 1.5 (floats are inexact)',
    ]


def test_missing_required_plugin_setting_is_reported(exchange_plugins: Plugins) -> None:
    assert problems({"venues": {"x": {"kind": "exchange"}}}, exchange_plugins) == ["venues.x.api_key: missing"]


def test_private_attribute_is_written_without_underscore(exchange_plugins: Plugins) -> None:
    config = parse_config({"risk_manager": {"kind": "private", "token": "abc"}}, exchange_plugins)
    assert config.risk_manager == PluginSection("private", WithPrivate("abc"))
    assert problems({"risk_manager": {"kind": "private", "_token": "abc"}}, exchange_plugins) == [
        "risk_manager._token: unknown key (did you mean 'token'?)"
    ]


def test_unknown_kind_lists_known_kinds(exchange_plugins: Plugins) -> None:
    known = exchange_plugins.registry.names("venues")
    assert {"bare", "exchange"} <= set(known)
    assert problems({"venues": {"x": {"kind": "exchang"}}}, exchange_plugins) == [
        f"venues.x.kind: unknown venue kind 'exchang' (known: {', '.join(known)})"
    ]


def test_unknown_kind_mentions_plugins_that_failed_to_load(in_process_site) -> None:
    in_process_site.add(
        "fundarb-venue-aster",
        modules={"fundarb_venue_aster_test": "import definitely_not_installed_sdk\n"},
        entry_points={"aster": "fundarb_venue_aster_test"},
    )
    manager = Plugins().load(environ={"FUNDARB_LOAD_PLUGINS": "fundarb-venue-aster"})
    (line,) = problems({"venues": {"a": {"kind": "aster"}}}, manager)
    assert line.startswith("venues.a.kind: unknown venue kind 'aster' (known: ")
    assert line.endswith(
        "; plugin fundarb-venue-aster failed to load "
        "(ModuleNotFoundError: No module named 'definitely_not_installed_sdk')"
    )


def test_without_plugins_sections_are_kept_raw() -> None:
    config = parse_config({"close_policy": {"kind": "anything", "x": 1}}, None)
    assert config.close_policy == PluginSection("anything", {"x": 1})


# -- files -----------------------------------------------------------------------------------------------------


def test_load_config_reports_unreadable_and_invalid_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read"):
        load_config(missing, None)
    broken = tmp_path / "broken.toml"
    broken.write_text("[strategy\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_config(broken, None)


def test_dump_masks_secrets_and_reads_back(
    exchange_plugins: Plugins, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = "sk-live-dump-0123456789"
    monkeypatch.setenv("FUNDARB_TEST_DUMP_KEY", secret)
    data = {
        "venues": {"x": {"kind": "exchange", "api_key": "env:FUNDARB_TEST_DUMP_KEY", "size": "2.50"}},
        "strategy": {"expected_hold": "1h30m"},
    }
    text = dump_config(parse_config(data, exchange_plugins))
    assert secret not in text
    assert f'api_key = "{MASK}"' in text
    assert 'size = "2.50"' in text
    assert 'expected_hold = "1h30m"' in text
    # Everything but the masked secret survives the round trip.
    path = tmp_path / "dumped.toml"
    path.write_text(text.replace(f'"{MASK}"', '"env:FUNDARB_TEST_DUMP_KEY"'))
    assert load_config(path, exchange_plugins) == parse_config(data, exchange_plugins)
