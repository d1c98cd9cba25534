"""Scrape `/metrics` while the bot paper-trades on simulated venues, and hold the figures against the store."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fundarb_core.execution import Urgency
from fundarb_core.model import ExitReason, PositionStatus

from .conftest import Harness, Samples, bot_config, bot_plugins, by_label, scrape, total


def test_every_tick_is_timed_while_the_bot_runs(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory()
    seen: list[tuple[int, Samples]] = []

    def on_tick(_: Any, __: float) -> None:
        seen.append((len(seen) + 1, scrape(h.exporter.url)))  # during the run, from the live server

    h.run(h.bot.run(duration=timedelta(hours=1), on_tick=on_tick))
    assert len(seen) == 12
    for ticks, samples in seen:
        assert total(samples, "fundarb_tick_duration_seconds_count") == ticks
    assert total(seen[-1][1], "fundarb_events_total") > 0


async def _store_figures(h: Harness) -> dict[str, Any]:
    store = h.runtime.store
    orders = await store.orders.list()
    fills = await store.fills.list()
    positions = await store.positions.list()
    filled: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    fees: dict[str, Decimal] = defaultdict(Decimal)
    for f in fills:
        filled[(f.venue, f.symbol)] += f.quantity
        fees[f.venue] += f.fee
    closed = [p for p in positions if p.status is PositionStatus.CLOSED]
    open_ = [p for p in positions if p.is_open and p.status is not PositionStatus.CLOSE_FAILED]
    open_by_venue: dict[str, int] = defaultdict(int)
    for p in open_:
        open_by_venue[p.long_venue] += 1
        open_by_venue[p.short_venue] += 1
    return {
        "orders": len(orders),
        "filled": dict(filled),
        "fees": dict(fees),
        "closed": len(closed),
        "emergency": sum(1 for p in closed if p.details.get("emergency")),
        "realised": sum((p.realized_pnl or Decimal(0) for p in closed), Decimal(0)),
        "open_by_venue": dict(open_by_venue),
    }


def _assert_match(samples: Samples, figures: dict[str, Any]) -> None:
    assert total(samples, "fundarb_orders_total") == figures["orders"]
    for (venue, symbol), qty in figures["filled"].items():
        assert total(samples, "fundarb_filled_quantity_total", venue=venue, symbol=symbol) == pytest.approx(float(qty))
    for venue, fee in figures["fees"].items():
        assert total(samples, "fundarb_fees_usd_total", venue=venue) == pytest.approx(float(abs(fee)))
    assert total(samples, "fundarb_positions_closed_total") == figures["closed"]
    assert total(samples, "fundarb_positions_closed_total", emergency="true") == figures["emergency"]
    assert total(samples, "fundarb_realised_pnl_usd") == pytest.approx(float(figures["realised"]), abs=1e-6)
    gauges = {k: v for k, v in by_label(samples, "fundarb_open_positions", "venue").items() if v}
    assert gauges == figures["open_by_venue"]


def test_counters_scraped_during_a_paper_run_match_the_store(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(strategy={"symbols": ["BTC", "ETH", "SOL"], "max_positions": 3})
    scrapes: list[tuple[Samples, dict[str, Any]]] = []

    async def paper_run() -> None:
        for i in range(12):  # one simulated hour of 5-minute ticks
            await h.bot.tick(scan=True)
            if i == 3:  # a venue liquidates one leg: the next tick closes the position as an emergency
                (position, *_) = await h.runtime.store.positions.list_open()
                short = h.bot.venues[position.short_venue]
                short._liquidate(position.symbol, short.mark(position.symbol), h.clock.now())
            if i == 8:  # an operator-style close of whatever is still open
                for p in (await h.runtime.store.positions.list_open())[:1]:
                    await h.bot.close_position(p, ExitReason.MANUAL, Urgency.URGENT)
            if i in (2, 6, 11):  # scrape the live endpoint mid-run and read the store at the same moment
                scrapes.append((scrape(h.exporter.url), await _store_figures(h)))
            await h.clock.sleep(300)

    h.run(paper_run())
    final = scrapes[-1][1]
    assert final["orders"] > 0, "the run placed orders"
    assert final["closed"] >= 2, "the run closed positions"
    assert final["emergency"] >= 1, "one of them as an emergency"
    for samples, figures in scrapes:
        _assert_match(samples, figures)


def test_a_restarted_bot_reports_the_positions_it_holds(tmp_path: Path) -> None:
    plugins = bot_plugins()
    config = bot_config(tmp_path / "data", plugins, strategy={"symbols": ["BTC", "ETH"], "max_positions": 2})
    first = Harness(config, plugins)
    try:
        first.call(lambda: first.bot.tick(scan=True))
        held = first.call(lambda: first.runtime.store.positions.list_open())
    finally:
        first.close()
    assert held, "the first run opened positions"
    expected: dict[str, float] = defaultdict(float)
    for p in held:
        expected[p.long_venue] += 1
        expected[p.short_venue] += 1

    second = Harness(config, bot_plugins())  # a new process: the gauges come from the store, not from events
    try:
        samples = scrape(second.exporter.url)
    finally:
        second.close()
    assert by_label(samples, "fundarb_open_positions", "venue") == expected
    notional = by_label(samples, "fundarb_open_notional_usd", "venue")
    assert notional[held[0].long_venue] == pytest.approx(float(sum(p.notional_usd for p in held)))
