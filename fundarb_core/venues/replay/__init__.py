"""The replay venue (kind `replay`): recorded funding and prices served as a venue for backtests."""

from __future__ import annotations

from fundarb_core.venues.replay.config import ReplayVenueConfig

__all__ = ["ReplayVenueConfig"]
