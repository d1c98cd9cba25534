"""The sim world: seeded price paths and, per venue, a basis and a funding process for each symbol.

Everything moves on a fixed grid of `STEP` seconds from the world's start, so the state at a time depends only on
the seed and that time — never on when or how often anyone asked. The stochastic processes run in floats (they are
a model, not money); whatever reaches an order or an account is a Decimal on the venue's grid.
"""

from __future__ import annotations

import hashlib
import math
import random
from array import array
from datetime import datetime, timedelta
from decimal import Decimal

from fundarb_core.venues.sim.catalogue import CATALOGUE

__all__ = ["FUNDING_STEPS", "STEP", "SimWorld", "stable_seed"]

STEP = 5.0  # seconds between price steps
FUNDING_STEPS = 12  # funding and basis processes move every FUNDING_STEPS price steps (one minute)
SECONDS_PER_YEAR = 365 * 24 * 3600.0


def stable_seed(*parts: object) -> int:
    """A seed derived from `parts` that is the same in every process (unlike `hash`)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class _Path:
    """One symbol's mid-price path: geometric Brownian motion with occasional jumps."""

    def __init__(self, seed: int, symbol: str) -> None:
        spec = CATALOGUE[symbol]
        self.rng = random.Random(stable_seed(seed, "path", symbol))
        self.sigma = spec.annual_vol * math.sqrt(STEP / SECONDS_PER_YEAR)
        self.jump_p = STEP / (3 * 86400.0)  # about one jump every three days
        self.values = array("d", [spec.price])

    def extend(self, steps: int) -> None:
        rng, sigma, values = self.rng, self.sigma, self.values
        last = values[-1]
        for _ in range(steps):
            shock = rng.gauss(-0.5 * sigma * sigma, sigma)
            if rng.random() < self.jump_p:
                shock += rng.gauss(0.0, 0.015)
            last *= math.exp(shock)
            values.append(last)


class _VenueProcess:
    """One venue's basis (bps around the world mid) and hourly funding rate for one symbol.

    Funding follows a mean-reverting process whose mean flips between regimes (so spreads open and close).
    """

    def __init__(self, seed: int, venue: str, symbol: str, bias_per_hour: float) -> None:
        self.rng = random.Random(stable_seed(seed, "venue", venue, symbol))
        self.bias = bias_per_hour
        self.mean = self._draw_mean()
        self.rate = self.mean
        self.basis = self.rng.gauss(0.0, 2.0)
        self.rates = array("d", [self.rate])
        self.bases = array("d", [self.basis])

    def _draw_mean(self) -> float:
        # Hourly funding means between −0.3 and +0.6 bp per hour (≈ −26 % to +53 % APR), biased positive.
        return self.rng.uniform(-0.00003, 0.00006) + self.bias

    def extend(self, minutes: int) -> None:
        rng = self.rng
        for _ in range(minutes):
            if rng.random() < 1 / (36 * 60):  # a regime change about every 36 hours
                self.mean = self._draw_mean()
            self.rate += 0.02 * (self.mean - self.rate) + rng.gauss(0.0, 0.0000015)
            self.basis += 0.05 * (0.0 - self.basis) + rng.gauss(0.0, 0.6)
            self.rates.append(self.rate)
            self.bases.append(self.basis)


class SimWorld:
    """Prices and funding for all simulated venues of one run, starting at `start`."""

    def __init__(self, seed: int, start: datetime) -> None:
        self.seed = seed
        self.start = start
        self._paths: dict[str, _Path] = {}
        self._venues: dict[tuple[str, str], _VenueProcess] = {}

    def step_at(self, when: datetime) -> int:
        """The index of the price step in force at `when` (0 before the start)."""
        return max(0, int((when - self.start).total_seconds() // STEP))

    def time_of(self, step: int) -> datetime:
        return self.start + timedelta(seconds=step * STEP)

    def _path(self, symbol: str) -> _Path:
        path = self._paths.get(symbol)
        if path is None:
            path = self._paths[symbol] = _Path(self.seed, symbol)
        return path

    def _process(self, venue: str, symbol: str, bias: float = 0.0) -> _VenueProcess:
        key = (venue, symbol)
        proc = self._venues.get(key)
        if proc is None:
            proc = self._venues[key] = _VenueProcess(self.seed, venue, symbol, bias)
        return proc

    def register(self, venue: str, symbol: str, bias_per_hour: float) -> None:
        """Create a venue's processes for a symbol with its funding bias (idempotent)."""
        self._process(venue, symbol, bias_per_hour)

    def index_price(self, symbol: str, step: int) -> float:
        path = self._path(symbol)
        missing = step + 1 - len(path.values)
        if missing > 0:
            path.extend(missing)
        return path.values[step]

    def _venue_at(self, venue: str, symbol: str, step: int) -> _VenueProcess:
        proc = self._process(venue, symbol)
        minute = step // FUNDING_STEPS
        missing = minute + 1 - len(proc.rates)
        if missing > 0:
            proc.extend(missing)
        return proc

    def venue_mid(self, venue: str, symbol: str, step: int) -> float:
        """The venue's own mid: the index moved by the venue's basis (bps)."""
        proc = self._venue_at(venue, symbol, step)
        return self.index_price(symbol, step) * (1.0 + proc.bases[step // FUNDING_STEPS] / 10_000.0)

    def hourly_rate(self, venue: str, symbol: str, step: int) -> float:
        """The venue's current funding rate per hour (the venue reports it per its own interval)."""
        return self._venue_at(venue, symbol, step).rates[step // FUNDING_STEPS]

    def funding_rate(self, venue: str, symbol: str, step: int, interval: timedelta) -> Decimal:
        """The rate per `interval`, as the venue reports it, on a 1e-8 grid; capped at ±0.3 % per hour."""
        hourly = max(-0.003, min(0.003, self.hourly_rate(venue, symbol, step)))
        return Decimal(repr(hourly * interval.total_seconds() / 3600.0)).quantize(Decimal("1e-8"))
