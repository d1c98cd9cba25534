"""Symbols the simulator knows, and venue profiles that mimic the real venues' grids, fees and latencies."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Final

import attrs

__all__ = ["CATALOGUE", "PROFILES", "Profile", "SymbolSpec"]

D = Decimal


@attrs.frozen
class SymbolSpec:
    """A simulated asset: where its price starts, how it moves, and its default market grids."""

    symbol: str
    price: float
    annual_vol: float
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    max_leverage: Decimal
    level_usd: Decimal  # resting liquidity per book level, in USD


CATALOGUE: Final[dict[str, SymbolSpec]] = {
    s.symbol: s
    for s in (
        SymbolSpec("BTC", 60_000.0, 0.55, D("0.1"), D("0.001"), D("0.001"), D(5), D(50), D(400_000)),
        SymbolSpec("ETH", 3_000.0, 0.65, D("0.01"), D("0.001"), D("0.001"), D(5), D(50), D(300_000)),
        SymbolSpec("SOL", 150.0, 0.85, D("0.01"), D("0.01"), D("0.01"), D(5), D(25), D(150_000)),
        SymbolSpec("BNB", 600.0, 0.55, D("0.01"), D("0.01"), D("0.01"), D(5), D(25), D(100_000)),
        SymbolSpec("XRP", 0.6, 0.8, D("0.0001"), D("0.1"), D("0.1"), D(5), D(25), D(100_000)),
        SymbolSpec("DOGE", 0.15, 0.95, D("0.00001"), D("1"), D("1"), D(5), D(20), D(80_000)),
        SymbolSpec("AVAX", 35.0, 0.9, D("0.001"), D("0.01"), D("0.01"), D(5), D(20), D(60_000)),
        SymbolSpec("LINK", 15.0, 0.85, D("0.001"), D("0.01"), D("0.01"), D(5), D(20), D(60_000)),
        SymbolSpec("ARB", 0.8, 1.0, D("0.0001"), D("0.1"), D("0.1"), D(5), D(20), D(50_000)),
        SymbolSpec("SUI", 2.0, 1.0, D("0.0001"), D("0.1"), D("0.1"), D(5), D(20), D(50_000)),
        SymbolSpec("2Z", 0.5, 1.2, D("0.0001"), D("1"), D("1"), D(5), D(10), D(30_000)),
        SymbolSpec("HYPE", 30.0, 1.1, D("0.001"), D("0.01"), D("0.01"), D(5), D(10), D(60_000)),
    )
}


@attrs.frozen
class Profile:
    """How one kind of venue behaves: funding interval, fees, latency per call kind, market-name style."""

    name: str
    funding_interval: timedelta
    maker_fee: Decimal
    taker_fee: Decimal
    latency: dict[str, timedelta]
    market_suffix: str = ""
    # Symbols whose funding interval differs from the profile's.
    interval_overrides: dict[str, timedelta] = attrs.field(factory=dict)
    # Multiply the catalogue's step (finer or coarser quantity grids than other venues).
    step_scale: Decimal = D(1)
    spread_bps: Decimal = D(2)
    order_stream: bool = True


PROFILES: Final[dict[str, Profile]] = {
    "aster-like": Profile(
        name="aster-like",
        funding_interval=timedelta(hours=8),
        maker_fee=D("0.0001"),
        taker_fee=D("0.00035"),
        latency={
            "query": timedelta(milliseconds=40),
            "order": timedelta(milliseconds=60),
            "market_order": timedelta(milliseconds=60),
            "cancel": timedelta(milliseconds=50),
        },
        market_suffix="USDT",
        interval_overrides={"SOL": timedelta(hours=4), "DOGE": timedelta(hours=4), "2Z": timedelta(hours=4)},
        step_scale=D(1),
        spread_bps=D(2),
    ),
    "lighter-like": Profile(
        name="lighter-like",
        funding_interval=timedelta(hours=1),
        maker_fee=D(0),
        taker_fee=D(0),
        latency={
            "query": timedelta(milliseconds=50),
            "order": timedelta(milliseconds=200),
            "market_order": timedelta(milliseconds=300),
            "cancel": timedelta(milliseconds=200),
        },
        step_scale=D("0.1"),
        spread_bps=D(3),
    ),
    "plain": Profile(
        name="plain",
        funding_interval=timedelta(hours=8),
        maker_fee=D("0.0002"),
        taker_fee=D("0.0005"),
        latency={},
        spread_bps=D(2),
    ),
}
