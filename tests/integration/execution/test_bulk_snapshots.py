"""The optional bulk snapshot call answers exactly what per-symbol calls answer (sim venue)."""

from __future__ import annotations

from decimal import Decimal

from fundarb_core.model import Side
from tests.integration.execution.harness import Market


def test_bulk_snapshots_equal_per_symbol_snapshots() -> None:
    market = Market()
    venue = market.venues["aster"]

    async def scenario():  # type: ignore[no-untyped-def]
        for symbol, side in (("BTC", Side.BUY), ("ETH", Side.SELL)):
            bbo = await venue.fetch_bbo_prices(symbol)
            worst = bbo.ask * 2 if side is Side.BUY else bbo.bid / 2
            qty = venue.instruments[symbol].min_qty_at(bbo.mid) * 3
            await venue.place_market_order(
                symbol, side, qty, worst_price=venue.instruments[symbol].round_price(worst), client_order_id=symbol
            )
        bulk = await venue.get_position_snapshots(["BTC", "ETH", "SOL"])
        single = {s: await venue.get_position_snapshot(s) for s in ("BTC", "ETH", "SOL")}
        return bulk, single

    bulk, single = market.run(scenario())
    strip = {s: (b.quantity, b.entry_price, b.mark_price, b.liquidation_price, b.margin) for s, b in bulk.items()}
    assert strip == {
        s: (b.quantity, b.entry_price, b.mark_price, b.liquidation_price, b.margin) for s, b in single.items()
    }
    assert bulk["BTC"].quantity > 0
    assert bulk["ETH"].quantity < 0
    assert bulk["SOL"].quantity == Decimal(0)
