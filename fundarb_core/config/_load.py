"""Read, validate and print configuration files."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from fundarb_core.config._check import INVALID, PluginSection, Walker
from fundarb_core.config._model import Config
from fundarb_core.config._refs import cross_check
from fundarb_core.convert import get_converter
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins

__all__ = ["dump_config", "load_config", "parse_config", "read_toml"]


def parse_config(data: Mapping[str, Any], plugins: Plugins | None, *, references: bool = True) -> Config:
    """Validate raw data into a `Config`; raise `ConfigError` with every problem, one line each.

    Cross-references (venues and routes named by one section exist, shares sum to 1) are checked once every
    section is valid on its own; `references=False` skips them, for a fragment that is not a whole file.
    """
    walker = Walker(get_converter(), plugins)
    result = walker.attrs_class(data, Config, "")
    if result is INVALID or walker.problems:
        raise ConfigError(walker.problems)
    assert isinstance(result, Config)
    if references:
        problems = cross_check(result)
        if problems:
            raise ConfigError(problems)
    return result


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; a file that cannot be read or parsed is one `ConfigError` line naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror or exc})"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"]) from None


def load_config(path: Path, plugins: Plugins | None) -> Config:
    """Read a TOML file and validate it."""
    return parse_config(read_toml(path), plugins)


def _plain(value: Any) -> Any:
    if isinstance(value, PluginSection):
        settings = _plain(value.config) if value.config is not None else {}
        return {"kind": value.kind, **settings}
    if attrs.has(type(value)):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in attrs.fields(type(value))
            if getattr(value, f.name) is not None
        }
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return get_converter().unstructure(value)


def dump_config(config: Config) -> str:
    """Return the configuration as TOML with every secret masked."""
    return tomli_w.dumps(_plain(config))
