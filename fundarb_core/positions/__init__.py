"""Positions: a stored position's lifecycle (open, close, reduce), its PnL, funding recording, the event recorder.

Sits between the action runner (above) and execution (below): action handlers reach it through the ports in
`fundarb_core.actions.ports`, the strategy through the bot's wiring.
"""

from __future__ import annotations

from fundarb_core.positions.book import OpenRequest, PositionBook
from fundarb_core.positions.funding import FundingLedger
from fundarb_core.positions.journal import StoreJournal
from fundarb_core.positions.pnl import PnL, pnl_from
from fundarb_core.positions.recorder import EventRecorder

__all__ = ["EventRecorder", "FundingLedger", "OpenRequest", "PnL", "PositionBook", "StoreJournal", "pnl_from"]
