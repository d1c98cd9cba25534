"""Synthetic history of a realistic shape, for tests and benchmarks: hourly candles and funding per venue.

Prices follow a seeded geometric random walk per symbol shared by all venues (each venue adds a small basis);
funding is a mean-reverting hourly rate per venue whose mean jumps between regimes, so spreads between venues open
and close as they do in the real data. Rows come out in the real-funding CSV schema (text fields).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from fundarb_core.venues.replay.data import ReplayData, Series
from fundarb_core.venues.sim.world import stable_seed

__all__ = ["replay_data", "synthetic_candles", "synthetic_funding", "write_csv"]

FUNDING_HEADER = ("timestamp_utc", "venue", "coin", "funding_rate", "interval_hours")
CANDLE_HEADER = ("timestamp_utc", "venue", "coin", "o", "h", "l", "c", "v")


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _price_path(seed: int, symbol: str, hours: int) -> list[float]:
    rng = random.Random(stable_seed(seed, "price", symbol))
    price = 10 ** rng.uniform(-1, 4.5)
    sigma = rng.uniform(0.4, 1.2) / math.sqrt(24 * 365 * 4)  # per quarter hour
    out = [price]
    for _ in range(hours * 4):
        price *= math.exp(rng.gauss(-0.5 * sigma * sigma, sigma))
        out.append(price)
    return out


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def synthetic_candles(
    venue: str, symbols: Sequence[str], start: datetime, hours: int, seed: int = 0
) -> Iterator[tuple[str, ...]]:
    """Hourly candles (CSV fields) for `symbols` on `venue` from `start`, for `hours` hours."""
    for symbol in symbols:
        path = _price_path(seed, symbol, hours)
        basis = 1 + random.Random(stable_seed(seed, "basis", venue, symbol)).uniform(-0.0005, 0.0005)
        for h in range(hours):
            quarter = [p * basis for p in path[h * 4 : h * 4 + 5]]
            o, c = quarter[0], quarter[-1]
            o_s, c_s = _fmt(o), _fmt(c)
            high = max(float(o_s), float(c_s), *quarter) * 1.0005
            low = min(float(o_s), float(c_s), *quarter) * 0.9995
            yield (_iso(start + timedelta(hours=h)), venue, symbol, o_s, _fmt(high * 1.00001), _fmt(low * 0.99999),
                   c_s, "100")  # fmt: skip


def synthetic_funding(
    venue: str, symbols: Sequence[str], start: datetime, hours: int, seed: int = 0, interval_hours: int = 1
) -> Iterator[tuple[str, ...]]:
    """Funding settlements (CSV fields) every `interval_hours` for `symbols` on `venue`."""
    for symbol in symbols:
        rng = random.Random(stable_seed(seed, "funding", venue, symbol))
        mean = rate = rng.uniform(-0.00002, 0.00004)
        for h in range(0, hours, interval_hours):
            if rng.random() < 1 / 48:
                mean = rng.uniform(-0.00003, 0.00006)
            rate += 0.2 * (mean - rate) + rng.gauss(0, 0.000004)
            yield (_iso(start + timedelta(hours=h)), venue, symbol, f"{rate * interval_hours:.8f}", str(interval_hours))


def write_csv(path: Path, header: Sequence[str], rows: Iterator[tuple[str, ...]]) -> int:
    """Write `rows` under `header` to `path`; return how many."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def replay_data(
    venue: str, symbols: Sequence[str], start: datetime, hours: int, seed: int = 0, interval_hours: int = 1
) -> ReplayData:
    """The same synthetic series as in-memory replay data (no store needed)."""
    data = ReplayData(venue, 3_600_000)
    epoch = datetime(1970, 1, 1, tzinfo=start.tzinfo)
    for at, _, symbol, rate, interval in synthetic_funding(venue, symbols, start, hours, seed, interval_hours):
        s = data.series.setdefault(symbol, Series())
        s.funding_at.append(int((datetime.fromisoformat(at) - epoch).total_seconds()) * 1000)
        s.funding_rate.append(rate)
        s.funding_interval.append(int(interval) * 3600)
    for at, _, symbol, o, h, low, c, _v in synthetic_candles(venue, symbols, start, hours, seed):
        s = data.series.setdefault(symbol, Series())
        s.candle_at.append(int((datetime.fromisoformat(at) - epoch).total_seconds()) * 1000)
        s.candles.append((o, h, low, c))
    return data
