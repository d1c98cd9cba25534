"""Configuration of a replay venue (`kind = "replay"`): recorded history served as a tradable venue."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs

from fundarb_core.config.validators import non_negative, positive, positive_duration

__all__ = ["ReplayVenueConfig"]


@attrs.frozen
class ReplayVenueConfig:
    """A venue that replays recorded funding and prices from the history store (see docs/backtesting.md).

    `source` names the venue in the history store (default: this venue's own name). Fees are rates per fill (0.0005
    is 5 bp); `spread_bps` is the quoted spread around the mid; each of the synthetic book's levels holds
    `level_usd` (deeper levels more), so large orders walk the book and pay slippage.
    """

    source: str | None = None
    symbols: list[str] = attrs.field(factory=list)  # empty: every symbol with recorded funding and prices
    starting_balance: Decimal = attrs.field(default=Decimal(10_000), validator=non_negative)
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    spread_bps: Decimal = attrs.field(default=Decimal(2), validator=non_negative)
    level_usd: Decimal = attrs.field(default=Decimal(100_000), validator=positive)
    max_leverage: Decimal = attrs.field(default=Decimal(20), validator=positive)
    maintenance_margin_ratio: Decimal | None = None  # default: half the initial margin at max leverage
    resolution: timedelta = attrs.field(default=timedelta(hours=1), validator=positive_duration)
    funding_interval: timedelta = attrs.field(default=timedelta(hours=8), validator=positive_duration)  # fallback
    latency: timedelta = timedelta(0)  # per call, in simulated time
    # A recorded rate stays current for its interval plus this grace (settlement times carry jitter of a few ms).
    grace: timedelta = timedelta(minutes=1)
