"""Test support: a fake Aster server speaking Aster's wire formats.

Run it alone with `python -m fundarb_venue_aster.testing.fake_server --host 127.0.0.1 --port PORT`.
"""

from __future__ import annotations

from fundarb_venue_aster.testing.exchange import ApiError, Exchange, FakeMarket
from fundarb_venue_aster.testing.fake_server import FakeAsterServer, Faults, Injected

__all__ = ["ApiError", "Exchange", "FakeAsterServer", "FakeMarket", "Faults", "Injected"]
