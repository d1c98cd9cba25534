"""The market-only close policy for fundarb."""

from __future__ import annotations

from fundarb_close_market_only.policy import MarketOnlyConfig, MarketOnlyPolicy

__all__ = ["MarketOnlyConfig", "MarketOnlyPolicy"]
