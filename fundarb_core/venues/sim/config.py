"""Configuration of a simulated venue (`kind = "sim"`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

import attrs

from fundarb_core.config.validators import fraction, non_negative, positive
from fundarb_core.venues.sim.catalogue import CATALOGUE

__all__ = ["FaultConfig", "MaintenanceWindow", "SimVenueConfig"]

ProfileName = Literal["aster-like", "lighter-like", "plain"]


def _known_symbols(_: object, __: attrs.Attribute[list[str]], value: list[str]) -> None:
    unknown = [s for s in value if s not in CATALOGUE]
    if unknown:
        raise ValueError(f"unknown symbols {unknown} (the simulator knows: {', '.join(CATALOGUE)})")
    if not value:
        raise ValueError("must list at least one symbol")


@attrs.frozen
class MaintenanceWindow:
    """A period during which every call answers 'unavailable (maintenance)'."""

    start: datetime
    duration: timedelta


@attrs.frozen
class FaultConfig:
    """Seeded faults. Probabilities are per call; latency per call kind (query, order, market_order, cancel)."""

    latency: dict[str, timedelta] = attrs.field(factory=dict)
    reject_probability: Decimal = attrs.field(default=Decimal(0), validator=fraction)
    ambiguous_probability: Decimal = attrs.field(default=Decimal(0), validator=fraction)
    rate_limit_probability: Decimal = attrs.field(default=Decimal(0), validator=fraction)
    retry_after: timedelta = timedelta(seconds=1)
    unavailable_probability: Decimal = attrs.field(default=Decimal(0), validator=fraction)
    stream_disconnect_probability: Decimal = attrs.field(default=Decimal(0), validator=fraction)
    maintenance: list[MaintenanceWindow] = attrs.field(factory=list)
    seed: int = 0


@attrs.frozen
class SimVenueConfig:
    """A simulated perpetual-futures venue. Venues with the same `seed` share one price world."""

    profile: ProfileName = "plain"
    seed: int = 0
    symbols: list[str] = attrs.field(factory=lambda: ["BTC", "ETH", "SOL"], validator=_known_symbols)
    starting_balance: Decimal = attrs.field(default=Decimal(10_000), validator=non_negative)
    maker_fee: Decimal | None = None
    taker_fee: Decimal | None = None
    funding_interval: timedelta | None = None
    spread_bps: Decimal | None = None
    liquidity: Decimal = attrs.field(default=Decimal(1), validator=positive)
    maintenance_margin_ratio: Decimal | None = None  # default: half the initial margin at max leverage
    funding_bias_bps_per_hour: Decimal = Decimal(0)  # shifts this venue's funding mean (0.1 bp/h ≈ 8.8 % APR)
    faults: FaultConfig = attrs.field(factory=FaultConfig)
    persist: bool = True
