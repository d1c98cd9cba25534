"""Canonical symbols ("BTC") and each venue's own market names, both ways."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fundarb_core.errors import VenueRejected
from fundarb_core.model import RejectReason

__all__ = ["SymbolMap"]


class SymbolMap:
    """A two-way map between canonical symbols and one venue's market names."""

    def __init__(self, venue: str, pairs: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        self.venue = venue
        items = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
        self._to_venue: dict[str, str] = dict(items)
        self._to_canonical: dict[str, str] = {v: k for k, v in items}
        if len(self._to_canonical) != len(self._to_venue):
            raise ValueError(f"{venue}: two canonical symbols map to one market")

    def to_venue(self, symbol: str) -> str:
        try:
            return self._to_venue[symbol]
        except KeyError:
            raise VenueRejected(
                f"unknown symbol {symbol!r}", venue=self.venue, reason=RejectReason.UNKNOWN_SYMBOL
            ) from None

    def to_canonical(self, market: str) -> str | None:
        return self._to_canonical.get(market)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._to_venue

    def symbols(self) -> list[str]:
        return sorted(self._to_venue)
