"""The signal: a smoothed funding rate per venue and symbol, the spread every entry and exit decision uses.

The latest quote of a funding rate is noisy (a predicted rate moves all interval long; a settled one jumps at each
settlement), so decisions on it enter on noise peaks and exit on noise troughs. The signal is an exponential moving
average of the hourly rate in time (not in samples), with time constant `window` (`[strategy] signal_window`):

    value ← value + (1 − exp(−Δt / window)) · (rate − value)

where Δt is the time since the previous observation. It is seeded from the venue's settled funding history where
the venue offers it (`Capabilities.funding_history`), each settled rate held over its own interval (so an 8-hourly
and an hourly venue weigh the same hours the same), then updated with the rate the scanner reads each tick. Until
an estimate covers half a window of observed time it is *not warm*: it still guides exits, but opens no position.
A window of 0 turns smoothing off: the estimate is the latest quote, warm at once (the earlier bot's behaviour).

No input raises: a rate that is not a finite number of plausible size (see `fundarb_core.strategy.market`) is not
observed.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from fundarb_core.model.history import FundingHistoryEntry
from fundarb_core.strategy.market import MAX_HOURLY, usable_hourly
from fundarb_core.venues import FundingRate

__all__ = ["SpreadSignal"]

_MAX_SPREAD = 2 * MAX_HOURLY  # the widest smoothed spread two usable rates can make
_ALPHA = Decimal("1e-12")  # weights on a fixed grid: the same input gives the same estimate on every machine


@attrs.define
class _Estimate:
    value: Decimal
    at: datetime
    covered: float  # seconds of observed time the estimate rests on (capped at the window)


class SpreadSignal:
    """Time-weighted EMAs of hourly funding rates, per (venue, symbol), and the spreads between them."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self.raw = window.total_seconds() <= 0  # no smoothing: the latest quote
        self._tau = max(window.total_seconds(), 1.0)
        self._estimates: dict[tuple[str, str], _Estimate] = {}
        self.seeded: set[tuple[str, str]] = set()  # seeding was tried (with or without history)
        self._last_alpha: tuple[float, Decimal] = (-1.0, Decimal(0))

    def _update(self, key: tuple[str, str], hourly: Decimal, at: datetime, held: float | None = None) -> None:
        """Blend `hourly`, held for `held` seconds (default: since the previous observation), into the estimate."""
        est = self._estimates.get(key)
        if est is None or self.raw:
            self._estimates[key] = _Estimate(hourly, at, min(held or 0.0, self._tau))
            return
        try:
            dt = held if held is not None else (at - est.at).total_seconds()
        except (TypeError, OverflowError):
            return
        if dt <= 0:
            if at >= est.at and est.covered == 0:
                est.value = hourly  # a second quote at the same instant before any time passed: the newer wins
            return
        alpha = self._alpha(dt)
        est.value += alpha * (hourly - est.value)
        est.at = max(at, est.at)
        est.covered = min(est.covered + dt, self._tau)

    def _alpha(self, dt: float) -> Decimal:
        """The weight of a rate held `dt` seconds (a tick's estimates share their `dt`: the last one is kept)."""
        if self._last_alpha[0] != dt:
            self._last_alpha = (dt, Decimal(repr(1.0 - math.exp(-dt / self._tau))).quantize(_ALPHA))
        return self._last_alpha[1]

    def seed(self, venue: str, symbol: str, history: Iterable[FundingHistoryEntry]) -> int:
        """Fold settled rates (oldest first) into the estimate, each held over its interval; return how many."""
        key = (venue, symbol)
        self.seeded.add(key)
        used = 0
        for entry in sorted(history, key=lambda e: e.at):
            try:
                seconds = entry.interval.total_seconds()
                hourly = usable_hourly(entry.rate, entry.interval)
            except (AttributeError, TypeError):
                continue
            if hourly is None:
                continue
            est = self._estimates.get(key)
            if est is not None and entry.at <= est.at:
                continue  # already observed (a restart, or overlapping pages)
            self._update(key, hourly, entry.at, held=seconds)
            used += 1
        return used

    def observe(self, venue: str, rates: Mapping[str, FundingRate], now: datetime) -> None:
        """Blend this tick's rates of one venue into its estimates (unusable rates are skipped)."""
        for symbol, rate in rates.items():
            try:
                hourly = usable_hourly(rate.rate, rate.interval)
            except AttributeError:
                continue
            if hourly is not None:
                self._update((venue, symbol), hourly, now)

    def observe_hourly(self, venue: str, hourly: Mapping[str, Decimal], now: datetime) -> None:
        """Blend this tick's hourly rates of one venue (already checked usable, as `Market.hourly` holds them).

        `_update` for each, with the time since an estimate's last observation worked out once per distinct time
        (a tick's estimates were mostly last observed together)."""
        estimates, tau = self._estimates, self._tau
        elapsed: dict[datetime, float] = {}
        for symbol, h in hourly.items():
            key = (venue, symbol)
            est = estimates.get(key)
            if est is None or self.raw:
                self._update(key, h, now)
                continue
            last = est.at
            dt = elapsed.get(last)
            if dt is None:
                try:
                    dt = elapsed[last] = (now - last).total_seconds()
                except (TypeError, OverflowError):
                    continue  # as `_update`: an observation that cannot be placed in time is skipped
            if dt <= 0:
                self._update(key, h, now)  # the same instant (or earlier): `_update`'s rule
                continue
            est.value += self._alpha(dt) * (h - est.value)
            est.at = now  # later than `last`, as dt > 0
            est.covered = min(est.covered + dt, tau)

    def rate(self, venue: str, symbol: str) -> Decimal | None:
        """The smoothed hourly rate, or None before any observation."""
        est = self._estimates.get((venue, symbol))
        return None if est is None else est.value

    def warm(self, venue: str, symbol: str) -> bool:
        """Whether the estimate rests on at least half a window of observed time (enough to open on)."""
        est = self._estimates.get((venue, symbol))
        return est is not None and (self.raw or est.covered >= self._tau / 2)

    def spread(self, symbol: str, long_venue: str, short_venue: str) -> Decimal | None:
        """The smoothed hourly spread `short − long`, or None without both estimates."""
        long_rate, short_rate = self.rate(long_venue, symbol), self.rate(short_venue, symbol)
        if long_rate is None or short_rate is None:
            return None
        spread = short_rate - long_rate
        return spread if abs(spread) <= _MAX_SPREAD else None

    def paying(self, symbols: Iterable[str], long_venue: str, short_venue: str) -> dict[str, Decimal]:
        """`spread` for each of `symbols` where it is positive (the others are left out): the scan's first screen,
        in one pass."""
        estimates = self._estimates
        out: dict[str, Decimal] = {}
        for symbol in symbols:
            long_est, short_est = estimates.get((long_venue, symbol)), estimates.get((short_venue, symbol))
            if long_est is None or short_est is None:
                continue
            spread = short_est.value - long_est.value
            if 0 < spread <= _MAX_SPREAD:
                out[symbol] = spread
        return out

    def hourly(
        self, venues: Collection[str] | None = None, symbols: Collection[str] | None = None
    ) -> dict[str, dict[str, Decimal]]:
        """Every smoothed rate, by venue and symbol; with `venues` and `symbols`, those of them alone (what the
        closer's hold guard asks for: the open positions' symbols, not every symbol listed)."""
        out: dict[str, dict[str, Decimal]] = {}
        if venues is None or symbols is None:
            for (venue, symbol), est in self._estimates.items():
                if (venues is None or venue in venues) and (symbols is None or symbol in symbols):
                    out.setdefault(venue, {})[symbol] = est.value
            return out
        estimates = self._estimates
        for venue in venues:
            for symbol in symbols:
                found = estimates.get((venue, symbol))
                if found is not None:
                    out.setdefault(venue, {})[symbol] = found.value
        return out
