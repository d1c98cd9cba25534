"""`fundarb paper`: an accelerated paper run on simulated venues, from scan to open to close, with a summary.

This is the execution layer driven by a deliberately small strategy: the scanner, opener and closer here use the
normalised hourly funding spread, a minimum net APR after round-trip maker fees, and the earlier bot's exit rules
(spread flipped, erosion below half the entry spread, maximum age). Simulated time runs as fast as the machine
allows (`SimClock`), so days pass in seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import click

from fundarb_core.cli import fail, get_plugins

ZERO = Decimal(0)
HOURS_PER_YEAR = Decimal(8760)


@attrs.define
class PaperPosition:
    id: str
    symbol: str
    long: str
    short: str
    qty: Decimal
    entry_spread: Decimal  # hourly
    opened_at: Any
    fees: Decimal
    price_pnl: Decimal = ZERO
    funding: Decimal = ZERO
    closed_at: Any = None
    reason: str = ""
    status: str = "open"
    entry_prices: dict[str, Decimal] = attrs.field(factory=dict)

    @property
    def net(self) -> Decimal:
        return self.price_pnl + self.funding - self.fees


async def _paper(config: Any, hours: float, data_dir: Path, echo: Any) -> list[PaperPosition]:
    from fundarb_core.clock import SimClock
    from fundarb_core.execution import AtomicExecutor, CloseExecutor, LegRef, OrderExecutor, OrderSpec
    from fundarb_core.model import Side
    from fundarb_core.store import Store
    from fundarb_core.venues import Rounding, VenueContext

    plugins = get_plugins()
    registry = plugins.registry
    clock = SimClock()
    context = VenueContext(clock, data_dir=None)
    venues: dict[str, Any] = {}
    for name, section in config.venues.items():
        if section.kind != "sim":
            fail(f'venues.{name}.kind: paper runs need simulated venues (kind = "sim"), found {section.kind!r}')
        venues[name] = registry.get("venues", section.kind).factory(
            name, attrs.evolve(section.config, persist=False), context
        )
    if len(venues) < 2:
        fail("venues: a paper run needs at least two venues")
    policy_section = config.close_policy
    policy_kind = policy_section.kind if policy_section else "maker_first"
    policy_reg = registry.get("close_policies", policy_kind)
    policy_cfg = policy_section.config if policy_section else policy_reg.config_cls()  # type: ignore[misc]
    policy = policy_reg.factory(policy_cfg, config.strategy.limit_offset_bps)
    store = await Store.open(config.store.url, data_dir=data_dir, clock=clock)
    strategy = config.strategy
    positions: list[PaperPosition] = []
    try:

        async def run() -> None:
            instruments = {name: dict(await v.load_instruments()) for name, v in venues.items()}
            orders = OrderExecutor(venues, instruments, clock, emit=plugins.emit)
            atomic = AtomicExecutor(orders, emit=plugins.emit)
            closer = CloseExecutor(orders, policy, emit=plugins.emit)
            start_balance = {n: (await v.fetch_balance()).wallet for n, v in venues.items()}
            end = clock.monotonic() + hours * 3600
            seq = 0

            async def close(pos: PaperPosition, reason: str) -> None:
                legs = [LegRef(pos.long, pos.symbol), LegRef(pos.short, pos.symbol)]
                result = await closer.close(pos.id, legs, reason)
                pos.fees += sum((r.fees for r in result.results), ZERO)
                for r in result.results:
                    if r.avg_price is None:
                        continue
                    entry = pos.entry_prices[r.spec.venue]
                    sign = 1 if r.spec.venue == pos.long else -1
                    pos.price_pnl += sign * (r.avg_price - entry) * r.filled_qty
                for leg in (pos.long, pos.short):
                    payments = await venues[leg].fetch_funding_payments(pos.symbol, pos.opened_at)
                    pos.funding += sum((p.amount for p in payments), ZERO)
                pos.closed_at = clock.now()
                pos.reason = reason
                pos.status = result.status.value
                await store.events.append("position_closed", _record(pos), position_id=pos.id)
                echo(f"{clock.now():%Y-%m-%d %H:%M} close {pos.symbol} ({reason}): net {pos.net:.2f} USD")

            while clock.monotonic() < end:
                rates = {n: await v.fetch_funding_rates() for n, v in venues.items()}
                for pos in [p for p in positions if p.status == "open"]:
                    spread = rates[pos.short][pos.symbol].hourly - rates[pos.long][pos.symbol].hourly
                    age = clock.now() - pos.opened_at
                    if spread < 0:
                        await close(pos, "divergence_flipped")
                    elif spread < pos.entry_spread / 2:
                        await close(pos, "profit_erosion")
                    elif age >= timedelta(hours=168):
                        await close(pos, "time_limit")
                open_now = [p for p in positions if p.status == "open"]
                busy = {p.symbol for p in open_now}
                candidates = []
                for long_name, long_rates in rates.items():
                    for short_name, short_rates in rates.items():
                        if long_name == short_name:
                            continue
                        for symbol in set(long_rates) & set(short_rates) - busy:
                            if strategy.symbols and symbol not in strategy.symbols:
                                continue
                            if symbol in strategy.exclude_symbols:
                                continue
                            spread = short_rates[symbol].hourly - long_rates[symbol].hourly
                            il, is_ = instruments[long_name][symbol], instruments[short_name][symbol]
                            fees = 2 * ((il.maker_fee or ZERO) + (is_.maker_fee or ZERO))
                            hold_h = Decimal(int(strategy.expected_hold.total_seconds())) / 3600
                            apr = spread * HOURS_PER_YEAR - fees / hold_h * HOURS_PER_YEAR
                            gap = abs(long_rates[symbol].mark_price / short_rates[symbol].mark_price - 1)
                            if apr >= strategy.min_net_apr and gap <= strategy.max_price_gap:
                                candidates.append((apr, symbol, long_name, short_name, spread))
                candidates.sort(reverse=True)
                taken: set[str] = set()
                new = 0
                for apr, symbol, long_name, short_name, spread in candidates:
                    if new >= strategy.max_new_per_tick or len(open_now) + new >= strategy.max_positions:
                        break
                    if symbol in taken:
                        continue
                    il, is_ = instruments[long_name][symbol], instruments[short_name][symbol]
                    step = max(il.step_size, is_.step_size)
                    mark = rates[long_name][symbol].mark_price
                    size = min(strategy.position_size_usd, strategy.max_position_usd)
                    qty = (size / mark / step).to_integral_value(rounding=Rounding.DOWN.value) * step
                    if qty < max(il.min_qty_at(mark), is_.min_qty_at(mark)):
                        continue
                    for name, inst in ((long_name, il), (short_name, is_)):
                        await venues[name].set_leverage(symbol, min(strategy.leverage, inst.max_leverage))
                    seq += 1
                    pid = f"paper-{seq}"
                    specs = [
                        OrderSpec(
                            venue=name, symbol=symbol, side=side, quantity=qty, intent_id=f"{pid}:open:{name}",
                            limit_offset_bps=strategy.limit_offset_bps, timeout=strategy.open_timeout,
                        )
                        for name, side in ((long_name, Side.BUY), (short_name, Side.SELL))
                    ]  # fmt: skip
                    result = await atomic.open(specs)
                    taken.add(symbol)
                    if not result.ok:
                        echo(f"{clock.now():%Y-%m-%d %H:%M} open {symbol} failed: {result.error}")
                        continue
                    new += 1
                    pos = PaperPosition(
                        pid, symbol, long_name, short_name, result.quantities[0], spread, clock.now(),
                        fees=sum((r.fees for r in (*result.results, *result.hedges)), ZERO),
                        entry_prices={r.spec.venue: r.avg_price or mark for r in result.results},
                    )  # fmt: skip
                    positions.append(pos)
                    await store.events.append("position_opened", _record(pos), position_id=pid)
                    echo(
                        f"{clock.now():%Y-%m-%d %H:%M} open {symbol}: long {long_name} / short {short_name}, "
                        f"{qty} at net APR {apr:.1%}"
                    )
                await clock.sleep(strategy.scan_interval)
            for pos in [p for p in positions if p.status == "open"]:
                await close(pos, "end_of_run")
            end_balance = {n: (await v.fetch_balance()).wallet for n, v in venues.items()}
            change = sum((end_balance[n] - start_balance[n] for n in venues), ZERO)
            parts = sum((p.net for p in positions), ZERO)
            echo(f"balance change {change:.8f} USD; price PnL + funding − fees {parts:.8f} USD")
            await orders.aclose()

        await clock.run(run())
    finally:
        await store.close()
    return positions


def _record(pos: PaperPosition) -> Mapping[str, Any]:
    return {
        "symbol": pos.symbol, "long": pos.long, "short": pos.short, "qty": str(pos.qty),
        "price_pnl": str(pos.price_pnl), "funding": str(pos.funding), "fees": str(pos.fees),
        "reason": pos.reason, "status": pos.status,
    }  # fmt: skip


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Config file (default: the starter).")
@click.option("--hours", type=float, default=72.0, show_default=True, help="Simulated hours to run.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("var/paper"), show_default=True)
def paper(config_path: Path | None, hours: float, data_dir: Path) -> None:
    """Paper-trade funding spreads on simulated venues, in accelerated simulated time, and print a summary."""
    import tomllib

    from rich.console import Console
    from rich.table import Table

    from fundarb_core.cli._init import starter_text
    from fundarb_core.config import load_config, parse_config
    from fundarb_core.errors import ConfigError

    try:
        if config_path is None:
            config = parse_config(tomllib.loads(starter_text()), get_plugins())
        else:
            config = load_config(config_path, get_plugins())
    except ConfigError as exc:
        fail(list(exc.problems))
    console = Console()
    positions = asyncio.run(_paper(config, hours, data_dir, console.print))
    table = Table(title=f"paper run: {hours:g} simulated hours")
    for column in ("position", "symbol", "long", "short", "qty", "exit", "price PnL", "funding", "fees", "net"):
        table.add_column(column)
    for p in positions:
        table.add_row(
            p.id, p.symbol, p.long, p.short, str(p.qty), p.reason,
            f"{p.price_pnl:.4f}", f"{p.funding:.4f}", f"{p.fees:.4f}", f"{p.net:.4f}",
        )  # fmt: skip
    console.print(table)
    console.print(f"events stored in {data_dir.resolve()} (SQLite)")
