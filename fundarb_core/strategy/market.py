"""The market as the strategy sees it this tick: every venue's funding rates, and spreads between venues."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from decimal import Decimal

from loguru import logger

from fundarb_core.errors import VenueError
from fundarb_core.execution import VenueGateway
from fundarb_core.venues import FundingRate

__all__ = ["Market"]


class Market:
    """Funding rates per venue and symbol, refreshed each tick through the gateway (a venue that fails keeps its
    last rates)."""

    def __init__(self, gateway: VenueGateway) -> None:
        self.gateway = gateway
        self.rates: dict[str, Mapping[str, FundingRate]] = {}

    async def refresh(self) -> dict[str, Mapping[str, FundingRate]]:
        async def one(name: str) -> tuple[str, Mapping[str, FundingRate]]:
            try:
                return name, await self.gateway.funding_rates(name)
            except VenueError as exc:
                logger.bind(venue=name).warning("funding rates unavailable: {}", exc)
                return name, self.rates.get(name, {})

        self.rates = dict(await asyncio.gather(*(one(n) for n in self.gateway.venues)))
        return self.rates

    def spread(self, symbol: str, long_venue: str, short_venue: str) -> Decimal | None:
        """The hourly spread `short − long` (positive pays), or None without both venues' rates."""
        try:
            return self.rates[short_venue][symbol].hourly - self.rates[long_venue][symbol].hourly
        except KeyError:
            return None
