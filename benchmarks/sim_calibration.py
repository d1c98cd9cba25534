"""Calibration of the sim's funding and basis processes against real funding history: one command, figures printed.

    .venv/bin/python benchmarks/sim_calibration.py [--data PATH] [--days N] [--seed S]

It reads the real funding and candle CSVs (by default the project's compact copy in fundarb_core/data/demo/, or the
directory `--data` names, e.g. ../shared/data/real-funding), builds the *hourly* cross-venue funding spread (bp per
hour) of each venue pair and coin exactly as a strategy sees it after settlement (an 8-hourly venue's settled rate
holds over its 8 hours; an hourly venue's value stamped h covers [h, h+1), see the data README), and prints, per pair
and coin, the figures the sim is calibrated to:

- level: mean, standard deviation and 5 / 50 / 95 % quantiles of the spread;
- noise: the standard deviation of its hour-to-hour change;
- persistence: its autocorrelation at 1, 8, 24 and 48 h and the lag where the autocorrelation falls to one half
  (its half-life);
- basis: the slope and correlation of the cross-venue price difference (bps, hourly closes) on the funding spread.

Then it prints the same figures for the sim (an `aster-like` 8-hourly venue against a `lighter-like` hourly one, as
the starter config pairs them, no bias: noise only), computed from the rates the sim *settles*, averaged over a few
seeds (one world is one sample path: its persistence figures vary from seed to seed as much as real coins do).
Only the standard library and fundarb_core are used, so it runs in the project's environment as it is.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import math
import statistics as st
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fundarb_core.venues.sim.world import SimWorld

DEMO = Path(__file__).resolve().parents[1] / "fundarb_core" / "data" / "demo"
COINS = ("BTC", "ETH", "SOL", "DOGE", "HYPE")
REAL_PAIRS = (("binance", "hyperliquid"), ("binance", "lighter"), ("hyperliquid", "lighter"), ("binance", "bybit"))
LAGS = (1, 8, 24, 48)

Series = dict[int, float]  # hour index since the epoch → value


def _rows(folder: Path, name: str) -> Iterator[dict[str, str]]:
    plain, packed = folder / name, folder / f"{name}.gz"
    with (
        gzip.open(packed, "rt", newline="") if packed.exists() and not plain.exists() else plain.open(newline="")
    ) as handle:
        yield from csv.DictReader(handle)


def _hour(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() // 3600)


def real_funding(folder: Path) -> dict[tuple[str, str], Series]:
    """Hourly rate (bp per hour) per (venue, coin), each hour carrying the rate settled for it."""
    out: dict[tuple[str, str], Series] = defaultdict(dict)
    for row in _rows(folder, "funding_rates.csv"):
        hours = int(row["interval_hours"])
        hourly = float(row["funding_rate"]) / hours * 10_000
        stamp = _hour(row["timestamp_utc"])
        series = out[(row["venue"], row["coin"])]
        if row["venue"] in ("hyperliquid", "lighter"):
            series[stamp] = hourly  # hourly averages of the predicted rate, stamped at the hour they cover
        else:
            for k in range(hours):  # settled at `stamp` for the interval before it
                series[stamp - hours + k] = hourly
    return out


def real_closes(folder: Path) -> dict[tuple[str, str], Series]:
    out: dict[tuple[str, str], Series] = defaultdict(dict)
    for row in _rows(folder, "candles_1h.csv"):
        out[(row["venue"], row["coin"])][_hour(row["timestamp_utc"])] = float(row["c"])
    return out


def _acf(series: Series, lag: int) -> float:
    pairs = [(v, series[h + lag]) for h, v in series.items() if h + lag in series]
    if len(pairs) < 50:
        return math.nan
    xs, ys = zip(*pairs, strict=True)
    mx, my = st.fmean(xs), st.fmean(ys)
    num = sum((x - mx) * (y - my) for x, y in pairs)
    den = math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))
    return num / den if den else math.nan


def half_life(series: Series, max_lag: int = 72) -> float:
    """The lag (hours, interpolated) where the autocorrelation first falls to 0.5."""
    before = 1.0
    for lag in range(1, max_lag + 1):
        now = _acf(series, lag)
        if math.isnan(now):
            return math.nan
        if now <= 0.5:
            return lag - 1 + (before - 0.5) / (before - now)
        before = now
    return math.inf


def _quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[round(q * (len(sorted_values) - 1))]


def spread_figures(spread: Series) -> dict[str, float]:
    values = sorted(spread.values())
    changes = [v - spread[h - 1] for h, v in spread.items() if h - 1 in spread]
    figures = {
        "hours": float(len(values)),
        "mean": st.fmean(values),
        "sd": st.pstdev(values),
        "p5": _quantile(values, 0.05),
        "p50": _quantile(values, 0.5),
        "p95": _quantile(values, 0.95),
        "sd_change": st.pstdev(changes) if len(changes) > 1 else math.nan,
        "half_life": half_life(spread),
    }
    figures.update({f"acf{lag}": _acf(spread, lag) for lag in LAGS})
    return figures


def basis_figures(spread: Series, price_diff: Series) -> tuple[float, float]:
    """Slope (bps of price per bp/h of funding) and correlation of the price difference on the funding spread."""
    hours = [h for h in spread if h in price_diff]
    if len(hours) < 50:
        return math.nan, math.nan
    xs, ys = [spread[h] for h in hours], [price_diff[h] for h in hours]
    mx, my = st.fmean(xs), st.fmean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return sxy / sxx, sxy / math.sqrt(sxx * syy)


def sim_series(seed: int, days: int, coin: str) -> tuple[Series, Series, Series]:
    """The settled hourly rates of an aster-like (8 h) and a lighter-like (1 h) sim venue, and their price gap."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    world = SimWorld(seed, start)
    for venue in ("aster_sim", "lighter_sim"):
        world.register(venue, coin, 0.0)
    eight, one = timedelta(hours=8), timedelta(hours=1)
    base = int(start.timestamp() // 3600)
    aster: Series = {}
    lighter: Series = {}
    gap: Series = {}
    for h in range(1, days * 24 + 1):
        boundary = start + timedelta(hours=h)
        last = world.last_step_before(boundary)
        lighter[base + h - 1] = float(world.funding_rate("lighter_sim", coin, last, one)) * 10_000
        if h % 8 == 0:
            rate = float(world.funding_rate("aster_sim", coin, last, eight)) / 8 * 10_000
            for k in range(8):
                aster[base + h - 8 + k] = rate
        # the price difference at the hour's last step (hourly closes), in bps
        a, b = world.basis_bps("aster_sim", coin, last), world.basis_bps("lighter_sim", coin, last)
        gap[base + h - 1] = math.log((1 + a / 10_000) / (1 + b / 10_000)) * 10_000
    return aster, lighter, gap


def _diff(a: Mapping[int, float], b: Mapping[int, float]) -> Series:
    return {h: a[h] - b[h] for h in a if h in b}


HEADER = (
    f"{'pair':28s} {'coin':5s} {'hours':>6s} {'mean':>7s} {'sd':>6s} {'p5':>7s} {'p50':>7s} {'p95':>7s} "
    f"{'sd_dh':>6s} {'hl_h':>5s} " + " ".join(f"{'acf' + str(lag):>6s}" for lag in LAGS) + f" {'b_bps':>6s} {'b_r':>5s}"
)


def _line(pair: str, coin: str, f: Mapping[str, float], basis: tuple[float, float]) -> str:
    return (
        f"{pair:28s} {coin:5s} {f['hours']:6.0f} {f['mean']:+7.3f} {f['sd']:6.3f} {f['p5']:+7.3f} {f['p50']:+7.3f} "
        f"{f['p95']:+7.3f} {f['sd_change']:6.3f} {f['half_life']:5.1f} "
        + " ".join(f"{f['acf' + str(lag)]:+6.2f}" for lag in LAGS)
        + f" {basis[0]:6.1f} {basis[1]:5.2f}"
    )


def main(argv: list[str] | None = None, *, quick: bool = False) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEMO, help="folder of funding_rates.csv[.gz], candles_1h.csv[.gz]")
    parser.add_argument("--days", type=int, default=30 if quick else 90, help="simulated days per coin and seed")
    parser.add_argument(
        "--seeds", type=int, default=2 if quick else 6, help="sim worlds (seeds 1..N), figures averaged"
    )
    args = parser.parse_args(argv)
    funding, closes = real_funding(args.data), real_closes(args.data)
    print("hourly funding spread A − B in bp per hour (settled rates); sd_dh: sd of hourly change; hl_h: lag where")
    print("the autocorrelation falls to 0.5; b_bps, b_r: slope (price bps per bp/h) and correlation of price gap")
    print(HEADER)
    for a, b in REAL_PAIRS:
        for coin in COINS:
            spread = _diff(funding.get((a, coin), {}), funding.get((b, coin), {}))
            if len(spread) < 200:
                continue
            ca, cb = closes.get((a, coin), {}), closes.get((b, coin), {})
            gap = {h: math.log(ca[h] / cb[h]) * 10_000 for h in ca if h in cb}
            print(_line(f"real {a}-{b}", coin, spread_figures(spread), basis_figures(spread, gap)))
    levels: dict[tuple[str, str], list[float]] = defaultdict(list)
    for coin in COINS:
        runs, slopes = [], []
        for seed in range(1, args.seeds + 1):
            aster, lighter, gap = sim_series(seed, args.days, coin)
            spread = _diff(aster, lighter)
            runs.append(spread_figures(spread))
            slopes.append(basis_figures(spread, gap))
            levels[("aster_sim", coin)] += aster.values()
            levels[("lighter_sim", coin)] += lighter.values()
        figures = {key: st.fmean(run[key] for run in runs) for key in runs[0]}
        basis = (st.fmean(s[0] for s in slopes), st.fmean(s[1] for s in slopes))
        print(_line(f"sim aster-lighter ({args.seeds} seeds)", coin, figures, basis))
    print("\nper-venue hourly rate levels (bp per hour): mean, p5, p50, p95")
    for (venue, coin), series in sorted(funding.items()):
        values = sorted(series.values())
        print(f"real {venue:12s} {coin:5s} {st.fmean(values):+7.3f} {_quantile(values, 0.05):+7.3f} "
              f"{_quantile(values, 0.5):+7.3f} {_quantile(values, 0.95):+7.3f}")  # fmt: skip
    for (venue, coin), pooled in sorted(levels.items()):
        values = sorted(pooled)
        print(f"sim  {venue:12s} {coin:5s} {st.fmean(values):+7.3f} {_quantile(values, 0.05):+7.3f} "
              f"{_quantile(values, 0.5):+7.3f} {_quantile(values, 0.95):+7.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
