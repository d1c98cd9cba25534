"""The live view of `fundarb run` on a terminal: state and equity, open positions, opportunities, recent events.

What it shows comes from the bot's public attributes (`opportunities`, `events`, `paused`, `halted`, `venues`,
`clock`, `last_actions`) and from the store (open positions, their orders and funding payments), gathered once a
tick by `LiveData.gather`. `render` builds a display that fits the console it is given: tables are cut to the
rows the height allows and columns are cut (with an ellipsis) to the width; nothing wraps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from loguru import logger
from rich import box
from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

__all__ = ["LiveData", "PositionLine", "render"]

ZERO = Decimal(0)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


@attrs.frozen
class PositionLine:
    """One open position as the view shows it. `price` is unrealised (marks), `funding` the payments recorded."""

    id: str
    symbol: str
    long_venue: str
    short_venue: str
    notional: Decimal
    price: Decimal | None
    funding: Decimal
    fees: Decimal
    liquidation_distance: Decimal | None  # the nearer leg's, as a fraction of the mark
    opened_at: datetime | None

    @property
    def net(self) -> Decimal | None:
        return None if self.price is None else self.price + self.funding - self.fees

    @classmethod
    def of(cls, position: Any, orders: list[Any], payments: list[Any]) -> PositionLine:
        details: Mapping[str, Any] = position.details or {}
        distances = details.get("liquidation_distance")
        nearest = None
        if isinstance(distances, Mapping):
            known = [d for d in (_decimal(v) for v in distances.values()) if d is not None]
            nearest = min(known) if known else None
        return cls(
            position.id,
            position.symbol,
            position.long_venue,
            position.short_venue,
            position.notional_usd,
            _decimal(details.get("unrealized_pnl")),
            sum((p.amount for p in payments), ZERO),
            sum((o.fees for o in orders), ZERO),
            nearest,
            position.opened_at,
        )


@attrs.frozen
class LiveData:
    """What the view shows besides the bot's own attributes: open positions and each venue's equity."""

    positions: list[PositionLine] = attrs.field(factory=list)
    equity: dict[str, Decimal | None] = attrs.field(factory=dict)  # None: the venue did not answer

    @classmethod
    async def gather(cls, bot: Any, store: Any, previous: LiveData | None = None) -> LiveData:
        """Read open positions from the store and balances from the venues; a venue that fails keeps its last value."""
        lines = []
        for position in await store.positions.list_open():
            orders = await store.orders.list(position_id=position.id)
            payments = await store.funding.list(position_id=position.id)
            lines.append(PositionLine.of(position, orders, payments))

        async def balance(name: str, venue: Any) -> tuple[str, Decimal | None]:
            try:
                held = await venue.fetch_balance()
                # In USD at the `[bot] collateral_usd` peg of the venue's asset (USDT, USDC); no peg: unknown.
                return name, bot.config.bot.usd(held.equity, held.asset)
            except Exception as exc:  # the view never stops the bot: show the last value
                logger.bind(venue=name).debug("live view: balance unavailable: {}", exc)
                return name, (previous.equity.get(name) if previous is not None else None)

        equity = dict(await asyncio.gather(*(balance(n, v) for n, v in bot.venues.items())))
        return cls(lines, equity)


def _money(value: Decimal | None, places: int = 2) -> Text:
    if value is None:
        return Text("?", style="dim")
    text = f"{value:+,.{places}f}"
    return Text(text, style="green" if value > 0 else "red" if value < 0 else "")


def _state(bot: Any) -> Text:
    if bot.halted:
        return Text("HALTED", style="bold red")
    if bot.paused:
        return Text("PAUSED", style="bold yellow")
    return Text("RUNNING", style="bold green")


def _header(bot: Any, data: LiveData) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append_text(_state(bot))
    line.append(f"  {bot.clock.now():%Y-%m-%d %H:%M}")
    known = [v for v in data.equity.values() if v is not None]
    total = sum(known, ZERO) if known else None
    line.append(f"  equity {total:,.2f}" if total is not None else "  equity ?")
    nets = [p.net for p in data.positions if p.net is not None]
    if data.positions:
        line.append(f"  open {len(data.positions)} net ")
        line.append_text(_money(sum(nets, ZERO)) if nets else Text("?"))
    for name, value in data.equity.items():  # least important: cut first on a narrow terminal
        line.append(f"  {name} {value:,.2f}" if value is not None else f"  {name} ?", style="dim")
    report = getattr(bot, "last_actions", None)
    if report is not None and (report.ran or report.waiting or report.awaiting_approval):
        line.append(
            f"  actions: {len(report.succeeded)} done, {len(report.waiting)} waiting, "
            f"{len(report.awaiting_approval)} awaiting approval, {len(report.failed)} failed"
        )
    return line


def _table(title: str, columns: list[tuple[str, str]], width: int, *, stretch: str | None = None) -> Table:
    """A borderless table `width` wide; `stretch` names the one column that takes the spare width (else all do)."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        expand=True,
        pad_edge=False,
        padding=(0, 1),
        width=width,
        show_edge=False,
    )
    for name, justify in columns:
        ratio = 1 if stretch == name else None
        table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis", ratio=ratio)  # type: ignore[arg-type]
    return table


def _positions(data: LiveData, rows: int, width: int, now: datetime) -> Table:
    wide = width >= 120
    columns = [("symbol", "left"), ("long", "left"), ("short", "left")]
    if wide:
        columns.append(("notional", "right"))
    columns += [("price", "right"), ("funding", "right"), ("fees", "right"), ("net", "right"), ("liq.dist", "right")]
    if wide:
        columns.append(("age", "right"))
    shown = data.positions[:rows]
    more = len(data.positions) - len(shown)
    title = f"open positions ({len(data.positions)}{f', {more} not shown' if more else ''}) · PnL in USD"
    table = _table(title, columns, width)
    for p in shown:
        cells: list[Any] = [p.symbol, p.long_venue, p.short_venue]
        if wide:
            cells.append(f"{p.notional:,.0f}")
        distance = "?" if p.liquidation_distance is None else f"{p.liquidation_distance:.1%}"
        cells += [_money(p.price), _money(p.funding), _money(-p.fees), _money(p.net), distance]
        if wide:
            cells.append(_age(p.opened_at, now))
        table.add_row(*cells)
    return table


def _age(opened: datetime | None, now: datetime) -> str:
    if opened is None:
        return ""
    hours = (now - opened).total_seconds() / 3600
    return f"{hours:.1f}h"


def _opportunities(bot: Any, rows: int, width: int) -> Table:
    table = _table(
        "opportunities (net APR)",
        [("symbol", "left"), ("long", "left"), ("short", "left"), ("spread/h", "right"), ("net APR", "right")],
        width,
    )
    for o in bot.opportunities[:rows]:
        table.add_row(o.symbol, o.long_venue, o.short_venue, f"{o.spread:.7f}", f"{o.net_apr:.1%}")
    return table


def _events(bot: Any, rows: int, width: int) -> Table:
    table = _table("recent events", [("at", "left"), ("event", "left")], width, stretch="event")
    for e in bot.events[-rows:] if rows > 0 else []:
        data = dict(e.data)
        what = data.get("symbol") or data.get("action_type") or data.get("alert") or ""
        outcome = data.get("net") or data.get("status") or data.get("reason") or ""
        table.add_row(f"{e.at:%m-%d %H:%M}", f"{e.kind} {what} {outcome}".strip())
    return table


def render(
    bot: Any,
    data: LiveData,
    elapsed: float,
    duration: timedelta | None,
    *,
    width: int = 80,
    height: int = 24,
) -> RenderableType:
    """Build the display for a console of `width` × `height` (rows beyond what fits are left out, and counted)."""
    width = max(40, width)
    # Fixed lines: the header, the progress bar, and per table its title, column header and rule.
    budget = max(0, height - 1 - (1 if duration is not None else 0) - 3 * 3 - 1)
    position_rows = min(len(data.positions), max(1, budget // 2)) if data.positions else 0
    rest = budget - position_rows
    opportunity_rows = min(len(bot.opportunities), 5, max(1, rest // 2))
    event_rows = max(0, rest - opportunity_rows)
    parts: list[RenderableType] = [
        _header(bot, data),
        _positions(data, position_rows, width, bot.clock.now()),
        _opportunities(bot, opportunity_rows, width),
        _events(bot, event_rows, width),
    ]
    if duration is not None:
        parts.append(ProgressBar(total=duration.total_seconds(), completed=elapsed, width=min(60, width)))
    return Group(*parts)
