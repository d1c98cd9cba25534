"""Strategy: the smoothed signal, the cost model, scanner, sizing, opener, monitor, closer decisions, the exit rules,
reconciliation, the risk contract (docs/strategy.md)."""

from __future__ import annotations

from fundarb_core.strategy import exits
from fundarb_core.strategy.risk import ExitDecision, Plan, PlanContext, PositionView, RiskManager

__all__ = ["ExitDecision", "Plan", "PlanContext", "PositionView", "RiskManager", "exits"]
