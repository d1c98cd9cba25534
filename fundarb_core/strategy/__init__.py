"""Strategy: scanner, opener, monitor, closer, risk-manager contract, PnL."""

from __future__ import annotations

from fundarb_core.strategy.risk import ExitDecision, PositionView, RiskManager, legacy_should_exit

__all__ = ["ExitDecision", "PositionView", "RiskManager", "legacy_should_exit"]
