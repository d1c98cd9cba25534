"""The market as the strategy sees it this tick: every venue's funding rates, and spreads between venues.

Bad data never reaches a decision: a rate or mark that is not a finite number, a mark that is zero or negative, an
hourly rate beyond ±1 % (a unit mistake or a broken feed), an interval that is not positive, a next settlement
long past (a stale quote) or a venue whose last good answer is older than `stale_after`: each excludes that venue
and symbol for the tick, with a warning (`rejected` says why; `new_rejections` what went bad since the last tick).
Open positions stay guarded: the closer's critical checks read the legs' own snapshots, not these rates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from loguru import logger

from fundarb_core.errors import VenueError
from fundarb_core.execution import VenueGateway
from fundarb_core.venues import FundingRate

__all__ = ["MAX_HOURLY", "Market", "rate_problem", "usable_hourly", "usable_price"]

MAX_HOURLY = Decimal("0.01")  # 1 % per hour (87.6 × a year): beyond it a rate is a unit mistake, not a market
_HOUR = Decimal(3600)
_SECONDS: dict[timedelta, Decimal] = {}  # a positive interval's whole seconds as a Decimal (a few intervals recur)


# No market trades outside this range: beyond it a price (or a notional) is a unit mistake or garbage, and the
# quotients taken of it (a basis, a spread over a mid) could overflow the Decimal context.
_PRICE_RANGE = (Decimal("1e-12"), Decimal("1e12"))


def usable_price(value: object) -> Decimal | None:
    """`value` as a finite positive Decimal of plausible size, else None."""
    if isinstance(value, Decimal) and value.is_finite() and _PRICE_RANGE[0] <= value <= _PRICE_RANGE[1]:
        return value
    return None


def usable_hourly(rate: object, interval: object) -> Decimal | None:
    """The hourly rate of `rate` per `interval`, or None when it is not a finite number of plausible size."""
    if not isinstance(rate, Decimal) or not rate.is_finite() or not isinstance(interval, timedelta):
        return None
    seconds = _SECONDS.get(interval)
    if seconds is None:
        whole = int(interval.total_seconds())  # as `FundingRate.hourly` counts it
        if whole <= 0:
            return None
        if len(_SECONDS) > 1024:
            _SECONDS.clear()
        seconds = _SECONDS[interval] = Decimal(whole)
    try:
        hourly = rate * _HOUR / seconds
    except (InvalidOperation, ArithmeticError):
        return None
    return hourly if hourly.is_finite() and abs(hourly) <= MAX_HOURLY else None


def rate_problem(rate: Any, now: datetime | None = None) -> str | None:
    """Why `rate` cannot be used for a decision now, or None when it can."""
    return _checked(rate, now)[1]


def _checked(rate: Any, now: datetime | None) -> tuple[Decimal | None, str | None]:
    """`rate`'s hourly rate when it can be used now, else None and why."""
    try:
        hourly = usable_hourly(rate.rate, rate.interval)
        if hourly is None:
            return None, f"funding rate {rate.rate!r} per {rate.interval!r} is not a plausible number"
        if usable_price(rate.mark_price) is None:
            return None, f"mark price {rate.mark_price!r} is not a positive number"
        stale = now is not None and isinstance(rate.next_funding_time, datetime)
        if stale and rate.next_funding_time < now - rate.interval:
            return None, f"stale: next settlement {rate.next_funding_time.isoformat()} is long past"
    except (AttributeError, TypeError, ValueError, OverflowError, ArithmeticError) as exc:
        return None, f"unreadable rate ({type(exc).__name__})"
    return hourly, None


class Market:
    """Funding rates per venue and symbol, refreshed each tick through the gateway (a venue that fails keeps its
    last rates until they are `stale_after` old); only usable rates are kept."""

    def __init__(self, gateway: VenueGateway, *, stale_after: timedelta = timedelta(minutes=15)) -> None:
        self.gateway = gateway
        self.stale_after = stale_after
        self.rates: dict[str, Mapping[str, FundingRate]] = {}
        self.hourly: dict[str, dict[str, Decimal]] = {}  # the kept rates, normalised to one hour
        self.rejected: dict[tuple[str, str], str] = {}  # this tick's exclusions and why
        self.new_rejections: dict[tuple[str, str], str] = {}  # exclusions that were not there the tick before
        self._fetched_at: dict[str, datetime] = {}
        self._hourlies: dict[tuple[str, str], tuple[FundingRate, Decimal | None]] = {}  # see `_hourly`

    async def refresh(self) -> dict[str, Mapping[str, FundingRate]]:
        now = self.gateway.clock.now()

        async def one(name: str) -> tuple[str, Mapping[str, FundingRate]]:
            try:
                fresh = await self.gateway.funding_rates(name)
            except VenueError as exc:
                logger.bind(venue=name).warning("funding rates unavailable: {}", exc)
                fetched = self._fetched_at.get(name)
                if fetched is None or now - fetched > self.stale_after:
                    return name, {}
                return name, self.rates.get(name, {})
            self._fetched_at[name] = now
            return name, fresh

        raw = dict(await asyncio.gather(*(one(n) for n in self.gateway.venues)))
        rejected: dict[tuple[str, str], str] = {}
        rates: dict[str, Mapping[str, FundingRate]] = {}
        hourly: dict[str, dict[str, Decimal]] = {}
        for name, venue_rates in raw.items():
            kept: dict[str, FundingRate] = {}
            kept_hourly = hourly[name] = {}
            try:
                items = list(venue_rates.items())
            except Exception as exc:  # not a mapping: the whole venue is unreadable this tick
                rejected[(name, "*")] = f"unreadable rates ({type(exc).__name__})"
                items = []
            for symbol, rate in items:
                h, why = _checked(rate, now)
                if h is not None:
                    kept[symbol] = rate
                    kept_hourly[symbol] = h
                    self._hourlies[(name, symbol)] = (rate, h)  # what `spread` would work out again
                else:
                    rejected[(name, str(symbol))] = why or "unusable"
            rates[name] = kept
        self.new_rejections = {k: v for k, v in rejected.items() if k not in self.rejected}
        for (name, symbol), why in self.new_rejections.items():
            logger.bind(venue=name, symbol=symbol).warning("market data excluded this tick: {}", why)
        self.rejected = rejected
        self.rates = rates
        self.hourly = hourly
        return self.rates

    def spread(self, symbol: str, long_venue: str, short_venue: str) -> Decimal | None:
        """The hourly spread `short − long` (positive pays), or None without both venues' usable rates."""
        try:
            short, long = self.rates[short_venue][symbol], self.rates[long_venue][symbol]
        except KeyError:
            return None
        short_h, long_h = self._hourly(short_venue, symbol, short), self._hourly(long_venue, symbol, long)
        if short_h is None or long_h is None:
            return None
        return short_h - long_h

    def _hourly(self, venue: str, symbol: str, rate: FundingRate) -> Decimal | None:
        """`usable_hourly` of `rate`, computed once per rate object (a position's spread is asked several times a
        tick, for every position on the pair)."""
        known = self._hourlies.get((venue, symbol))
        if known is not None and known[0] is rate:
            return known[1]
        hourly = usable_hourly(rate.rate, rate.interval)
        self._hourlies[(venue, symbol)] = (rate, hourly)
        return hourly
