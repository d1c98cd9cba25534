"""Summaries and the equity/PnL chart of a store's positions."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from fundarb_core.model import PositionStatus
from fundarb_core.model.records import ActionRecord, PositionRecord, TransferRecord, TransferState

__all__ = ["actions_summary", "position_rows", "summary", "write_chart"]

ZERO = Decimal(0)


def position_rows(positions: list[PositionRecord]) -> list[dict[str, Any]]:
    """One JSON-ready row per position with its PnL parts."""
    rows = []
    for p in positions:
        d = p.details
        rows.append(
            {
                "id": p.id,
                "symbol": p.symbol,
                "status": p.status.value,
                "long": p.long_venue,
                "short": p.short_venue,
                "notional_usd": str(p.notional_usd),
                "opened_at": p.opened_at.isoformat() if p.opened_at else None,
                "closed_at": p.closed_at.isoformat() if p.closed_at else None,
                "exit_reason": p.exit_reason.value if p.exit_reason else None,
                "price_pnl": d.get("price_pnl"),
                "funding": d.get("funding"),
                "fees": d.get("fees"),
                "net": str(p.realized_pnl) if p.realized_pnl is not None else None,
                "unrealized_pnl": d.get("unrealized_pnl"),
            }
        )
    return rows


def summary(positions: list[PositionRecord]) -> dict[str, Any]:
    closed = [p for p in positions if p.status is PositionStatus.CLOSED]

    def total(key: str) -> Decimal:
        return sum((getattr(p.state, key) or ZERO for p in closed), ZERO)

    return {
        "positions": len(positions),
        "open": sum(1 for p in positions if p.is_open),
        "closed": len(closed),
        "price_pnl": str(total("price_pnl")),
        "funding": str(total("funding")),
        "fees": str(total("fees")),
        "net": str(sum((p.realized_pnl or ZERO for p in closed), ZERO)),
        "wins": sum(1 for p in closed if (p.realized_pnl or ZERO) > 0),
        # Open positions at their last marks (unrealised price PnL of both legs): not realised, but not nothing.
        "open_net": str(sum((p.state.unrealized_pnl or ZERO for p in positions if p.is_open), ZERO)),
    }


def actions_summary(actions: list[ActionRecord], transfers: list[TransferRecord]) -> dict[str, Any]:
    """What the action runner did: actions by type and status, transfers made, positions reopened."""
    by_type: dict[str, dict[str, int]] = {}
    for a in actions:
        counts = by_type.setdefault(a.action_type, {})
        counts[a.status.value] = counts.get(a.status.value, 0) + 1
    confirmed = [t for t in transfers if t.state is TransferState.CONFIRMED]
    reopened = [a for a in actions if a.action_type == "open_position" and (a.result or {}).get("opened")]
    return {
        "plans": len({a.plan_id for a in actions}),
        "actions": by_type,
        "transfers": {"confirmed": len(confirmed), "other": len(transfers) - len(confirmed)},
        "moved": str(sum((t.amount for t in confirmed), ZERO)),
        "reopened": len(reopened),
    }


def write_chart(positions: list[PositionRecord], path: Path, transfers: list[TransferRecord] | None = None) -> Path:
    """Cumulative realised PnL over time (with its funding and price parts) and per-position net, as PNG;
    confirmed transfers between venues are marked on the time axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    closed = sorted((p for p in positions if p.closed_at is not None and p.realized_pnl is not None),
                    key=lambda p: p.closed_at)  # type: ignore[arg-type,return-value]  # fmt: skip
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), height_ratios=[2, 1])
    times = [p.closed_at for p in closed]
    cum = cum_f = cum_p = ZERO
    net, funding, price = [], [], []
    for p in closed:
        cum += p.realized_pnl or ZERO
        cum_f += p.state.funding or ZERO
        cum_p += (p.state.price_pnl or ZERO) - (p.state.fees or ZERO)
        net.append(float(cum))
        funding.append(float(cum_f))
        price.append(float(cum_p))
    if closed:
        top.step(times, net, where="post", label="net realised PnL", linewidth=2)
        top.step(times, funding, where="post", label="funding", linestyle="--")
        top.step(times, price, where="post", label="price PnL − fees", linestyle=":")
    moved = [t for t in transfers or [] if t.state is TransferState.CONFIRMED]
    for i, t in enumerate(moved):
        top.axvline(t.updated_at, color="tab:purple", linestyle=":", linewidth=0.8,
                    label="transfer between venues" if i == 0 else None)  # fmt: skip
    top.axhline(0, color="grey", linewidth=0.5)
    top.set_ylabel("USD (cumulative)")
    top.set_title(f"fundarb: {len(closed)} closed positions")
    if top.get_legend_handles_labels()[1]:  # nothing closed yet: no lines to name
        top.legend(loc="best")
    colors = ["tab:green" if (p.realized_pnl or 0) > 0 else "tab:red" for p in closed]
    bottom.bar(range(len(closed)), [float(p.realized_pnl or 0) for p in closed], color=colors)
    bottom.set_xticks(range(len(closed)), [p.symbol for p in closed], rotation=90, fontsize=7)
    bottom.set_ylabel("net per position (USD)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
