"""Find funding-rate opportunities: both directions of every venue pair, normalised per hour, net of fees."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

import attrs

from fundarb_core.config import StrategyConfig
from fundarb_core.venues import FundingRate, Instrument

__all__ = ["HOURS_PER_YEAR", "Opportunity", "Scanner"]

HOURS_PER_YEAR = Decimal(8760)
ZERO = Decimal(0)


@attrs.frozen
class Opportunity:
    """Long `symbol` on `long_venue`, short it on `short_venue`. Rates and spread are hourly."""

    symbol: str
    long_venue: str
    short_venue: str
    long_rate: Decimal
    short_rate: Decimal
    spread: Decimal  # short − long, per hour
    fees: Decimal  # expected round-trip fee rate (four fills), as a fraction of notional
    net_apr: Decimal
    price_gap: Decimal
    mark: Decimal

    @property
    def gross_apr(self) -> Decimal:
        return self.spread * HOURS_PER_YEAR

    @property
    def pair(self) -> tuple[str, str, str]:
        return (self.symbol, self.long_venue, self.short_venue)


class Scanner:
    """Ranks opportunities by net APR: the hourly spread minus round-trip fees amortised over the expected hold.

    Fees assume maker fills on all four trades (the default maker-first policies); a venue that does not report
    its fee rates is charged its taker rate if known, else nothing is assumed — and says so in the log.
    """

    def __init__(self, config: StrategyConfig, instruments: Mapping[str, Mapping[str, Instrument]]) -> None:
        self.config = config
        self.instruments = instruments
        self.cooldown: dict[str, datetime] = {}

    def note_failed_entry(self, symbol: str, now: datetime) -> None:
        """Keep `symbol` out of the ranking for the configured cooldown."""
        self.cooldown[symbol] = now + self.config.entry_cooldown

    def _fee(self, venue: str, symbol: str) -> Decimal:
        instrument = self.instruments[venue][symbol]
        if instrument.maker_fee is not None:
            return instrument.maker_fee
        return instrument.taker_fee or ZERO

    def _allowed(self, symbol: str, now: datetime) -> bool:
        cfg = self.config
        if cfg.symbols and symbol not in cfg.symbols:
            return False
        if symbol in cfg.exclude_symbols:
            return False
        until = self.cooldown.get(symbol)
        return until is None or now >= until

    def scan(self, rates: Mapping[str, Mapping[str, FundingRate]], now: datetime) -> list[Opportunity]:
        """Every allowed opportunity at or above the minimum net APR within the price gap, best first."""
        cfg = self.config
        hold_hours = Decimal(int(cfg.expected_hold.total_seconds())) / 3600
        out = []
        venues = sorted(rates)
        hourly = {v: {s: r.hourly for s, r in rates[v].items()} for v in venues}  # once per venue and symbol
        fee = {v: {s: self._fee(v, s) for s in rates[v] if s in self.instruments.get(v, {})} for v in venues}
        for long_venue in venues:
            for short_venue in venues:
                if long_venue == short_venue:
                    continue
                common = set(rates[long_venue]) & set(rates[short_venue])
                for symbol in sorted(common):
                    if not self._allowed(symbol, now):
                        continue
                    if symbol not in self.instruments.get(long_venue, {}) or symbol not in self.instruments.get(
                        short_venue, {}
                    ):
                        continue
                    spread = hourly[short_venue][symbol] - hourly[long_venue][symbol]
                    if spread <= 0:
                        continue
                    long_rate, short_rate = rates[long_venue][symbol], rates[short_venue][symbol]
                    fees = 2 * (fee[long_venue][symbol] + fee[short_venue][symbol])
                    net_apr = (spread - fees / hold_hours) * HOURS_PER_YEAR
                    gap = abs(long_rate.mark_price / short_rate.mark_price - 1)
                    if net_apr < cfg.min_net_apr or gap > cfg.max_price_gap:
                        continue
                    out.append(
                        Opportunity(
                            symbol,
                            long_venue,
                            short_venue,
                            long_rate.hourly,
                            short_rate.hourly,
                            spread,
                            fees,
                            net_apr,
                            gap,
                            long_rate.mark_price,
                        )
                    )
        out.sort(key=lambda o: (-o.net_apr, o.symbol, o.long_venue))
        return out

    @staticmethod
    def best_pairs(rates: Mapping[str, Mapping[str, FundingRate]]) -> set[tuple[str, str, str]]:
        """Per symbol, the pair with the widest spread: long where funding is lowest, short where it is highest."""
        lowest: dict[str, tuple[Decimal, str]] = {}
        highest: dict[str, tuple[Decimal, str]] = {}
        for venue, venue_rates in rates.items():
            for symbol, rate in venue_rates.items():
                h = rate.hourly
                if symbol not in lowest or h < lowest[symbol][0]:
                    lowest[symbol] = (h, venue)
                if symbol not in highest or h > highest[symbol][0]:
                    highest[symbol] = (h, venue)
        return {
            (symbol, lowest[symbol][1], highest[symbol][1])
            for symbol in lowest
            if lowest[symbol][1] != highest[symbol][1] and highest[symbol][0] > lowest[symbol][0]
        }
