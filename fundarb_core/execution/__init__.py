"""Execution: orders, atomic multi-leg opens, and closes built from live snapshots under a close policy."""

from __future__ import annotations

from fundarb_core.execution.atomic import OPEN_MODES, AtomicExecutor, AtomicResult, OpenMode
from fundarb_core.execution.close import (
    CloseExecutor,
    ClosePolicy,
    CloseRequest,
    CloseResult,
    ReduceResult,
    Urgency,
)
from fundarb_core.execution.gateway import LegRef, RetryPolicy, VenueGateway
from fundarb_core.execution.ids import client_order_id
from fundarb_core.execution.journal import NULL_JOURNAL, NullJournal, OrderJournal
from fundarb_core.execution.order_executor import OrderExecutor
from fundarb_core.execution.specs import CloseLegSpec, OrderResult, OrderSpec
from fundarb_core.execution.telemetry import Telemetry

__all__ = [
    "NULL_JOURNAL",
    "OPEN_MODES",
    "AtomicExecutor",
    "AtomicResult",
    "CloseExecutor",
    "CloseLegSpec",
    "ClosePolicy",
    "CloseRequest",
    "CloseResult",
    "LegRef",
    "NullJournal",
    "OpenMode",
    "OrderExecutor",
    "OrderJournal",
    "OrderResult",
    "OrderSpec",
    "ReduceResult",
    "RetryPolicy",
    "Telemetry",
    "Urgency",
    "VenueGateway",
    "client_order_id",
]
