"""Operator commands: pause, resume, halt, positions, scan, close, report."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from fundarb_core.cli import fail, get_plugins
from fundarb_core.cli._load import load

config_option = click.option("--config", "config_path", type=click.Path(path_type=Path), required=True)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


async def _with_store(config: Any, work: Any) -> Any:
    from fundarb_core.store import Store, default_data_dir

    data_dir = (config.bot.data_dir or default_data_dir()).expanduser()
    store = await Store.open(config.store.url, data_dir=data_dir)
    try:
        return await work(store, data_dir)
    finally:
        await store.close()


def _control(command: str) -> Any:
    @click.command(name=command)
    @config_option
    def cmd(config_path: Path) -> None:
        from fundarb_core.app.control import issue_command
        from fundarb_core.model.records import ControlCommand

        config = load(config_path)

        async def work(store: Any, _: Path) -> None:
            await issue_command(store, ControlCommand(command), by="cli")

        asyncio.run(_with_store(config, work))
        click.echo(f"{command}: sent; the running bot applies it at its next tick")

    cmd.help = {
        "pause": "Stop opening new positions; keep managing open ones.",
        "resume": "Resume opening after a pause.",
        "halt": "Stop the running bot after its current tick (nothing new is opened).",
    }[command]
    return cmd


pause = _control("pause")
resume = _control("resume")
halt = _control("halt")


@click.command()
@config_option
@json_option
@click.option("--open", "only_open", is_flag=True, help="Only open positions.")
@click.option("--wide", is_flag=True, help="Every column at full width (full ids, notional, times).")
def positions(config_path: Path, as_json: bool, only_open: bool, wide: bool) -> None:
    """List positions with price PnL, funding, fees, net (USD, to the cent; unrealised while open) and exit reason.

    The table fits the terminal (80 columns when piped): the most useful columns first, the rest named below it.
    """
    from fundarb_core.app.report import position_rows
    from fundarb_core.cli._table import Column, print_table
    from fundarb_core.display import money

    config = load(config_path)

    async def work(store: Any, _: Path) -> Any:
        return await (store.positions.list_open() if only_open else store.positions.list())

    rows = position_rows(asyncio.run(_with_store(config, work)))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    columns = [
        Column("id", "id"),
        Column("symbol", "symbol"),
        Column("status", "status"),
        Column("long", "long", 5),
        Column("short", "short", 5),
        Column("net", "net", numeric=True),
        Column("price_pnl", "price", 4, numeric=True),
        Column("funding", "funding", 4, numeric=True),
        Column("fees", "fees", 3, numeric=True),
        Column("exit_reason", "exit", 2),
        Column("notional_usd", "notional", 1, numeric=True),
        Column("opened_at", "opened", 1),
        Column("closed_at", "closed", 1),
    ]
    shown = []
    for row in rows:
        net = row["net"] if row["net"] is not None else row["unrealized_pnl"]
        shown.append({
            **{k: str(v) for k, v in row.items() if v is not None},
            "id": row["id"] if wide else row["id"][:8],
            "net": money(net),  # an open position's: unrealised
            **{k: money(row[k]) for k in ("price_pnl", "funding", "fees", "notional_usd")},
            **{k: (row[k] or "-")[:16].replace("T", " ") for k in ("opened_at", "closed_at")},
        })  # fmt: skip
    print_table("positions (USD)", columns, shown, wide=wide)


async def _with_bot(config: Any, work: Any) -> Any:
    """Open the runtime, run `work(runtime, bot)` under its clock (simulated venues answer in simulated time)."""
    from fundarb_core.app.runtime import Runtime
    from fundarb_core.clock import SimClock

    runtime = await Runtime.open(config, get_plugins())
    bot = runtime.bot
    assert bot is not None
    try:
        coro = work(runtime, bot)
        return await (runtime.clock.run(coro) if isinstance(runtime.clock, SimClock) else coro)
    finally:
        await bot.shutdown()
        await runtime.close()


@click.command()
@config_option
@json_option
def scan(config_path: Path, as_json: bool) -> None:
    """Rank the current opportunities by net APR (reads rates; places no order)."""
    config = load(config_path)

    async def work(_: Any, bot: Any) -> Any:
        await bot.fetch_rates()
        await bot.update_signal()  # seeded from settled history where the venues offer it
        cold = sum(1 for v, rates in bot.rates.items() for s in rates if not bot.signal.warm(v, s))
        return bot.scanner.scan(bot.rates, bot.clock.now()), cold

    opportunities, cold = asyncio.run(_with_bot(config, work))
    rows = [
        {"symbol": o.symbol, "long": o.long_venue, "short": o.short_venue, "spread_per_hour": str(o.spread),
         "latest_spread_per_hour": str(o.latest_spread), "cost_bps": str(o.cost_bps.quantize(Decimal("0.01"))),
         "breakeven_hours": str(o.breakeven_hours.quantize(Decimal("0.1"))) if o.breakeven_hours else None,
         "net_apr": str(o.net_apr), "price_gap": str(o.price_gap)}
        for o in opportunities
    ]  # fmt: skip
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no opportunity above the minimum net APR")
        if cold:
            click.echo(f"({cold} smoothed rates still warm up: none opens before half of strategy.signal_window)")
    for r in rows:
        breakeven = f"{float(r['breakeven_hours']):6.1f} h" if r["breakeven_hours"] else "     - "
        click.echo(
            f"{r['symbol']:6} long {r['long']:12} short {r['short']:12} net APR {float(r['net_apr']):7.1%}"
            f"  cost {float(r['cost_bps']):5.1f} bp  breakeven {breakeven}"
        )


@click.command()
@config_option
@click.argument("position_id")
def close(config_path: Path, position_id: str) -> None:
    """Close a position now through the same executor the bot uses (reason: manual); while a bot runs on the store,
    ask that bot to close it (a journalled close, as the API's), so that two processes never close one position."""
    from fundarb_core.app.control import request_close
    from fundarb_core.execution import Urgency
    from fundarb_core.model import ExitReason
    from fundarb_core.store import LeaseHeld, Store

    config = load(config_path)

    async def work(runtime: Any, bot: Any) -> Any:
        record = await runtime.store.positions.get(position_id)
        if record is None or not record.is_open:
            return None
        # The lease in real time, as `fundarb run` holds it: held by a bot, the close is that bot's to make.
        lease_store = await Store.open(config.store.url, data_dir=runtime.data_dir, migrate=False)
        try:
            try:
                lease = await lease_store.acquire_lease(f"fundarb-close:{os.getpid()}", ttl=timedelta(minutes=10))
            except LeaseHeld as held:
                if not config.actions.enabled:
                    return f"not closed: {held}; that bot runs no actions (actions.enabled = false): stop it first"
                action, new = await request_close(runtime.store, position_id, by="cli")
                said = "asked" if new else "already asked"
                return f"{said} the running bot to close it (action {action.id}): it closes it at its next tick"
            try:
                return (await bot.book.close(record, ExitReason.MANUAL, Urgency.URGENT)).status.value
            finally:
                await lease.release()
        finally:
            await lease_store.close()

    result = asyncio.run(_with_bot(config, work))
    if result is None:
        fail(f"{position_id}: no open position with that id")
    if result.startswith("not closed"):
        fail(f"{position_id}: {result}", code=1)
    click.echo(f"{position_id}: {result}")


@click.command()
@config_option
@json_option
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Chart path (default: DATA_DIR/report.png).")
def report(config_path: Path, as_json: bool, out: Path | None) -> None:
    """Summarise results and write an equity/PnL chart (PNG)."""
    from fundarb_core.app.report import actions_summary, summary, write_chart
    from fundarb_core.display import money

    config = load(config_path)

    async def work(store: Any, data_dir: Path) -> Any:
        return (
            await store.positions.list(),
            await store.actions.list(),
            await store.transfers.recent(10_000),
            data_dir,
        )

    positions_, actions_, transfers_, data_dir = asyncio.run(_with_store(config, work))
    chart = write_chart(positions_, out or data_dir / "report.png", transfers_)
    s: dict[str, Any] = summary(positions_)
    s["actions"] = actions_summary(actions_, transfers_)
    s["chart"] = str(chart)
    if as_json:
        click.echo(json.dumps(s, indent=2))
    else:
        for key, value in s.items():
            if key == "actions":
                a = value
                types = ", ".join(
                    f"{t} " + "/".join(f"{n} {st}" for st, n in sorted(c.items()))
                    for t, c in sorted(a["actions"].items())
                )
                click.echo(f"{'plans':10} {a['plans']} ({types or 'none'})")
                click.echo(f"{'transfers':10} {a['transfers']['confirmed']} confirmed, moved {money(a['moved'])}")
                click.echo(f"{'reopened':10} {a['reopened']}")
                continue
            shown = money(value) if key in ("price_pnl", "funding", "fees", "net") else value
            click.echo(f"{key:10} {shown}")
