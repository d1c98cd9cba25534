"""The sim world: seeded price paths and, per venue, a premium and a funding process for each symbol.

Everything moves on a fixed grid of `STEP` seconds from the world's start, so the state at a time depends only on
the seed and that time — never on when or how often anyone asked. The stochastic processes run in floats (they are
a model, not money); whatever reaches an order or an account is a Decimal on the venue's grid.

Funding, as on real venues, is driven by the premium: each venue has an *instantaneous* hourly rate that moves every
minute (a market-wide level shared by the venues of a symbol, the venue's configured bias, a slow venue-specific
component and a fast one); the venue's price sits `PREMIUM_HOURS` × that rate (less the interest floor) above the
index, so a venue whose funding is higher trades rich. The rate a venue *reports* is the time-weighted average of
the instantaneous rate since its funding interval began (the predicted rate), and the rate it *settles* is that
average over the whole interval. The constants are calibrated on real funding history: see
`benchmarks/sim_calibration.py` and docs/venues/sim.md.
"""

from __future__ import annotations

import hashlib
import math
import random
from array import array
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fundarb_core.venues.sim.catalogue import CATALOGUE

__all__ = ["FUNDING_STEPS", "STEP", "SimWorld", "stable_seed"]

STEP = 5.0  # seconds between price steps
FUNDING_STEPS = 12  # funding and premium processes move every FUNDING_STEPS price steps (one minute)
SECONDS_PER_YEAR = 365 * 24 * 3600.0
_STEP_TD = timedelta(seconds=STEP)
_US = timedelta(microseconds=1)
_STEP_US = int(STEP * 1_000_000)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Calibration (hourly rates; see docs/venues/sim.md, "Calibration"). The noise scales with the symbol's volatility.
INTEREST = 0.125e-4  # the interest floor real venues add: 0.01 % per 8 h
COMMON_MEAN, COMMON_SD, COMMON_HALF_LIFE_H = 0.1e-4, 0.1e-4, 24.0  # the market-wide level, shared by venues
SLOW_SD, SLOW_HALF_LIFE_H = 0.075e-4, 24.0  # a venue's own slow drift away from the others
FAST_SD, FAST_HALF_LIFE_H = 0.085e-4, 1.0  # the predicted rate's minute-to-minute noise
PREMIUM_HOURS = 8.0  # price premium over the index (fraction) per unit of hourly rate above the interest floor
MICRO_SD, MICRO_HALF_LIFE_MIN = 1.2, 15.0  # a venue's price noise around its premium, bps (× vol ratio ** 1.5)
_REF_VOL = 0.55  # BTC's annual volatility: the reference for the noise scale


def stable_seed(*parts: object) -> int:
    """A seed derived from `parts` that is the same in every process (unlike `hash`)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def noise_scale(symbol: str, power: float) -> float:
    """How much more a symbol's funding moves than BTC's: (annual volatility / BTC's) ** power."""
    return float((CATALOGUE[symbol].annual_vol / _REF_VOL) ** power)


class _OU:
    """An Ornstein-Uhlenbeck process sampled every minute: its per-minute pull and shock."""

    __slots__ = ("mean", "pull", "shock")

    def __init__(self, mean: float, sd: float, half_life_minutes: float) -> None:
        self.mean = mean
        self.pull = 1.0 - 0.5 ** (1.0 / half_life_minutes)
        self.shock = sd * math.sqrt(1.0 - (1.0 - self.pull) ** 2)


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


class _Common:
    """A symbol's market-wide funding level (hourly), shared by every venue of the world, one value a minute."""

    def __init__(self, seed: int, symbol: str) -> None:
        self.rng = random.Random(stable_seed(seed, "common", symbol))
        scale = noise_scale(symbol, 1.0)
        self.ou = _OU(COMMON_MEAN, COMMON_SD * scale, COMMON_HALF_LIFE_H * 60)
        self.level = self.rng.gauss(COMMON_MEAN, COMMON_SD * scale)
        self.levels = array("d", [self.level])

    def extend(self, minutes: int) -> None:
        rng, ou, level = self.rng, self.ou, self.level
        for _ in range(minutes):
            level += ou.pull * (ou.mean - level) + rng.gauss(0.0, ou.shock)
            self.levels.append(level)
        self.level = level


class _VenueProcess:
    """One venue's instantaneous hourly funding rate and price basis (bps over the index) for one symbol.

    `rates[m]` is the rate in force during minute m; `sums[m]` the sum of `rates[:m]` (for time-weighted averages).
    """

    def __init__(self, seed: int, venue: str, symbol: str, bias_per_hour: float, common: _Common) -> None:
        self.rng = random.Random(stable_seed(seed, "venue", venue, symbol))
        self.bias = bias_per_hour
        self.common = common
        slow_scale, fast_scale = noise_scale(symbol, 1.0), noise_scale(symbol, 2.0)  # alts: noisier, less persistent
        self.slow_ou = _OU(0.0, SLOW_SD * slow_scale, SLOW_HALF_LIFE_H * 60)
        self.fast_ou = _OU(0.0, FAST_SD * fast_scale, FAST_HALF_LIFE_H * 60)
        micro_sd = MICRO_SD * noise_scale(symbol, 1.5)
        self.micro_ou = _OU(0.0, micro_sd, MICRO_HALF_LIFE_MIN)
        self.slow = self.rng.gauss(0.0, SLOW_SD * slow_scale)
        self.fast = self.rng.gauss(0.0, FAST_SD * fast_scale)
        self.micro = self.rng.gauss(0.0, micro_sd)
        self.rates = array("d")
        self.bases = array("d")
        self.sums = array("d", [0.0])
        self._append()

    def _append(self) -> None:
        minute = len(self.rates)
        common = self.common.levels
        if len(common) <= minute:
            self.common.extend(minute + 1 - len(common))
        rate = common[minute] + self.bias + self.slow + self.fast
        self.rates.append(rate)
        self.bases.append(PREMIUM_HOURS * (rate - INTEREST) * 10_000 + self.micro)
        self.sums.append(self.sums[-1] + rate)

    def extend(self, minutes: int) -> None:
        rng, slow_ou, fast_ou, micro_ou = self.rng, self.slow_ou, self.fast_ou, self.micro_ou
        for _ in range(minutes):
            self.slow += -slow_ou.pull * self.slow + rng.gauss(0.0, slow_ou.shock)
            self.fast += -fast_ou.pull * self.fast + rng.gauss(0.0, fast_ou.shock)
            self.micro += -micro_ou.pull * self.micro + rng.gauss(0.0, micro_ou.shock)
            self._append()

    def step_sum(self, steps: int) -> float:
        """The sum of the rate over price steps `[0, steps)` (each step carries its minute's rate)."""
        minute, part = divmod(steps, FUNDING_STEPS)
        total = self.sums[minute] * FUNDING_STEPS
        return total + part * self.rates[minute] if part else total


class SimWorld:
    """Prices and funding for all simulated venues of one run, starting at `start`."""

    def __init__(self, seed: int, start: datetime) -> None:
        self.seed = seed
        self.start = start
        self._start_us = (start - _EPOCH) // _US  # the start in µs since the Unix epoch: funding grids in integers
        self._paths: dict[str, _Path] = {}
        self._common: dict[str, _Common] = {}
        self._venues: dict[tuple[str, str], _VenueProcess] = {}

    def step_at(self, when: datetime) -> int:
        """The index of the price step in force at `when` (0 before the start)."""
        return max(0, int((when - self.start).total_seconds() // STEP))

    def last_step_before(self, when: datetime) -> int:
        """The last step that starts strictly before `when` (−1 if none)."""
        return -((self.start - when) // _STEP_TD) - 1  # ceil((when - start) / STEP) - 1, exactly

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
            common = self._common.get(symbol)
            if common is None:
                common = self._common[symbol] = _Common(self.seed, symbol)
            proc = self._venues[key] = _VenueProcess(self.seed, venue, symbol, bias, common)
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

    def basis_bps(self, venue: str, symbol: str, step: int) -> float:
        """The venue's price over the index, in bps: its funding premium plus microstructure noise."""
        return self._venue_at(venue, symbol, step).bases[step // FUNDING_STEPS]

    def venue_mid(self, venue: str, symbol: str, step: int) -> float:
        """The venue's own mid: the index moved by the venue's basis (bps)."""
        return self.index_price(symbol, step) * (1.0 + self.basis_bps(venue, symbol, step) / 10_000.0)

    def hourly_rate(self, venue: str, symbol: str, step: int) -> float:
        """The venue's instantaneous funding rate per hour (what its premium implies right now)."""
        return self._venue_at(venue, symbol, step).rates[step // FUNDING_STEPS]

    def interval_start_step(self, step: int, interval: timedelta) -> int:
        """The first step of the funding interval (on the Unix-epoch grid) that contains `step`, clipped to 0."""
        at = self._start_us + step * _STEP_US
        begins = at - at % (interval // _US)
        return max(0, -((self._start_us - begins) // _STEP_US))  # the first step at or after `begins`

    def average_hourly_rate(self, venue: str, symbol: str, step: int, interval: timedelta) -> float:
        """The time-weighted average of the instantaneous rate from the start of `step`'s funding interval to
        `step` (inclusive): the predicted rate, which at the interval's last step is the rate it settles."""
        proc = self._venue_at(venue, symbol, step)
        first = self.interval_start_step(step, interval)
        return (proc.step_sum(step + 1) - proc.step_sum(first)) / (step + 1 - first)

    def funding_rate(self, venue: str, symbol: str, step: int, interval: timedelta) -> Decimal:
        """The predicted rate per `interval` at `step`, as the venue reports it, on a 1e-8 grid; capped at ±0.3 %
        per hour. At the last step before a funding time it is the rate settled there."""
        hourly = max(-0.003, min(0.003, self.average_hourly_rate(venue, symbol, step, interval)))
        return Decimal(repr(hourly * interval.total_seconds() / 3600.0)).quantize(Decimal("1e-8"))
