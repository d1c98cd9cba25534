"""The bot end to end on simulated venues: open, earn, exit, PnL; liquidation; many positions; pause."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fundarb_core.model import ExitReason, PositionStatus
from fundarb_core.model.records import ControlCommand
from tests.integration.bot.conftest import Harness

MONEY = Decimal("1e-8")


async def _wallets(h: Harness) -> Decimal:
    total = Decimal(0)
    for venue in h.bot.venues.values():
        total += (await venue.fetch_balance()).wallet
    return total


def test_open_earn_exit_and_pnl_parts_equal_the_balance_change(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(strategy={"symbols": ["BTC", "ETH", "SOL"]})
    start = h.call(lambda: _wallets(h))
    h.run(h.bot.run(duration=timedelta(days=2)))

    async def close_rest() -> None:
        for p in await h.runtime.store.positions.list_open():
            from fundarb_core.execution import Urgency

            await h.bot.book.close(p, ExitReason.MANUAL, Urgency.URGENT)

    h.call(close_rest)
    positions = h.call(lambda: h.runtime.store.positions.list())
    closed = [p for p in positions if p.status is PositionStatus.CLOSED]
    assert closed, "the bot opened and closed positions"
    assert any(p.exit_reason in (ExitReason.PROFIT_EROSION, ExitReason.DIVERGENCE_FLIPPED) for p in closed)
    assert any(Decimal(p.details["funding"]) != 0 for p in closed), "funding was earned or paid"
    end = h.call(lambda: _wallets(h))
    parts = sum((p.realized_pnl or Decimal(0) for p in closed), Decimal(0))
    for p in closed:  # each position's parts add up
        d = p.details
        assert Decimal(d["price_pnl"]) + Decimal(d["funding"]) - Decimal(d["fees"]) == p.realized_pnl
    assert (end - start).quantize(MONEY) == parts.quantize(MONEY)


def test_a_liquidated_leg_is_closed_as_an_emergency(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(strategy={"symbols": ["BTC"], "max_positions": 1})
    h.call(lambda: h.bot.tick(scan=True))
    (position,) = h.call(lambda: h.runtime.store.positions.list_open())
    short = h.bot.venues[position.short_venue]
    short._liquidate("BTC", short.mark("BTC"), h.clock.now())  # the venue closes the short itself

    tick = h.call(lambda: h.bot.tick(scan=False))
    record = h.call(lambda: h.runtime.store.positions.get(position.id))
    assert record is not None
    assert position.id in tick.closed
    assert record.status is PositionStatus.CLOSED
    assert record.exit_reason is ExitReason.LEG_LIQUIDATED
    assert h.bot.venues[position.long_venue].ledger.position("BTC").qty == 0
    assert record.details["emergency"] is True


def test_twenty_positions_on_ten_symbols_at_once(harness_factory) -> None:  # type: ignore[no-untyped-def]
    symbols = ["BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "AVAX", "LINK", "ARB", "SUI"]
    venues = {
        f"v{i}": {"kind": "sim", "profile": "lighter-like", "seed": 3, "symbols": symbols,
                  "funding_bias_bps_per_hour": str(Decimal("0.5") * i), "starting_balance": "50000"}
        for i in range(4)
    }  # fmt: skip
    h: Harness = harness_factory(
        venues=venues,
        strategy={"max_positions": 20, "max_new_per_tick": 20, "min_net_apr": "0", "max_venue_usd": "100000"},
    )  # one tick: the closer runs before the opener, so nothing opened here is judged in it
    tick = h.call(lambda: h.bot.tick(scan=True))
    open_ = h.call(lambda: h.runtime.store.positions.list_open())
    assert len(tick.opened) == 20
    assert len(open_) == 20
    assert {p.symbol for p in open_} == set(symbols)
    for p in open_:  # every position is hedged on its own venues
        long_qty = h.bot.venues[p.long_venue].ledger.position(p.symbol).qty
        short_qty = h.bot.venues[p.short_venue].ledger.position(p.symbol).qty
        assert long_qty > 0
        assert short_qty == -long_qty
    legs = [(v, p.symbol) for p in open_ for v in (p.long_venue, p.short_venue)]
    assert len(legs) == len(set(legs))  # never two positions on one venue and symbol


def test_pause_stops_openings_within_a_tick_and_resume_restarts_them(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(strategy={"max_new_per_tick": 1})
    h.call(lambda: h.runtime.store.control.issue(ControlCommand.PAUSE, issued_by="test"))
    tick = h.call(lambda: h.bot.tick(scan=True))
    assert h.bot.paused
    assert tick.opportunities, "there was something to open"
    assert tick.opened == []
    h.call(lambda: h.runtime.store.control.issue(ControlCommand.RESUME, issued_by="test"))
    tick = h.call(lambda: h.bot.tick(scan=True))
    assert not h.bot.paused
    assert len(tick.opened) == 1


def test_scans_are_stored_for_the_dashboard_unless_switched_off(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory()
    h.bot.record_scans = False  # what a backtest sets
    h.run(h.bot.run(duration=timedelta(hours=1)))
    assert h.bot.last_tick is not None
    assert h.call(lambda: h.runtime.store.scans.latest()) is None
    h.bot.record_scans = True
    h.run(h.bot.run(duration=timedelta(hours=1)))
    assert h.call(lambda: h.runtime.store.scans.latest()) is not None


def test_what_lives_for_the_run_is_frozen_out_of_the_collector_until_the_run_ends(harness_factory) -> None:  # type: ignore[no-untyped-def]
    import gc

    h: Harness = harness_factory()
    frozen: list[int] = []
    h.run(h.bot.run(duration=timedelta(hours=1), on_tick=lambda *_: frozen.append(gc.get_freeze_count())))
    assert frozen
    assert min(frozen) > 0  # during the run
    assert gc.get_freeze_count() == 0  # and given back after it
