"""The live view's data from a real bot and store on simulated venues: open positions, PnL parts, equity."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

from rich.console import Console

from fundarb_core.cli._live import LiveData, render
from tests.integration.bot.conftest import Harness


def test_open_positions_and_equity_come_from_the_store_and_the_venues(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(strategy={"symbols": ["BTC", "ETH", "SOL"], "max_positions": 2})
    h.run(h.bot.run(duration=timedelta(hours=3)))
    store = h.runtime.store
    open_positions = h.call(store.positions.list_open)
    assert open_positions, "the bot opened positions"

    data = h.call(lambda: LiveData.gather(h.bot, store))

    assert [p.id for p in data.positions] == [p.id for p in open_positions]
    for line, position in zip(data.positions, open_positions, strict=True):
        orders = h.call(lambda p=position: store.orders.list(position_id=p.id))
        assert line.fees == sum((o.fees for o in orders), Decimal(0))
        assert line.price == Decimal(position.details["unrealized_pnl"])
        assert line.liquidation_distance is not None
        assert 0 < line.liquidation_distance < 1
        assert line.net == line.price + line.funding - line.fees

    async def equities() -> dict[str, Decimal | None]:
        return {name: (await v.fetch_balance()).equity for name, v in h.bot.venues.items()}

    assert data.equity == h.call(equities)
    out = io.StringIO()
    console = Console(file=out, width=80, height=24, record=True)
    console.print(render(h.bot, data, 3 * 3600.0, timedelta(hours=6), width=80, height=24))
    text = console.export_text()
    first = data.positions[0]
    row = next(r for r in text.splitlines() if r.startswith(first.symbol))
    assert f"{first.net:+,.2f}" in row
