"""A backtest's equity chart (PNG) and its HTML report: one self-contained file (the chart inlined), no network."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fundarb_core.app.backtest import BacktestResult

__all__ = ["html_page", "html_table", "save_figure", "write_equity_chart", "write_html_report"]

FIGURES = (
    ("net_pnl", "Net PnL (USD)"),
    ("price_pnl", "  price PnL"),
    ("funding", "  funding"),
    ("fees", "  fees"),
    ("return", "Return on capital"),
    ("apr", "APR"),
    ("max_drawdown_usd", "Max drawdown (USD)"),
    ("max_drawdown", "Max drawdown (fraction of peak)"),
    ("sharpe", "Sharpe (daily, annualised)"),
    ("turnover", "Turnover (traded notional / capital)"),
    ("trades", "Trades (positions opened)"),
    ("avg_hold_hours", "Average hold (hours)"),
    ("open_at_end", "Open at the end (marked)"),
    ("liquidations", "Liquidations"),
)


def write_equity_chart(result: BacktestResult, path: Path) -> Path:
    """Equity over time (top) and drawdown from the running peak (bottom), as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [t for t, _ in result.curve]
    equity = [float(e) for _, e in result.curve]
    peak, drawdown = float("-inf"), []
    for e in equity:
        peak = max(peak, e)
        drawdown.append(e - peak)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), height_ratios=[3, 1], sharex=True)
    top.plot(times, equity, linewidth=1.5, label="equity (all venues)")
    top.axhline(float(result.equity_start), color="grey", linewidth=0.5)
    top.set_ylabel("USD")
    top.set_title(f"backtest {result.start:%Y-%m-%d} → {result.end:%Y-%m-%d}: net {result.net:,.2f} USD")
    top.legend(loc="best")
    bottom.fill_between(times, drawdown, 0, color="tab:red", alpha=0.4, step="post")
    bottom.set_ylabel("drawdown (USD)")
    fig.autofmt_xdate()
    return save_figure(fig, path)


def save_figure(fig: Any, path: Path) -> Path:
    """Lay out, write as PNG (no software stamp: the same figure gives the same bytes) and release a figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path


def html_table(rows: list[dict[str, Any]], columns: list[str], text: Callable[[Any], str] | None = None) -> str:
    """An HTML table of `rows` (a missing value is empty), each cell escaped; `text` formats a value."""
    show = text or (lambda value: "" if value is None else str(value))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(show(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_html_report(summary: dict[str, Any], chart: Path, path: Path) -> Path:
    """The figures, the per-pair table, the venues and the chart in one HTML file a person can open offline."""
    png = base64.b64encode(chart.read_bytes()).decode("ascii")
    figures = html_table([{"figure": label, "value": summary.get(key)} for key, label in FIGURES], ["figure", "value"])
    pairs = html_table(summary["pairs"], ["symbol", "long", "short", "trades", "avg_hold_hours", "price_pnl", "funding",
                                      "fees", "net"])  # fmt: skip
    venue_columns = ["venue", "source", "symbols", "maker_fee", "taker_fee", "funding", "fees", "equity_end"]
    venues = html_table([{"venue": name, **v} for name, v in summary["venues"].items()], venue_columns)
    title = f"fundarb backtest {summary['from'][:10]} → {summary['to'][:10]}"
    body = f"""<p>{html.escape(summary["days"])} days · capital {html.escape(summary["capital"])} USD ·
{summary["rows_replayed"]} recorded rows replayed</p>
<img alt="equity and drawdown" src="data:image/png;base64,{png}">
<h2>Figures</h2>{figures}
<p class="note">Net PnL = price PnL + funding − fees, exactly (fees include liquidation charges). Open positions are
marked at the end. APR is the return scaled to 365 days; Sharpe uses daily equity returns.</p>
<h2>Per pair</h2>{pairs}
<h2>Venues</h2>{venues}
<p class="note">Replay model: see docs/backtesting.md (prices from hourly candles with an intrabar path and a
synthetic book; funding settled at the recorded times; a gap means no rate).</p>"""
    path.write_text(html_page(title, body, width_px=1000), encoding="utf-8")
    return path


def html_page(title: str, body: str, *, width_px: int) -> str:
    """A self-contained report page (the backtest's and the optimiser's): `title` as its heading, then `body`."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: {width_px}px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
th {{ background: #f3f3f3; }} td:first-child, th:first-child {{ text-align: left; }}
img {{ max-width: 100%; }} .note {{ color: #666; font-size: 0.9em; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
{body}
</body></html>
"""
