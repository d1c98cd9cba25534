"""The backtest driver: the normal bot over replay venues, on a `SimClock` from `start` to `end`.

Only the venues and the clock differ from `fundarb run`: `Bot.create` builds the same scanner, risk manager, close
policy, executors and action runner from the config. Each backtest gets a fresh SQLite store in its output
directory. The figures come from the venues' ledgers (exact) and the store's positions (per pair).
"""

from __future__ import annotations

import gc
import itertools
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from fundarb_core.app.bot import Bot
from fundarb_core.clock import SimClock
from fundarb_core.config import Config
from fundarb_core.errors import ConfigError
from fundarb_core.plugins import Plugins
from fundarb_core.positions import pnl_from
from fundarb_core.store import Store
from fundarb_core.venues import VenueContext

__all__ = ["BacktestResult", "run_backtest"]

ZERO = Decimal(0)
MONEY = Decimal("1e-8")
RATIO = Decimal("1e-6")
YEAR = timedelta(days=365)

Progress = Callable[[float, float], Any]  # (simulated seconds done, in all)
EquityWatch = Callable[[datetime, Decimal], Any]  # (simulated time, equity of all venues) after each tick


@attrs.define
class BacktestResult:
    """What a backtest measured; `as_dict()` is the `--json` output (deterministic: no ids, no wall time)."""

    start: datetime
    end: datetime
    capital: Decimal
    equity_start: Decimal
    equity_end: Decimal
    price_pnl: Decimal
    funding: Decimal
    fees: Decimal
    curve: list[tuple[datetime, Decimal]]
    traded_notional: Decimal
    fills: int
    liquidations: int
    positions: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    rows_replayed: int
    venues: dict[str, dict[str, Any]]

    @property
    def net(self) -> Decimal:
        return self.equity_end - self.equity_start

    @property
    def days(self) -> Decimal:
        return Decimal(int((self.end - self.start).total_seconds())) / 86_400

    def drawdown(self) -> tuple[Decimal, Decimal]:
        """The largest fall of equity from a previous peak: (USD, fraction of that peak)."""
        peak, worst, worst_frac = None, ZERO, ZERO
        for _, equity in self.curve:
            peak = equity if peak is None or equity > peak else peak
            fall = peak - equity
            if fall > worst:
                worst, worst_frac = fall, fall / peak if peak > 0 else ZERO
        return worst, worst_frac

    def sharpe(self) -> Decimal | None:
        """Annualised Sharpe ratio of daily equity returns (risk-free rate 0); None with fewer than 3 days."""
        daily: dict[str, Decimal] = {}
        for at, equity in self.curve:
            daily[at.date().isoformat()] = equity  # the last value of each UTC day
        values = [self.equity_start, *daily.values()]
        returns = [b / a - 1 for a, b in itertools.pairwise(values) if a > 0]
        if len(returns) < 3:
            return None
        mean = sum(returns, ZERO) / len(returns)
        var = sum(((r - mean) ** 2 for r in returns), ZERO) / (len(returns) - 1)
        if var == 0:
            return None
        return (mean / var.sqrt() * Decimal(365).sqrt()).quantize(Decimal("0.01"))

    def as_dict(self) -> dict[str, Any]:
        dd_usd, dd_frac = self.drawdown()
        ret = self.net / self.capital if self.capital else ZERO
        apr = ret * Decimal(365) / self.days if self.days else ZERO
        trades = [p for p in self.positions if p["opened_at"] is not None]
        holds = [Decimal(str(p["hold_hours"])) for p in trades]
        sharpe = self.sharpe()
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "days": str(self.days.quantize(Decimal("0.01"))),
            "capital": str(self.capital),
            "net_pnl": str(self.net.quantize(MONEY)),
            "price_pnl": str(self.price_pnl.quantize(MONEY)),
            "funding": str(self.funding.quantize(MONEY)),
            "fees": str(self.fees.quantize(MONEY)),
            "return": str(ret.quantize(RATIO)),
            "apr": str(apr.quantize(RATIO)),
            "max_drawdown_usd": str(dd_usd.quantize(MONEY)),
            "max_drawdown": str(dd_frac.quantize(RATIO)),
            "sharpe": str(sharpe) if sharpe is not None else None,
            "turnover": str((self.traded_notional / self.capital).quantize(Decimal("0.01"))) if self.capital else "0",
            "trades": len(trades),
            "fills": self.fills,
            "liquidations": self.liquidations,
            "avg_hold_hours": str((sum(holds, ZERO) / len(holds)).quantize(Decimal("0.01"))) if holds else None,
            "open_at_end": sum(1 for p in trades if p["closed_at"] is None),
            "rows_replayed": self.rows_replayed,
            "venues": self.venues,
            "pairs": self.pairs,
        }


def _replay_sources(config: Config) -> dict[str, Any]:
    sections = {}
    for name, section in config.venues.items():
        if section.kind != "replay":
            raise ConfigError([f"venues.{name}.kind: a backtest replays recorded data (kind = \"replay\"), "
                               f"found {section.kind!r}"])  # fmt: skip
        sections[name] = section.config
    if not sections:
        raise ConfigError(['venues: a backtest needs at least one venue of kind "replay"'])
    return sections


_GC_THRESHOLDS = (20_000, 20, 100)  # during a backtest: see `run_backtest`


def preload(config: Config, history_dir: Path, start: datetime, end: datetime) -> dict[str, Any]:
    """Read each replay venue's series for the window from the history store, once, into a `shared` mapping."""
    from fundarb_core.store.history import HistoryStore
    from fundarb_core.venues.replay.data import load_replay_data
    from fundarb_core.venues.replay.plugin import data_key

    shared: dict[str, Any] = {}
    with HistoryStore.open(history_dir, read_only=True) as store:
        for name, cfg in _replay_sources(config).items():
            source = cfg.source or name
            if data_key(source) not in shared:
                shared[data_key(source)] = load_replay_data(
                    store, source, start, end, resolution=cfg.resolution, symbols=cfg.symbols or None
                )
    return shared


def _workspace() -> Path:
    """A fresh directory for the backtest's store, thrown away after: in memory-backed temp space where there is
    one (the store syncs every commit to disk, which a throwaway store does not need), else the temp directory."""
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix="fundarb-backtest-", dir=shm if shm.is_dir() else None))


async def run_backtest(
    config: Config,
    plugins: Plugins,
    start: datetime,
    end: datetime,
    *,
    history_dir: Path,
    out_dir: Path,
    on_progress: Progress | None = None,
    on_equity: EquityWatch | None = None,
) -> BacktestResult:
    """Run the bot over replay venues from `start` to `end`; see the module docstring.

    `on_equity` sees the equity after each tick (what `fundarb optimize` reports to Optuna's pruner); whatever it
    raises ends the backtest (the store is closed and its workspace removed) and propagates.
    """
    from fundarb_core.venues.replay.venue import ReplayVenue

    if end <= start:
        raise ConfigError([f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})"])
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    shared = preload(config, history_dir, start, end)
    work = _workspace()
    clock = SimClock(start)
    store = await Store.open(None, data_dir=work, clock=clock, inline=True)
    try:
        bot = await clock.run(Bot.create(config, plugins, clock, store, VenueContext(clock, data_dir=work,
                                                                                     shared=shared)))  # fmt: skip
        bot.record_scans = False  # kept for a dashboard; a backtest reports from its positions and ledgers
        venues = {n: v for n, v in bot.venues.items() if isinstance(v, ReplayVenue)}
        equity_start = sum((v.equity() for v in venues.values()), ZERO)
        curve: list[tuple[datetime, Decimal]] = [(start, equity_start)]
        total = (end - start).total_seconds()

        def on_tick(_: Any, elapsed: float) -> None:
            curve.append((clock.now(), sum((v.equity() for v in venues.values()), ZERO)))
            if on_equity is not None:
                on_equity(*curve[-1])
            if on_progress is not None:
                on_progress(elapsed, total)

        # The cyclic collector: a tick allocates thousands of short-lived containers (quotes, records, rows), and at
        # the default threshold (700) it ran every few ticks, re-scanning all that survived (5 % of a year's run).
        # Freed by reference counting, they need no scan: a first generation of 20,000 runs it twenty times less often.
        # Restored after, unless what was there is this (another backtest in the process, which restores its own).
        thresholds = gc.get_threshold()
        gc.set_threshold(*_GC_THRESHOLDS)
        try:
            await clock.run(bot.run(duration=end - start, on_tick=on_tick))
        finally:
            if thresholds != _GC_THRESHOLDS:
                gc.set_threshold(*thresholds)
        await clock.run(bot.funding.record())  # what settled after the last tick (this also brings venues to now)
        curve.append((clock.now(), sum((v.equity() for v in venues.values()), ZERO)))
        if on_progress is not None:
            on_progress(total, total)
        positions, pairs = await _positions(store, venues, clock.now())
    finally:
        await store.close()
        shutil.rmtree(work, ignore_errors=True)
    ledgers = [v.ledger for v in venues.values()]
    upnl = sum((p.upnl(v.mark(s)) for v in venues.values() for s, p in v.ledger.positions.items()), ZERO)
    return BacktestResult(
        start=start,
        end=end,
        capital=sum((v.replay.starting_balance for v in venues.values()), ZERO),
        equity_start=equity_start,
        equity_end=curve[-1][1],
        price_pnl=sum((lg.realized for lg in ledgers), ZERO) + upnl,
        funding=sum((lg.funding for lg in ledgers), ZERO),
        fees=sum((lg.fees + lg.liquidation_charges for lg in ledgers), ZERO),
        curve=curve,
        traded_notional=sum((lg.traded_notional for lg in ledgers), ZERO),
        fills=sum(lg.fills for lg in ledgers),
        liquidations=sum(lg.liquidations for lg in ledgers),
        positions=positions,
        pairs=pairs,
        rows_replayed=sum(v.data.rows for v in venues.values()),
        venues={
            n: {
                "source": v.data.source,
                "symbols": len(v.instruments),
                "maker_fee": str(v.maker_fee),
                "taker_fee": str(v.taker_fee),
                "equity_end": str(v.equity().quantize(MONEY)),
                "funding": str(v.ledger.funding.quantize(MONEY)),
                "fees": str(v.ledger.fees.quantize(MONEY)),
            }
            for n, v in sorted(venues.items())
        },
    )


async def _positions(store: Store, venues: dict[str, Any], now: datetime) -> tuple[list[dict[str, Any]], list[Any]]:
    """Each position's PnL parts (open legs marked now), and the same summed per pair (symbol, long, short)."""
    rows: list[dict[str, Any]] = []
    orders: dict[str | None, list[Any]] = {}  # every order and payment read once, by position, in stored order
    for order in await store.orders.list():
        orders.setdefault(order.position_id, []).append(order)
    payments: dict[str | None, list[Any]] = {}
    for payment in await store.funding.list():
        payments.setdefault(payment.position_id, []).append(payment)
    for p in sorted(await store.positions.list(), key=lambda p: (p.created_at, p.symbol, p.long_venue)):
        pnl = pnl_from(orders.get(p.id, []), payments.get(p.id, []))
        price = pnl.price
        if p.is_open:
            for name in (p.long_venue, p.short_venue):
                pos = venues[name].ledger.positions.get(p.symbol)
                if pos is not None:
                    price += pos.qty * venues[name].mark(p.symbol)
        hold = ((p.closed_at or now) - p.opened_at).total_seconds() / 3600 if p.opened_at else None
        rows.append({
            "symbol": p.symbol, "long": p.long_venue, "short": p.short_venue, "status": p.status.value,
            "opened_at": p.opened_at.isoformat() if p.opened_at else None,
            "closed_at": p.closed_at.isoformat() if p.closed_at else None,
            "hold_hours": round(hold, 2) if hold is not None else None,
            "price_pnl": price, "funding": pnl.funding, "fees": pnl.fees,
        })  # fmt: skip
    pairs: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        if r["opened_at"] is None:
            continue
        key = (r["symbol"], r["long"], r["short"])
        agg = pairs.setdefault(key, {"symbol": key[0], "long": key[1], "short": key[2], "trades": 0, "hours": 0.0,
                                     "price_pnl": ZERO, "funding": ZERO, "fees": ZERO})  # fmt: skip
        agg["trades"] += 1
        agg["hours"] += r["hold_hours"] or 0.0
        for part in ("price_pnl", "funding", "fees"):
            agg[part] += r[part]
    table = []
    for agg in sorted(pairs.values(), key=lambda a: -(a["price_pnl"] + a["funding"] - a["fees"])):
        net = agg["price_pnl"] + agg["funding"] - agg["fees"]
        table.append({
            "symbol": agg["symbol"], "long": agg["long"], "short": agg["short"], "trades": agg["trades"],
            "avg_hold_hours": f"{agg['hours'] / agg['trades']:.2f}",
            "price_pnl": str(agg["price_pnl"].quantize(MONEY)), "funding": str(agg["funding"].quantize(MONEY)),
            "fees": str(agg["fees"].quantize(MONEY)), "net": str(net.quantize(MONEY)),
        })  # fmt: skip
    for r in rows:
        for part in ("price_pnl", "funding", "fees"):
            r[part] = str(r[part].quantize(MONEY))
    return rows, table
