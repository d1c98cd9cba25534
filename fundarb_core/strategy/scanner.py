"""Find funding-rate opportunities: both directions of every venue pair, on the smoothed spread, net of costs.

An opportunity's `spread` is the signal's smoothed hourly spread (`fundarb_core.strategy.signal`) where a signal is
given (the bot always gives one), else the latest quotes' (tests, embedding). Its `cost` is the cost model's round
trip (`fundarb_core.strategy.costs`), and `net_apr` is `(spread − cost / hold) × 8760`, with `hold` the conservative
`[strategy] entry_hold`: a position must pay its round trip within that hold, with `min_net_apr` to spare.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from decimal import Decimal

import attrs
from loguru import logger

from fundarb_core.config import StrategyConfig
from fundarb_core.strategy.costs import Cost, CostModel, usable_book
from fundarb_core.strategy.market import rate_problem, usable_hourly
from fundarb_core.strategy.signal import SpreadSignal
from fundarb_core.venues import BBO, FundingRate, Instrument

__all__ = ["HOURS_PER_YEAR", "Opportunity", "Scanner"]

HOURS_PER_YEAR = Decimal(8760)
ZERO = Decimal(0)
_HOUR = 3600


@attrs.frozen
class Opportunity:
    """Long `symbol` on `long_venue`, short it on `short_venue`. Rates and spreads are hourly; `spread` is the one
    decisions use (smoothed), `latest_spread` the latest quotes'. `cost` is the round trip as a fraction of notional
    (`fees` its fee part); `price_gap` is long over short (marks, or executable prices once books were read)."""

    symbol: str
    long_venue: str
    short_venue: str
    long_rate: Decimal
    short_rate: Decimal
    spread: Decimal  # short − long, per hour, smoothed
    fees: Decimal  # expected round-trip fee rate (four fills), as a fraction of notional
    net_apr: Decimal
    price_gap: Decimal
    mark: Decimal
    latest_spread: Decimal | None = None
    cost: Decimal = ZERO

    @property
    def gross_apr(self) -> Decimal:
        return self.spread * HOURS_PER_YEAR

    @property
    def cost_bps(self) -> Decimal:
        return self.cost * 10_000

    @property
    def breakeven_hours(self) -> Decimal | None:
        """Hours of the smoothed spread that pay the round trip (None when it does not pay)."""
        return self.cost / self.spread if self.spread > 0 else None

    @property
    def pair(self) -> tuple[str, str, str]:
        return (self.symbol, self.long_venue, self.short_venue)


class Scanner:
    """Ranks opportunities by net APR: the smoothed hourly spread minus the round-trip cost amortised over the
    conservative entry hold. See the module docstring."""

    def __init__(
        self,
        config: StrategyConfig,
        instruments: Mapping[str, Mapping[str, Instrument]],
        *,
        signal: SpreadSignal | None = None,
        costs: CostModel | None = None,
    ) -> None:
        self.config = config
        self.instruments = instruments
        self.signal = signal
        self.costs = costs or CostModel(config, instruments)
        self.cooldown: dict[str, datetime] = {}
        hold = config.hold.total_seconds() / _HOUR
        self.hold_hours = Decimal(repr(hold)) if hold > 0 else Decimal(1)
        if config.expected_hold is not None:
            logger.warning(
                "strategy.expected_hold is deprecated: it is read as strategy.entry_hold ({}); rename the key",
                config.expected_hold,
            )

    def note_failed_entry(self, symbol: str, now: datetime) -> None:
        """Keep `symbol` out of the ranking for the configured cooldown."""
        self.cooldown[symbol] = now + self.config.entry_cooldown

    def _allowed(self, symbol: str, now: datetime) -> bool:
        cfg = self.config
        if cfg.symbols and symbol not in cfg.symbols:
            return False
        if symbol in cfg.exclude_symbols:
            return False
        until = self.cooldown.get(symbol)
        return until is None or now >= until

    def net_apr(self, spread: Decimal, cost: Cost | Decimal) -> Decimal:
        total = cost.total if isinstance(cost, Cost) else cost
        return (spread - total / self.hold_hours) * HOURS_PER_YEAR

    def evaluate(
        self,
        symbol: str,
        long_venue: str,
        short_venue: str,
        rates: Mapping[str, Mapping[str, FundingRate]],
        now: datetime,
        books: Mapping[str, BBO] | None = None,
    ) -> Opportunity | None:
        """The pair as an opportunity now (whether or not it clears the entry bar), or None when its data is
        unusable, its signal is not warm, its spread does not pay, or its price gap is too wide."""
        try:
            long_rate, short_rate = rates[long_venue][symbol], rates[short_venue][symbol]
        except KeyError:
            return None
        if rate_problem(long_rate) is not None or rate_problem(short_rate) is not None:
            return None
        long_h, short_h = (
            usable_hourly(long_rate.rate, long_rate.interval),
            usable_hourly(short_rate.rate, short_rate.interval),
        )
        if long_h is None or short_h is None:
            return None
        latest = short_h - long_h
        if self.signal is not None:
            if not (self.signal.warm(long_venue, symbol) and self.signal.warm(short_venue, symbol)):
                return None
            spread = self.signal.spread(symbol, long_venue, short_venue)
            if spread is None:
                return None
        else:
            spread = latest
        if spread <= 0:
            return None
        books = {v: b for v, b in (books or {}).items() if usable_book(b)}
        cost = self.costs.round_trip(
            symbol, long_venue, short_venue, long_price=long_rate.mark_price, short_price=short_rate.mark_price,
            books=books, rates={long_venue: long_rate, short_venue: short_rate}, now=now,
        )  # fmt: skip
        long_book, short_book = books.get(long_venue), books.get(short_venue)
        if long_book is not None and short_book is not None:
            gap = long_book.ask / short_book.bid - 1  # what we would pay: buy at the ask, sell at the bid
        else:
            gap = long_rate.mark_price / short_rate.mark_price - 1
        if gap > self.config.max_price_gap:
            return None
        return Opportunity(
            symbol, long_venue, short_venue, long_h, short_h, spread, cost.fees, self.net_apr(spread, cost), gap,
            long_rate.mark_price, latest, cost.total,
        )  # fmt: skip

    def _short_of(self, spread: Decimal, symbol: str, long_venue: str, short_venue: str, bar: Decimal) -> bool:
        """Whether the pair's positive smoothed `spread` is short of the entry bar even at its fees alone (every other
        part of the cost is ≥ 0, so `evaluate` would not pass it either): most pairs, ruled out without a cost model.
        (A spread ≤ 0 is ruled out before: `SpreadSignal.paying`.)"""
        fees = self.costs.fees(symbol, long_venue, short_venue)
        return spread - fees / self.hold_hours < bar

    def scan(self, rates: Mapping[str, Mapping[str, FundingRate]], now: datetime) -> list[Opportunity]:
        """Every allowed opportunity at or above the minimum net APR within the price gap, best first."""
        out = []
        venues = sorted(rates)
        bar = self.config.min_net_apr / HOURS_PER_YEAR  # the net hourly spread an entry needs
        for long_venue in venues:
            for short_venue in venues:
                if long_venue == short_venue:
                    continue
                common = set(rates[long_venue]) & set(rates[short_venue])
                long_instruments = self.instruments.get(long_venue, {})
                short_instruments = self.instruments.get(short_venue, {})
                # Before the symbol's filters: of a pair of venues, one direction's smoothed spread is ≤ 0, and most
                # others fall short of the bar at their fees alone.
                paying = None if self.signal is None else self.signal.paying(common, long_venue, short_venue)
                for symbol in sorted(common if paying is None else paying):
                    if symbol not in long_instruments or symbol not in short_instruments:
                        continue
                    if paying is not None and self._short_of(paying[symbol], symbol, long_venue, short_venue, bar):
                        continue
                    if not self._allowed(symbol, now):
                        continue
                    opp = self.evaluate(symbol, long_venue, short_venue, rates, now)
                    if opp is not None and opp.net_apr >= self.config.min_net_apr:
                        out.append(opp)
        out.sort(key=lambda o: (-o.net_apr, o.symbol, o.long_venue))
        return out

    @staticmethod
    def best_pairs(
        rates: Mapping[str, Mapping[str, FundingRate]],
        smoothed: Mapping[str, Mapping[str, Decimal]] | None = None,
        *,
        symbols: Collection[str] | None = None,
    ) -> set[tuple[str, str, str]]:
        """Per symbol, the pair with the widest spread: long where funding is lowest, short where it is highest
        (on the smoothed rates where given, for the venues and symbols with a usable rate now). With `symbols`, for
        those alone: each symbol's pair depends on its own rates only, so that is the full answer's part for them."""
        lowest: dict[str, tuple[Decimal, str]] = {}
        highest: dict[str, tuple[Decimal, str]] = {}
        for venue, venue_rates in rates.items():
            listed: Iterable[tuple[str, FundingRate]] = venue_rates.items()
            if symbols is not None:
                listed = [(s, venue_rates[s]) for s in symbols if s in venue_rates]
            for symbol, rate in listed:
                h = (smoothed or {}).get(venue, {}).get(symbol)
                if h is None:
                    h = usable_hourly(getattr(rate, "rate", None), getattr(rate, "interval", None))
                if h is None:
                    continue
                if symbol not in lowest or h < lowest[symbol][0]:
                    lowest[symbol] = (h, venue)
                if symbol not in highest or h > highest[symbol][0]:
                    highest[symbol] = (h, venue)
        return {
            (symbol, lowest[symbol][1], highest[symbol][1])
            for symbol in lowest
            if lowest[symbol][1] != highest[symbol][1] and highest[symbol][0] > lowest[symbol][0]
        }
