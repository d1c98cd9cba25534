"""Installed plugins as entry-point metadata: which distributions load, and the commands they declare.

Cheap on purpose: `fundarb --help` reads this without importing any plugin (only `importlib.metadata`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import metadata
from typing import NamedTuple

__all__ = [
    "COMMAND_GROUP",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "LOAD_ENV",
    "CommandEntry",
    "canonical_dist",
    "command_entries",
    "distribution_name",
    "selects",
]

ENTRY_POINT_GROUP = "fundarb"
COMMAND_GROUP = "fundarb.commands"
LOAD_ENV = "FUNDARB_LOAD_PLUGINS"
DISABLE_ENV = "FUNDARB_DISABLE_PLUGINS"


def canonical_dist(name: str) -> str:
    """Return a distribution name in canonical form (PEP 503: lower case, runs of -_. as one -)."""
    out = []
    prev_sep = False
    for ch in name.strip().lower():
        if ch in "-_.":
            if not prev_sep:
                out.append("-")
            prev_sep = True
        else:
            out.append(ch)
            prev_sep = False
    return "".join(out)


def _env_list(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {canonical_dist(part) for part in value.split(",") if part.strip()}


def selects(distribution: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether `FUNDARB_LOAD_PLUGINS` / `FUNDARB_DISABLE_PLUGINS` (in `environ`, default os.environ) let it load."""
    env = os.environ if environ is None else environ
    only = _env_list(env.get(LOAD_ENV))
    key = canonical_dist(distribution)
    return (only is None or key in only) and key not in (_env_list(env.get(DISABLE_ENV)) or set())


def distribution_name(ep: metadata.EntryPoint) -> str:
    """The distribution an entry point comes from (its module's top package when it has no metadata)."""
    dist = ep.dist
    return dist.metadata["Name"] if dist is not None else ep.value.split(":")[0]


class CommandEntry(NamedTuple):
    """A command a plugin declares in the `fundarb.commands` entry-point group: `name = "module:attribute"`."""

    name: str
    target: str
    distribution: str
    summary: str

    def load(self) -> object:
        """Import the command's module (only now) and return the `click.Command`."""
        module_name, _, attr = self.target.partition(":")
        import importlib

        value: object = importlib.import_module(module_name)
        for part in attr.split(".") if attr else ():
            value = getattr(value, part)
        return value


def command_entries(environ: Mapping[str, str] | None = None) -> list[CommandEntry]:
    """The commands the selected installed plugins declare, read from metadata (no plugin is imported)."""
    out = []
    for ep in sorted(metadata.entry_points(group=COMMAND_GROUP), key=lambda e: (e.name, e.value)):
        dist = distribution_name(ep)
        if not selects(dist, environ):
            continue
        summary = (ep.dist.metadata["Summary"] or "") if ep.dist is not None else ""
        out.append(CommandEntry(ep.name, ep.value, dist, summary.strip()))
    return out
