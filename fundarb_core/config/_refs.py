"""Cross-references: what one part of a config names must exist in another (venues, routes, shares that add up).

Each section is first validated on its own (`_check.Walker`). Then every plugin section whose config object has a
`check(config)` method is asked about the whole `Config`: it returns `"key.path: what is wrong"` lines relative to
its section, which this module prefixes with the section's path. The core knows no plugin's keys; a plugin that
names venues or routes in its settings checks them itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fundarb_core.config._check import PluginSection

if TYPE_CHECKING:
    from fundarb_core.config._model import Config

__all__ = ["cross_check", "known_names", "share_problems"]


def _sections(config: Config) -> Iterator[tuple[str, PluginSection]]:
    for name, section in config.venues.items():
        yield f"venues.{name}", section
    if config.close_policy is not None:
        yield "close_policy", config.close_policy
    if config.risk_manager is not None:
        yield "risk_manager", config.risk_manager
    for name, section in config.transfers.items():
        yield f"transfers.{name}", section


def _prefixed(path: str, line: str) -> str:
    key, sep, message = line.partition(": ")
    if not sep:
        return f"{path}: {line}"
    return f"{path}: {message}" if not key else f"{path}.{key}: {message}"


def _venue_symbols(section: PluginSection) -> set[str] | None:
    """The symbols a venue section restricts itself to, or None when it may list any (no or an empty `symbols`)."""
    symbols = getattr(section.config, "symbols", None)
    if not isinstance(symbols, list | tuple) or not symbols:
        return None
    return {s for s in symbols if isinstance(s, str)}


def _strategy_problems(config: Config) -> list[str]:
    """`strategy.symbols` can each trade on two venues, and none is also excluded."""
    problems: list[str] = []
    strategy = config.strategy
    lists = {name: _venue_symbols(section) for name, section in config.venues.items()}
    for i, symbol in enumerate(strategy.symbols):
        if symbol in strategy.exclude_symbols:
            problems.append(f"strategy.symbols[{i}]: {symbol!r} is also in strategy.exclude_symbols")
        if not config.venues:
            continue  # no venues at all: nothing to compare with (a file without venues trades nothing anyway)
        on = [name for name, listed in lists.items() if listed is None or symbol in listed]
        if len(on) < 2:
            where = f"only {on[0]} lists it" if on else "no venue lists it"
            problems.append(f"strategy.symbols[{i}]: {symbol!r} cannot be traded on two venues ({where})")
    return problems


def cross_check(config: Config) -> list[str]:
    """Return one `"key.path: what is wrong"` line per broken cross-reference (an empty list: none)."""
    problems = _strategy_problems(config)
    for path, section in _sections(config):
        check: Callable[[Config], Any] | None = getattr(section.config, "check", None)
        if not callable(check):
            continue
        try:
            lines = list(check(config))
        except Exception as exc:  # a plugin's bug must not hide the other problems, nor crash `config check`
            problems.append(f"{path}: the {section.kind!r} plugin's check failed ({type(exc).__name__}: {exc})")
            continue
        problems.extend(_prefixed(path, str(line)) for line in lines)
    return problems


def known_names(names: Mapping[str, Any] | list[str], what: str) -> str:
    """Return `"(venues: a, b)"`, or `"(no venues are configured)"`, for a message about an unknown name."""
    listed = ", ".join(sorted(names))
    return f"({what}: {listed})" if listed else f"(no {what} are configured)"


def share_problems(key: str, shares: Mapping[str, Decimal], venues: Mapping[str, Any]) -> list[str]:
    """Check a venue → share table: every venue is configured, and the shares sum to exactly 1.

    Lines are relative to the table's section (`key` is the table's own key, e.g. `transfer_on_exit.target`).
    """
    problems = [
        f"{key}.{venue}: unknown venue {venue!r} {known_names(venues, 'venues')}"
        for venue in shares
        if venue not in venues
    ]
    if shares:
        total = sum(shares.values(), Decimal(0))
        if total != 1:
            problems.append(f"{key}: shares must sum to 1, found {total}")
    return problems
