"""docs/configuration.md documents every key of the core's config sections (a new key without docs fails)."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from fundarb_core.config._model import (
    ActionsConfig,
    BotConfig,
    Config,
    ExitConfig,
    ServeConfig,
    StoreConfig,
    StrategyConfig,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def _sections() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## `\[([a-z_.<>]+)\]`", line)
        if heading:
            current = heading.group(1)
            out[current] = []
        row = re.match(r"\| `([a-z_]+)` \|", line)
        if row and current:
            out[current].append(row.group(1))
    return out


@pytest.mark.parametrize(
    ("section", "cls"),
    [
        ("bot", BotConfig),
        ("store", StoreConfig),
        ("strategy", StrategyConfig),
        ("exit", ExitConfig),
        ("actions", ActionsConfig),
        ("serve", ServeConfig),
    ],
)
def test_every_key_is_documented(section: str, cls: type) -> None:
    documented = _sections()[section]
    assert documented == [f.name for f in attrs.fields(cls)]  # same keys, same order


def test_every_top_level_section_has_a_heading() -> None:
    headings = set(_sections())
    for field in attrs.fields(Config):
        assert any(h == field.name or h.startswith(f"{field.name}.") for h in headings), field.name
