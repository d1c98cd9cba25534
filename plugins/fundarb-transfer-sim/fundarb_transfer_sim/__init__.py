"""fundarb transfer route between simulated venues."""

from __future__ import annotations

from fundarb_transfer_sim.config import SimTransferConfig

__all__ = ["SimTransferConfig"]
