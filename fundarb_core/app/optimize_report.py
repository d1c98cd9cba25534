"""What `fundarb optimize` writes: the best parameters as a ready config file, the optimisation-history and
parameter-importance charts (PNG), and one self-contained HTML report (charts inlined, no network)."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from fundarb_core.app.backtest_report import html_page, html_table, save_figure
from fundarb_core.app.optimize import Job, opened_study

__all__ = [
    "importances",
    "walk_rows",
    "write_best_config",
    "write_history_chart",
    "write_html",
    "write_importance_chart",
]


def write_best_config(data: Mapping[str, Any], summary: Mapping[str, Any], path: Path) -> Path:
    """The whole config with the best values set, under a comment saying where they came from."""
    best = summary["best"]
    lines = [
        f"# fundarb optimize: the best of study {summary['study']!r}, trial {best['number']}",
        f"# {summary['objective']} = {best['value']:.6g} over {summary['from']} → {summary['to']}",
        "# tuned: " + ", ".join(f"{k} = {v!r}" for k, v in best["params"].items()),
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + tomli_w.dumps(dict(data)), encoding="utf-8")
    return path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_history_chart(job: Job, path: Path) -> Path | None:
    """Each finished trial's value (pruned ones at their last reported value) and the best so far."""
    import optuna

    with opened_study(job) as study:
        trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values]
    if not done:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.scatter([t.number for t in done], [t.value for t in done], s=18, label="trial", color="tab:blue")
    if pruned:
        last = [t.intermediate_values[max(t.intermediate_values)] for t in pruned]
        ax.scatter([t.number for t in pruned], last, s=18, marker="x", color="tab:grey", label="pruned (last report)")
    best, xs, ys = float("-inf"), [], []
    for t in sorted(done, key=lambda t: t.number):
        best = max(best, float(t.value or 0.0))
        xs.append(t.number)
        ys.append(best)
    ax.step(xs, ys, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(job.objective)
    ax.set_title(f"optimisation history: {job.study}")
    ax.legend(loc="best")
    return save_figure(fig, path)


def importances(job: Job) -> dict[str, float]:
    """Each parameter's share of the objective's variation (Optuna's PED-ANOVA); empty with too few trials."""
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

    with opened_study(job) as study:
        done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
        if len(done) < 4 or len({t.value for t in done}) < 2:
            return {}
        try:
            return dict(get_param_importances(study, evaluator=PedAnovaImportanceEvaluator()))
        except (ValueError, RuntimeError, ZeroDivisionError):
            return {}


def write_importance_chart(job: Job, values: Mapping[str, float], path: Path) -> Path | None:
    if not values:
        return None
    plt = _pyplot()
    names = list(values)[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(names) + 1.5))
    ax.barh(names, [values[n] for n in names], color="tab:green")
    ax.set_xlabel("importance (share)")
    ax.set_title(f"parameter importance: {job.study}")
    return save_figure(fig, path)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    return html_table(rows, columns, _text)


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _img(path: Path | None, alt: str) -> str:
    if path is None:
        return f'<p class="note">No {html.escape(alt)} chart: too few finished trials.</p>'
    png = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'


def _when(iso: str, cut: int = 0) -> str:
    """A window's bound: the date (from `cut`, 5 drops the year), and the time of day unless it is midnight."""
    day, _, time = iso.partition("T")
    return day[cut:] if time[:8] in ("", "00:00:00") else f"{day[cut:]} {time[:5]}"


def walk_rows(walk: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The walk-forward windows as flat rows: in-sample and out-of-sample side by side."""
    rows = []
    for w in walk["windows"]:
        ins, oos = w["in_sample"] or {}, w["out_of_sample"] or {}
        rows.append({"window": w["window"], "train": f"{_when(w['train'][0])}→{_when(w['train'][1], 5)}",
                     "test": f"{_when(w['test'][0])}→{_when(w['test'][1], 5)}",
                     "IS objective": ins.get("objective"), "OOS objective": oos.get("objective"),
                     "IS APR": ins.get("apr"), "OOS APR": oos.get("apr"),
                     "IS net": ins.get("net_pnl"), "OOS net": oos.get("net_pnl"),
                     "IS drawdown": ins.get("max_drawdown"), "OOS drawdown": oos.get("max_drawdown"),
                     "OOS trades": oos.get("trades")})  # fmt: skip
    return rows


def write_html(summary: Mapping[str, Any], charts: Mapping[str, Path | None], path: Path,
               walk: Mapping[str, Any] | None = None) -> Path:  # fmt: skip
    """The study's best trials, the charts and (walk-forward) in-sample vs out-of-sample, in one HTML file."""
    params = list(summary["space"])
    columns = ["number", "value", "apr", "sharpe", "max_drawdown", "net_pnl", "trades"]
    top = [{**{k: r.get(k) for k in columns}, **r["params"]} for r in summary["top"]]
    space = _table([{"key": k, "range": v} for k, v in summary["space"].items()], ["key", "range"])
    counts = ", ".join(f"{n} {state}" for state, n in summary["trials"].items()) or "none"
    title = f"fundarb optimize: {summary['study']}"
    walk_html = ""
    if walk is not None:
        cols = list(walk_rows(walk)[0]) if walk["windows"] else ["window"]
        walk_html = (f"<h2>Walk-forward ({html.escape(walk['train'])} train, {html.escape(walk['test'])} test)</h2>"
                     + _table(walk_rows(walk), cols)
                     + f"<p>mean in-sample {html.escape(_text(walk['mean_in_sample']))} · mean out-of-sample "
                     f"{html.escape(_text(walk['mean_out_of_sample']))} · out-of-sample net PnL "
                     f"{html.escape(walk['out_of_sample_net_pnl'])} USD</p>")  # fmt: skip
    cap = html.escape(_text(summary["max_drawdown_cap"]))
    body = f"""<p>objective {html.escape(summary["objective"])} (drawdown cap {cap})
over {html.escape(summary["from"])} → {html.escape(summary["to"])} · trials: {html.escape(counts)}</p>
{walk_html}
<h2>Best trials</h2>{_table(top, columns + params)}
<h2>Optimisation history</h2>{_img(charts.get("history"), "optimisation history")}
<h2>Parameter importance</h2>{_img(charts.get("importance"), "parameter importance")}
<h2>Search space</h2>{space}
<p class="note">Each trial is a backtest (see docs/backtesting.md). A pruned trial was stopped early: its running
objective fell below the median of earlier trials at the same day, or its drawdown passed the cap.</p>"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_page(title, body, width_px=1100), encoding="utf-8")
    return path
