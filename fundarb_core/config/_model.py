"""The core's configuration classes. Plugins' sections are validated by the classes the plugins register."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

import attrs

from fundarb_core.config._check import PluginSection, plugin_section
from fundarb_core.config.validators import (
    at_least,
    fraction,
    non_negative,
    non_negative_duration,
    positive,
    positive_duration,
)
from fundarb_core.secrets import Secret

__all__ = ["ActionsConfig", "BotConfig", "Config", "ExitConfig", "ServeConfig", "StoreConfig", "StrategyConfig"]

# Stablecoins counted at par unless the configuration says otherwise (`[bot] collateral_usd`).
DEFAULT_PEGS = {"USD": Decimal(1), "USDT": Decimal(1), "USDC": Decimal(1)}


def _with_default_pegs(value: dict[str, Decimal]) -> dict[str, Decimal]:
    return {**DEFAULT_PEGS, **value}


LogLevel = Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR"]
# How a pair is opened (fundarb_core.execution.atomic.OpenMode): both legs as maker at once, or the costlier leg as
# maker with the other hedged by market orders as it fills.
OpenModeName = Literal["both_maker", "maker_hedge"]


@attrs.frozen
class BotConfig:
    """Where the bot keeps its files and how much it says."""

    data_dir: Path | None = None
    log_level: LogLevel = "INFO"
    max_loss_usd: Decimal | None = attrs.field(default=None)  # kill switch: the positions' net loss that halts
    # USD value of one unit of each venue's settlement asset: the peg fundarb assumes wherever it adds amounts of
    # venues that settle in different assets (Aster USDT, Lighter USDC, simulated venues USD): the kill switch, the
    # live view's total equity, rebalancing transfers. An asset not listed is never added to another. Entries given
    # replace the defaults' (USD, USDT and USDC at 1) one by one.
    collateral_usd: dict[str, Decimal] = attrs.field(factory=lambda: dict(DEFAULT_PEGS), converter=_with_default_pegs)

    @max_loss_usd.validator
    def _max_loss(self, attribute: attrs.Attribute[Decimal | None], value: Decimal | None) -> None:
        if value is not None:
            positive(self, attribute, value)

    @collateral_usd.validator
    def _pegs(self, attribute: attrs.Attribute[dict[str, Decimal]], value: dict[str, Decimal]) -> None:
        for asset, peg in value.items():
            if peg <= 0:
                raise ValueError(f"every value must be a positive USD price ({asset} is {peg})")

    def usd(self, amount: Decimal, asset: str) -> Decimal | None:
        """`amount` of `asset` in USD at the configured peg; None when `asset` has none (never assumed 1)."""
        peg = self.collateral_usd.get(asset)
        return None if peg is None else amount * peg


@attrs.frozen
class StoreConfig:
    """The durable store. No URL: a SQLite file in the data directory."""

    url: str | None = None


@attrs.frozen
class StrategyConfig:
    """Scanning, costs and sizing (see docs/configuration.md and docs/strategy.md)."""

    symbols: list[str] = attrs.field(factory=list)
    exclude_symbols: list[str] = attrs.field(factory=list)
    position_size_usd: Decimal = attrs.field(default=Decimal(1000), validator=positive)
    leverage: Decimal = attrs.field(default=Decimal(3), validator=positive)
    max_position_usd: Decimal = attrs.field(default=Decimal(10_000), validator=positive)
    max_venue_usd: Decimal = attrs.field(default=Decimal(50_000), validator=positive)
    max_positions: int = attrs.field(default=10, validator=at_least(1))
    max_new_per_tick: int = attrs.field(default=2, validator=at_least(1))
    # Entry: the smoothed spread, net of the round-trip cost amortised over `entry_hold`, as an APR.
    min_net_apr: Decimal = attrs.field(default=Decimal("0.10"), validator=non_negative)
    entry_hold: timedelta = attrs.field(default=timedelta(hours=48), validator=positive_duration)
    expected_hold: timedelta | None = attrs.field(  # deprecated: read as `entry_hold`
        default=None, validator=attrs.validators.optional(positive_duration)
    )
    signal_window: timedelta = attrs.field(default=timedelta(hours=24), validator=non_negative_duration)
    # The cost model: fills' maker share until learnt, slippage per fill until learnt, half-spread until a book
    # is read, a transfer's cost where the exit plan transfers, and settlements this close count when paid.
    maker_share: Decimal = attrs.field(default=Decimal("0.5"), validator=fraction)
    slippage_bps: Decimal = attrs.field(default=Decimal(1), validator=non_negative)
    half_spread_bps: Decimal = attrs.field(default=Decimal(1), validator=non_negative)
    transfer_cost_usd: Decimal = attrs.field(default=Decimal(0), validator=non_negative)
    settlement_window: timedelta = attrs.field(default=timedelta(minutes=30), validator=non_negative_duration)
    max_price_gap: Decimal = attrs.field(default=Decimal("0.002"), validator=fraction)
    limit_offset_bps: Decimal = attrs.field(default=Decimal(1), validator=non_negative)
    open_timeout: timedelta = attrs.field(default=timedelta(seconds=30), validator=positive_duration)
    scan_interval: timedelta = attrs.field(default=timedelta(seconds=60), validator=positive_duration)
    monitor_interval: timedelta = attrs.field(default=timedelta(seconds=60), validator=positive_duration)
    entry_cooldown: timedelta = attrs.field(default=timedelta(minutes=60), validator=positive_duration)
    open_mode: OpenModeName = "maker_hedge"

    @property
    def hold(self) -> timedelta:
        """The hold the round-trip cost is amortised over at entry (`expected_hold`, deprecated, wins if set)."""
        return self.expected_hold if self.expected_hold is not None else self.entry_hold


@attrs.frozen
class ExitConfig:
    """The closer's own rules, which bypass or guard the risk manager. Defaults are the earlier bot's.

    The exit rules themselves (flip, erosion, age, minimum hold) are the risk manager's settings (`[risk_manager]`);
    without one the closer uses them with the `combined` manager's defaults.
    """

    liquidation_distance: Decimal = attrs.field(default=Decimal("0.10"), validator=fraction)
    severe_imbalance: Decimal = attrs.field(default=Decimal("0.05"), validator=fraction)
    wide_spread: Decimal = attrs.field(default=Decimal("0.02"), validator=fraction)  # defer non-critical exits


@attrs.frozen
class ActionsConfig:
    """The action runner, which carries out risk managers' plans (close → transfer → reopen).

    Disabled, or with a risk manager that returns no plan, an exit closes the position at once, as before.
    """

    enabled: bool = True
    max_attempts: int = attrs.field(default=5, validator=at_least(1))  # transient errors, then failed
    retry_backoff: timedelta = attrs.field(default=timedelta(seconds=30), validator=positive_duration)
    max_backoff: timedelta = attrs.field(default=timedelta(minutes=30), validator=positive_duration)
    # transfers of one route journalled inside it travel as one
    batch_window: timedelta = attrs.field(default=timedelta(minutes=5), validator=non_negative_duration)
    max_concurrent: int = attrs.field(default=4, validator=at_least(1))


@attrs.frozen
class ServeConfig:
    """`fundarb serve` (and `fundarb run --serve`): the REST API and the dashboard.

    Tokens are secrets (`env:NAME`): `read_token` may read, `operator_token` may also steer (pause, resume, halt,
    close, approve, cancel). With neither set the API answers on loopback only, read-only, without a token.
    """

    host: str = "127.0.0.1"
    port: int = attrs.field(default=8321, validator=[at_least(0), attrs.validators.le(65535)])
    read_token: Secret | None = None
    operator_token: Secret | None = None
    cors_origins: list[str] = attrs.field(factory=list)  # none by default: same-origin only
    max_body_bytes: int = attrs.field(default=16_384, validator=at_least(1))


@attrs.frozen
class Config:
    """A whole fundarb configuration file."""

    bot: BotConfig = attrs.field(factory=BotConfig)
    store: StoreConfig = attrs.field(factory=StoreConfig)
    venues: dict[str, PluginSection] = plugin_section("venues", factory=dict)
    strategy: StrategyConfig = attrs.field(factory=StrategyConfig)
    exit: ExitConfig = attrs.field(factory=ExitConfig)
    close_policy: PluginSection | None = plugin_section("close_policies", default=None)
    risk_manager: PluginSection | None = plugin_section("risk_managers", default=None)
    transfers: dict[str, PluginSection] = plugin_section("transfer_handlers", factory=dict)
    actions: ActionsConfig = attrs.field(factory=ActionsConfig)
    observers: dict[str, PluginSection] = plugin_section("observers", factory=dict)
    serve: ServeConfig = attrs.field(factory=ServeConfig)
