"""Canonical symbols and Aster's market names, both ways, and the unit conversions of `1000`-prefixed markets.

`BTCUSDT` is `BTC`. A market whose base asset is `1000PEPE` quotes 1000 PEPE per contract unit: its canonical
symbol is `PEPE` and every quantity is converted (canonical = venue × 1000, price canonical = venue / 1000), so
that one unit means one coin on every venue and the legs of a hedge compare. A base asset that merely starts with a
digit (`2Z`, `1INCH`) is its own symbol.
"""

from __future__ import annotations

import re
from decimal import Decimal

import attrs

__all__ = ["MarketUnits", "canonical_for", "format_decimal"]

# Longest first. "1M" prefixes (Binance's 1MBABYDOGE) are deliberately not recognised: a symbol that is not
# understood stays itself and simply matches no other venue, which is safe; a wrong multiplier is not.
_PREFIXES: tuple[tuple[str, int], ...] = (("1000000", 1_000_000), ("1000", 1000))
_LETTER = re.compile(r"[A-Z]")


def canonical_for(base_asset: str) -> tuple[str, Decimal]:
    """Return (canonical symbol, quantity multiplier) for an Aster base asset."""
    for prefix, multiplier in _PREFIXES:
        rest = base_asset[len(prefix) :]
        if base_asset.startswith(prefix) and rest and _LETTER.match(rest):
            return rest, Decimal(multiplier)
    return base_asset, Decimal(1)


def format_decimal(value: Decimal) -> str:
    """Plain decimal text as Aster expects it (no exponent, no trailing zeros)."""
    text = format(value.normalize(), "f")
    return text


@attrs.frozen
class MarketUnits:
    """Converts quantities and prices between canonical units and one market's contract units."""

    market: str
    multiplier: Decimal = Decimal(1)

    def qty_to_venue(self, quantity: Decimal) -> Decimal:
        return quantity / self.multiplier

    def qty_from_venue(self, quantity: Decimal) -> Decimal:
        return quantity * self.multiplier

    def price_to_venue(self, price: Decimal) -> Decimal:
        return price * self.multiplier

    def price_from_venue(self, price: Decimal) -> Decimal:
        return price / self.multiplier
