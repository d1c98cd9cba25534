"""Settings of `[transfers.<name>] kind = "sim"` (cheap to import: the registration hook loads it)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs

from fundarb_core.config.validators import fraction, non_negative_duration

__all__ = ["SimTransferConfig"]


@attrs.frozen
class SimTransferConfig:
    """`delay`: time in flight; `fail_probability`: chance the withdrawal is refused (seeded by `seed` and the
    transfer's key, so a rerun fails the same transfers); `venues`: the sim venues served (empty: all)."""

    delay: timedelta = attrs.field(default=timedelta(minutes=10), validator=non_negative_duration)
    fail_probability: Decimal = attrs.field(default=Decimal(0), validator=fraction)
    seed: int = 0
    venues: list[str] = attrs.field(factory=list)

    def check(self, config: Any) -> list[str]:
        """Check that `venues` names configured sim venues (lines relative to `[transfers.<name>]`)."""
        from fundarb_core.config import known_names

        sims = {name: s for name, s in config.venues.items() if s.kind == "sim"}
        problems: list[str] = []
        for i, venue in enumerate(self.venues):
            if venue not in config.venues:
                problems.append(f"venues[{i}]: unknown venue {venue!r} {known_names(sims, 'sim venues')}")
            elif venue not in sims:
                kind = config.venues[venue].kind
                problems.append(
                    f"venues[{i}]: venue {venue!r} is of kind {kind!r}; this route moves funds only between sim venues"
                )
        return problems
