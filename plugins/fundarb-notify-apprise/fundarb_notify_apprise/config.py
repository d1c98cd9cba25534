"""Settings of `[observers.<name>] kind = "apprise"` (cheap to import: the registration hook loads it)."""

from __future__ import annotations

from datetime import timedelta

import attrs

from fundarb_core.config.validators import at_least, non_negative_duration, positive_duration
from fundarb_core.events import EventKind, Severity
from fundarb_core.secrets import Secret

__all__ = ["CORE_KINDS", "AppriseConfig", "Target"]

CORE_KINDS = frozenset(v for k, v in vars(EventKind).items() if k.isupper())


def _known_kinds(instance: object, attribute: attrs.Attribute[list[str]], value: list[str]) -> None:
    unknown = sorted(set(value) - CORE_KINDS)
    if unknown:
        raise ValueError(f"unknown event kind {', '.join(unknown)} (known: {', '.join(sorted(CORE_KINDS))})")


def _some_targets(instance: object, attribute: attrs.Attribute[list[Target]], value: list[Target]) -> None:
    if not value:
        raise ValueError("needs at least one target")


@attrs.frozen
class Target:
    """One apprise URL and what it receives.

    `url`: any apprise URL (`tgram://`, `discord://`, `slack://`, `mailtos://`, `ntfy://`, `json://`, ...); write it
    as `"env:NAME"` so the tokens in it come from the environment; it is never logged. `kinds`: the event kinds it
    receives (empty: all). `min_severity`: the least severity it receives. `label`: how logs name it (default: the
    URL's scheme and the target's position, e.g. `tgram#1`).
    """

    url: Secret
    kinds: list[str] = attrs.field(factory=list, validator=_known_kinds)
    min_severity: Severity = Severity.WARNING
    label: str | None = None


@attrs.frozen
class AppriseConfig:
    """The notifier's settings.

    Messages wait in a queue of `queue_size` and are sent one at a time by a background thread, each with at most
    `timeout` to connect and `timeout` to read the answer; a message that finds the queue full is dropped (counted
    and logged). The same fact about the same subject (a position, a transfer, an action) is sent at most once per
    `dedupe_window`. With `daily_summary`, one message at `summary_hour` (UTC, on the bot's clock) tells what the
    previous day held, suppressed and lost messages included.
    """

    targets: list[Target] = attrs.field(validator=_some_targets)
    queue_size: int = attrs.field(default=100, validator=at_least(1))
    timeout: timedelta = attrs.field(default=timedelta(seconds=10), validator=positive_duration)
    close_timeout: timedelta = attrs.field(default=timedelta(seconds=5), validator=positive_duration)
    dedupe_window: timedelta = attrs.field(default=timedelta(hours=1), validator=non_negative_duration)
    daily_summary: bool = False
    summary_hour: int = attrs.field(default=8, validator=[at_least(0), attrs.validators.le(23)])
    title_prefix: str = "fundarb"
