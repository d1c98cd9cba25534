#!/usr/bin/env python3
"""A year of hourly funding and prices for 100 symbols on 2 venues through the default strategy: time, events/s,
and the `data import` rate.

    .venv/bin/python benchmarks/backtest.py [--quick] [--days N] [--symbols N] [--backtest-days N]

Synthetic data of a realistic shape (`fundarb_core.venues.replay.synthetic`: a random walk per symbol shared by
both venues with a small basis each, and a mean-reverting hourly funding rate per venue whose mean jumps between
regimes): 100 symbols × 2 venues × 8,760 hours = 1.75 M funding rows and as many candles. The CSV files are
imported with `HistoryStore.import_csv` (what `fundarb data import` runs), then `run_backtest` (what `fundarb
backtest` runs) replays them through the bot with the default close policy and no risk manager, scanning hourly.
Events are the recorded rows replayed (funding settlements and candles). `--quick`: 30 days, 20 symbols.
`--backtest-days N` imports the whole data set but replays only its first N days (the per-day cost is steady).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fundarb_core.app.backtest import run_backtest
from fundarb_core.config import parse_config
from fundarb_core.plugins import Plugins
from fundarb_core.store.history import HistoryStore
from fundarb_core.venues.replay.synthetic import (
    CANDLE_HEADER,
    FUNDING_HEADER,
    synthetic_candles,
    synthetic_funding,
    write_csv,
)

START = datetime(2025, 1, 1, tzinfo=UTC)
VENUES = ("alpha", "beta")
BEFORE = "365 days × 100 symbols: 1,425.5 s = 2,458 events/s; import 86,367 funding / 48,528 candle rows/s"


def config(symbols: int) -> dict[str, object]:
    venue = {"kind": "replay", "maker_fee": "0.0002", "taker_fee": "0.0005", "spread_bps": "2"}
    return {
        "bot": {"log_level": "WARNING"},
        "venues": {name: dict(venue) for name in VENUES},
        "strategy": {"scan_interval": "1h", "monitor_interval": "1h", "max_positions": 10},
    }


def main(quick: bool = False) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--symbols", type=int, default=None)
    parser.add_argument("--backtest-days", type=int, default=None)
    args = parser.parse_args(sys.argv[1:])
    quick = quick or args.quick
    days = args.days or (30 if quick else 365)
    count = args.symbols or (20 if quick else 100)
    hours = days * 24
    replay_days = min(args.backtest_days or days, days)
    replay_hours = replay_days * 24
    symbols = [f"S{i:03d}" for i in range(count)]
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    with tempfile.TemporaryDirectory(prefix="fundarb-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        files = []
        for venue in VENUES:
            files.append(root / f"{venue}-funding.csv")
            write_csv(files[-1], FUNDING_HEADER, synthetic_funding(venue, symbols, START, hours, seed=1))
            files.append(root / f"{venue}-candles.csv")
            write_csv(files[-1], CANDLE_HEADER, synthetic_candles(venue, symbols, START, hours, seed=1))
        print(f"   generated {len(files)} CSV files in {time.perf_counter() - started:.1f} s")
        imported = {"funding": 0, "candles": 0}
        spent = {"funding": 0.0, "candles": 0.0}
        with HistoryStore.open(root / "data") as store:
            for path in files:
                t0 = time.perf_counter()
                report = store.import_csv(path)
                spent[report.kind] += time.perf_counter() - t0
                imported[report.kind] += report.added
        for kind in ("funding", "candles"):
            print(f"   data import ({kind}): {imported[kind]:,} rows in {spent[kind]:.1f} s = "
                  f"{imported[kind] / spent[kind]:,.0f} rows/s")  # fmt: skip
        plugins = Plugins().load()
        parsed = parse_config(config(count), plugins)
        ticks: list[float] = []  # wall time at each progress report: one per tick, then one at the end

        def progress(done: float, total: float) -> None:
            ticks.append(time.perf_counter())

        t0 = time.perf_counter()
        result = asyncio.run(
            run_backtest(parsed, plugins, START + timedelta(hours=1), START + timedelta(hours=replay_hours),
                         history_dir=root / "data", out_dir=root / "out", on_progress=progress)
        )  # fmt: skip
        elapsed = time.perf_counter() - t0
        summary = result.as_dict()
        print(f"   backtest: {replay_days} days × {count} symbols × {len(VENUES)} venues: {elapsed:.1f} s, "
              f"{result.rows_replayed:,} events = {result.rows_replayed / elapsed:,.0f} events/s "
              f"({summary['trades']} trades, net {summary['net_pnl']} USD)")  # fmt: skip
        if len(ticks) > 2:
            # Where it went: before the first tick (the series read from the history store, the bot built), in the
            # ticks (each one's wall time is the time between two progress reports; the first one's is taken to be
            # the median), and after the last tick (the last settlements, the figures, the store closed).
            spans = [b - a for a, b in itertools.pairwise(ticks[:-1])]
            first = statistics.median(spans)
            setup, after = ticks[0] - t0 - first, t0 + elapsed - ticks[-2]
            spans = sorted([first, *spans])
            slow = spans[-max(1, len(spans) // 20) :]  # the slowest 5 %: mostly the ticks that open or close
            print(f"   where: {setup:.1f} s before the first tick (reading the series, building the bot), "
                  f"{sum(spans):.1f} s in {len(spans):,} ticks (median {1000 * first:.1f} ms; the slowest 5 % "
                  f"{sum(slow):.1f} s), {after:.1f} s after")  # fmt: skip
        print(f"   before (issue 14, one transaction per store call, threaded SQLite): {BEFORE}")


if __name__ == "__main__":
    main()
