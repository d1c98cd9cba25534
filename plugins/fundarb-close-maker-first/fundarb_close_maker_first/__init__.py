"""The maker-first close policy for fundarb."""

from __future__ import annotations

from fundarb_close_maker_first.policy import MakerFirstConfig, MakerFirstPolicy

__all__ = ["MakerFirstConfig", "MakerFirstPolicy"]
