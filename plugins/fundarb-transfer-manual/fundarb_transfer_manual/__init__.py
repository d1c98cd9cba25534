"""fundarb transfer route moved by an operator, step by step, with approvals."""

from __future__ import annotations

from fundarb_transfer_manual.config import ManualTransferConfig

__all__ = ["ManualTransferConfig"]
