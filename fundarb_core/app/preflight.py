"""Start-up checks: every venue's credentials and account settings are tried before the bot may send an order.

One authenticated read per venue (`fetch_balance()`), all venues at once, then the venue's optional
`check_account()` (a venue plugin refuses an account it cannot trade safely, e.g. one in hedge position mode).
A refused key or a `ConfigError` from the account check stops the start with one line per venue; a venue that
cannot be reached right now only warns: the bot's loop retries it, and opens nothing there while it is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from loguru import logger

from fundarb_core.errors import ConfigError, VenueError, VenueRejected
from fundarb_core.model import RejectReason
from fundarb_core.secrets import redact

__all__ = ["check_venues"]


def _refused(name: str, exc: VenueRejected) -> str:
    code = f", code {exc.code}" if exc.code is not None else ""
    return redact(
        f"venues.{name}: the venue refused the credentials ({exc.message}{code}); check the API key and secret"
    )


async def _check_one(name: str, venue: Any) -> list[str]:
    """Return the lines that refuse the start because of `venue` (an empty list: it may start)."""
    log = logger.bind(venue=name)
    try:
        await venue.fetch_balance()
    except VenueRejected as exc:
        if exc.reason == RejectReason.AUTHENTICATION:
            return [_refused(name, exc)]
        log.warning("start-up check: the balance read was refused: {}", exc)
    except VenueError as exc:
        log.warning("start-up check: the venue cannot be reached now, the bot retries it: {}", exc)
    check_account = getattr(venue, "check_account", None)
    if not callable(check_account):
        return []
    try:
        await check_account()
    except ConfigError as exc:
        return [redact(f"venues.{name}: {problem}") for problem in exc.problems]
    except VenueRejected as exc:
        if exc.reason == RejectReason.AUTHENTICATION:
            return [_refused(name, exc)]
        log.warning("start-up check: the account check was refused: {}", exc)
    except VenueError as exc:
        log.warning("start-up check: the account could not be checked now: {}", exc)
    return []


async def check_venues(venues: Mapping[str, Any]) -> None:
    """Check every venue concurrently; raise `ConfigError` with one line per refused venue, secrets masked.

    Nothing here sends an order. Errors other than `VenueError` and `ConfigError` are bugs and propagate.
    """
    names = list(venues)
    results = await asyncio.gather(*(_check_one(name, venues[name]) for name in names))
    problems = [line for lines in results for line in lines]
    if problems:
        raise ConfigError(problems)
    logger.info("start-up checks passed: {}", ", ".join(names) or "no venues")
