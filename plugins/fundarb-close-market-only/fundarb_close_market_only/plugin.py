"""Registers `market_only` through `fundarb_register_close_policies`."""

from __future__ import annotations

from fundarb_core import hookimpl
from fundarb_core.plugins import Register


@hookimpl
def fundarb_register_close_policies(register: Register) -> None:
    from fundarb_close_market_only.policy import MarketOnlyConfig, MarketOnlyPolicy

    register("market_only", MarketOnlyConfig, MarketOnlyPolicy)
