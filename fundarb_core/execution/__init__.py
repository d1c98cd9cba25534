"""Execution: orders, atomic multi-leg opens, and closes built from live snapshots under a close policy."""

from __future__ import annotations

from fundarb_core.execution.atomic import AtomicExecutor, AtomicResult
from fundarb_core.execution.close import CloseExecutor, ClosePolicy, CloseRequest, CloseResult, LegRef, Urgency
from fundarb_core.execution.journal import NULL_JOURNAL, NullJournal, OrderJournal
from fundarb_core.execution.order_executor import OrderExecutor, RetryPolicy
from fundarb_core.execution.specs import CloseLegSpec, OrderResult, OrderSpec, client_order_id
from fundarb_core.execution.telemetry import Telemetry

__all__ = [
    "NULL_JOURNAL",
    "AtomicExecutor",
    "AtomicResult",
    "CloseExecutor",
    "CloseLegSpec",
    "ClosePolicy",
    "CloseRequest",
    "CloseResult",
    "LegRef",
    "NullJournal",
    "OrderExecutor",
    "OrderJournal",
    "OrderResult",
    "OrderSpec",
    "RetryPolicy",
    "Telemetry",
    "Urgency",
    "client_order_id",
]
