"""The earlier bot's rules against today's defaults, on the real data set: training part and held-out parts.

    .venv/bin/python benchmarks/strategy_backtests.py [--data-dir var/demo] [--only NAME]

Imports the shipped demo data (the whole real data set: fundarb_core/data/demo) into the data directory when it is
not there yet, then runs `fundarb backtest --json` for every period below, once with the earlier rules and once with
today's defaults (fundarb_core/data/demo/demo.toml), and prints a markdown table (docs/strategy.md shows it).

The defaults were chosen on the *training* part (Binance, Bybit and Hyperliquid, 2025-03-08 → 2025-09-01); the
*held-out* parts were run after, to report, not to tune.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fundarb_core" / "data" / "demo"
FUNDARB = Path(sys.executable).with_name("fundarb")

# (name, part, venues, from, to)
PERIODS = [
    ("B+B train", "training", ["binance", "bybit"], "2025-03-08", "2025-09-01"),
    ("HL+B+B train", "training", ["hyperliquid", "binance", "bybit"], "2025-03-08", "2025-04-17"),
    ("B+B held out", "held out", ["binance", "bybit"], "2025-09-01", "2025-12-31"),
    ("Lighter window held out", "held out", ["lighter", "hyperliquid", "binance", "bybit"], "2025-10-10", "2025-12-31"),
]

# The earlier bot's rules, as settings of today's code: the latest quote (no smoothing), maker fees only, amortised
# over 48 h, a 20 % bar, both legs posted as makers, a 1 % price gap, exits on erosion ratios of the entry spread
# after 8 h, no exit floor and no settlement wait.
OLD_RULES: dict[str, dict[str, Any]] = {
    "strategy": {
        "signal_window": "0s",
        "entry_hold": "48h",
        "min_net_apr": "0.20",
        "maker_share": "1",
        "slippage_bps": "0",
        "half_spread_bps": "0",
        "settlement_window": "0s",
        "max_price_gap": "0.01",
        "open_mode": "both_maker",
    },
    "risk_manager": {
        "kind": "combined",
        "exit_apr": None,
        "erosion_threshold": "0.5",
        "severe_erosion_threshold": "0.2",
        "min_hold": "8h",
        "settlement_wait": "0s",
        "max_age": "168h",
    },
}


def config_for(venues: list[str], old: bool) -> dict[str, Any]:
    data = tomllib.loads((DEMO / "demo.toml").read_text(encoding="utf-8"))
    data["venues"] = {name: spec for name, spec in data["venues"].items() if name in venues}
    if old:
        for section, values in OLD_RULES.items():
            merged = {**data.get(section, {}), **values}
            data[section] = {k: v for k, v in merged.items() if v is not None}
    return data


def backtest(config: dict[str, Any], data_dir: Path, start: str, end: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bt.toml"
        path.write_text(tomli_w.dumps(config), encoding="utf-8")
        out = subprocess.run(
            [FUNDARB, "backtest", "--config", path, "--data-dir", data_dir, "--from", start, "--to", end,
             "--out", Path(tmp) / "out", "--json"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def row(name: str, rules: str, r: dict[str, Any]) -> str:
    def d(key: str) -> Decimal:
        return Decimal(r[key] or 0)

    hold = f"{float(r['avg_hold_hours']):.1f}" if r["avg_hold_hours"] is not None else "–"
    cells = [
        name, rules, f"{d('net_pnl'):.2f}", f"{d('price_pnl'):.2f}", f"{d('funding'):.2f}", f"{d('fees'):.2f}",
        f"{d('funding') - d('fees'):+.2f}", f"{d('apr') * 100:.2f} %", f"{d('max_drawdown_usd'):.2f}",
        str(r["trades"]), hold, str(r["open_at_end"]),
    ]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var" / "demo")
    parser.add_argument("--only", help="run only the period of this name")
    args = parser.parse_args()
    if not (args.data_dir / "history.duckdb").exists():
        files = [DEMO / "funding_rates.csv.gz", DEMO / "candles_1h.csv.gz"]
        subprocess.run([FUNDARB, "data", "import", "--data-dir", args.data_dir, *files], check=True)
    print("| period | rules | net USD | price | funding | fees | funding − fees | APR | max DD USD | trades "
          "| avg hold h | open at end |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, part, venues, start, end in PERIODS:
        if args.only and args.only != name:
            continue
        label = f"{part}: {' + '.join(venues)}, {start} → {end}"
        for rules, old in (("earlier", True), ("defaults", False)):
            result = backtest(config_for(venues, old), args.data_dir, start, end)
            print(row(label if old else "", rules, result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
