"""Registers the replay venue (`kind = "replay"`) through the same hook as any venue plugin.

The venue and the history store (DuckDB) are imported only when a replay venue is built.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from fundarb_core.hookspecs import hookimpl
from fundarb_core.plugins import Register
from fundarb_core.venues.replay.config import ReplayVenueConfig

if TYPE_CHECKING:
    from fundarb_core.venues._protocol import VenueContext
    from fundarb_core.venues.replay.venue import ReplayVenue

__all__ = ["build_replay_venue", "data_key"]

DEFAULT_SPAN = timedelta(days=400)


def data_key(source: str) -> str:
    """Where a run's preloaded `ReplayData` for `source` sits in `VenueContext.shared`."""
    return f"replay-data:{source}"


def build_replay_venue(name: str, config: ReplayVenueConfig, context: VenueContext) -> ReplayVenue:
    """Build a replay venue over the data the run preloaded, or over the data directory's history store."""
    from fundarb_core.errors import ConfigError
    from fundarb_core.venues.replay.data import ReplayData, load_replay_data
    from fundarb_core.venues.replay.venue import ReplayVenue

    source = config.source or name
    data = context.shared.get(data_key(source))
    if data is None:
        if context.data_dir is None:
            raise ConfigError([f"venues.{name}: a replay venue needs a data directory with a history store"])
        from fundarb_core.store.history import HistoryStore

        with HistoryStore.open(context.data_dir, read_only=True) as store:
            now = context.clock.now()
            data = load_replay_data(store, source, now, now + DEFAULT_SPAN, resolution=config.resolution)
        context.shared[data_key(source)] = data
    assert isinstance(data, ReplayData)
    if not data.tradable():
        from loguru import logger

        logger.bind(venue=name).warning("no recorded funding with prices for {!r}: it offers no symbol", source)
    return ReplayVenue(name, config, context.clock, data)


@hookimpl
def fundarb_register_venues(register: Register) -> None:
    register("replay", ReplayVenueConfig, build_replay_venue)
