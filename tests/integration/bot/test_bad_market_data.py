"""A zero, negative, NaN or stale mark or rate excludes that venue and symbol for the tick, with one warning
event; the loop goes on and open positions stay guarded. (Every odd datum through every decision path:
tests/property/test_decisions_on_bad_data.py.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest

from fundarb_core.events import EventKind
from fundarb_core.model import PositionStatus
from tests.integration.bot.conftest import Harness

BAD = {
    "zero mark": {"mark_price": Decimal(0)},
    "NaN rate": {"rate": Decimal("NaN")},
    "stale": {"next_funding_time": "stale"},
}


@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
def test_bad_data_excludes_the_symbol_warns_once_and_keeps_positions_guarded(
    harness_factory: Any, monkeypatch: pytest.MonkeyPatch, bad: dict[str, Any]
) -> None:
    h: Harness = harness_factory(strategy={"symbols": ["BTC", "ETH"], "max_positions": 1})
    h.call(lambda: h.bot.tick(scan=True))
    (position,) = h.call(lambda: h.runtime.store.positions.list_open())
    venue = h.bot.venues[position.long_venue]
    real = venue.fetch_funding_rates

    async def broken(symbols: Any = None) -> Any:
        rates = dict(await real(symbols))
        rate = rates[position.symbol]
        changes = dict(bad)
        if changes.get("next_funding_time") == "stale":
            changes["next_funding_time"] = rate.next_funding_time - 10 * rate.interval
        rates[position.symbol] = attrs.evolve(rate, **changes)
        return rates

    monkeypatch.setattr(venue, "fetch_funding_rates", broken)
    for _ in range(2):
        tick = h.call(lambda: h.bot.tick(scan=True))  # does not raise
        assert position.symbol not in h.bot.rates[position.long_venue]
        assert all(o.symbol != position.symbol or position.long_venue not in (o.long_venue, o.short_venue)
                   for o in tick.opportunities)  # fmt: skip
    assert h.bot.faults == {}
    alerts = [e.data for e in h.call(lambda: h.runtime.store.events.list(kind=EventKind.ALERT))]
    assert [(a["alert"], a["venue"], a["symbol"]) for a in alerts if a["alert"] == "bad_market_data"] == [
        ("bad_market_data", position.long_venue, position.symbol)
    ]  # once, the tick it went bad
    still = h.call(lambda: h.runtime.store.positions.get(position.id))
    assert still is not None
    assert still.status is PositionStatus.OPEN
    assert still.version > position.version  # still monitored: its legs' marks were written
