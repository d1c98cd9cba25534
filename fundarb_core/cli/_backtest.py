"""`fundarb backtest`: replay recorded history through the bot and report what it would have made."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from fundarb_core.cli import fail, get_plugins
from fundarb_core.cli._data import WHEN, history_dir


async def _backtest(config: Any, start: datetime, end: datetime, history: Path, out: Path, show: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from fundarb_core.app.backtest import run_backtest

    columns = (TextColumn("backtest {task.fields[at]}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=not show) as progress:
        task = progress.add_task("backtest", total=(end - start).total_seconds(), at=f"{start:%Y-%m-%d}")

        def on_progress(done: float, total: float) -> None:
            at = start.timestamp() + done
            progress.update(task, completed=done, at=f"{datetime.fromtimestamp(at, start.tzinfo):%Y-%m-%d}")

        return await run_backtest(config, get_plugins(), start, end, history_dir=history,
                                  out_dir=out, on_progress=on_progress)  # fmt: skip


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), required=True, help="Config file.")
@click.option("--from", "start", type=WHEN, required=True, help="Start (UTC), e.g. 2025-10-10.")
@click.option("--to", "end", type=WHEN, required=True, help="End (UTC, exclusive).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Where the history store lives.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Report directory (default: in data dir).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (deterministic).")
def backtest(
    config_path: Path, start: datetime, end: datetime, data_dir: Path | None, out: Path | None, as_json: bool
) -> None:
    """Replay the history store's funding and prices through the bot (replay venues), from --from to --to.

    Writes an equity chart (PNG) and an HTML report; prints net PnL and its parts, return, APR, drawdown, Sharpe,
    turnover, trades, average hold and a per-pair table.
    """
    from loguru import logger

    from fundarb_core.app.backtest_report import write_equity_chart, write_html_report
    from fundarb_core.cli._load import load
    from fundarb_core.errors import ConfigError, StoreError

    config = load(config_path)
    history = history_dir(config_path, data_dir)
    out_dir = (out or history / "backtests" / config_path.stem).expanduser()
    logger.remove()  # the bot logs every order; a backtest reports figures (warnings still reach stderr)
    logger.add(sys.stderr, level="WARNING")
    try:
        result = asyncio.run(_backtest(config, start, end, history, out_dir, sys.stderr.isatty() and not as_json))
    except ConfigError as exc:
        fail(list(exc.problems))
    except StoreError as exc:
        fail(str(exc))
    summary = result.as_dict()
    chart = write_equity_chart(result, out_dir / "equity.png")
    report = write_html_report(summary, chart, out_dir / "report.html")
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    _print(summary, chart, report)


def _print(s: dict[str, Any], chart: Path, report: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=150)  # a log or a pipe: no wrapping of the table's numbers
    console.print(f"backtest {s['from']} → {s['to']} ({s['days']} days), capital {s['capital']} USD")
    console.print(
        f"net PnL {s['net_pnl']} USD = price {s['price_pnl']} + funding {s['funding']} − fees {s['fees']}\n"
        f"return {float(s['return']):.2%} · APR {float(s['apr']):.2%} · max drawdown {s['max_drawdown_usd']} USD "
        f"({float(s['max_drawdown']):.2%}) · Sharpe {s['sharpe']} · turnover {s['turnover']}×\n"
        f"trades {s['trades']} · average hold {s['avg_hold_hours']} h · open at the end {s['open_at_end']} · "
        f"liquidations {s['liquidations']}"
    )
    if s["pairs"]:
        table = Table(title="per pair")
        cols = ["symbol", "long", "short", "trades", "avg_hold_hours", "price_pnl", "funding", "fees", "net"]
        for col in cols:
            table.add_column(col)
        for row in s["pairs"][:20]:
            table.add_row(*(str(row[c]) for c in cols))
        console.print(table)
    console.print(f"chart: {chart}\nreport: {report}")
