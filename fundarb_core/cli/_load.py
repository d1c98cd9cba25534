"""Load a config file for a command: one line per problem and exit status 2 when it is invalid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fundarb_core.cli import fail, get_plugins

__all__ = ["load"]


def load(config_path: Path) -> Any:
    from fundarb_core.config import load_config
    from fundarb_core.errors import ConfigError, PluginError

    try:
        return load_config(config_path, get_plugins())
    except ConfigError as exc:
        fail(list(exc.problems))
    except PluginError as exc:
        fail(str(exc))
