"""A pair closed less than `entry_hold` ago reopens only when its carry over the hold pays two round trips."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from fundarb_core.config import StrategyConfig
from fundarb_core.strategy.opener import Opener
from fundarb_core.strategy.scanner import Opportunity, Scanner

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def opportunity(spread: str, cost: str, symbol: str = "BTC") -> Opportunity:
    return Opportunity(symbol, "a", "b", Decimal(0), Decimal(spread), Decimal(spread), Decimal(0), Decimal(1),
                       Decimal(0), Decimal(100), cost=Decimal(cost))  # fmt: skip


def opener() -> Opener:
    made = Opener.__new__(Opener)  # only the reopen rule: no store, venues or book needed
    made.scanner = Scanner(StrategyConfig(), {})  # entry_hold 48 h
    made.closed_pairs = {("BTC", "a", "b"): NOW}
    return made


def test_the_pair_just_closed_needs_two_round_trips_of_carry() -> None:
    o = opener()
    # 0.2 bp/h over 48 h = 9.6 bp of carry.
    assert not o._reopen_pays(opportunity("0.00002", "0.0005"))  # a 5 bp round trip: 9.6 < 10
    assert o._reopen_pays(opportunity("0.00002", "0.00048"))  # 9.6 ≥ 9.6
    assert o._reopen_pays(opportunity("0.00002", "0.0005", symbol="ETH"))  # any other pair: the normal bar only
