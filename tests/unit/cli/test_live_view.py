"""The live view of `fundarb run` renders opportunities, events, state and progress."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from rich.console import Console

from fundarb_core.cli._run import _view
from fundarb_core.events import Event
from fundarb_core.strategy.scanner import Opportunity


def test_live_view_shows_opportunities_events_state_and_progress() -> None:
    now = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    opp = Opportunity("ETH", "aster_sim", "lighter_sim", Decimal("0.00001"), Decimal("0.00005"), Decimal("0.00004"),
                      Decimal("0.0004"), Decimal("0.31"), Decimal("0.001"), Decimal(3000))  # fmt: skip
    bot = SimpleNamespace(
        opportunities=[opp],
        events=[
            Event("position_opened", now, {"symbol": "ETH"}),
            Event("position_closed", now, {"symbol": "BTC", "net": "1.5"}),
        ],
        halted=False,
        paused=True,
        clock=SimpleNamespace(now=lambda: now),
    )  # fmt: skip
    out = io.StringIO()
    Console(file=out, width=120, force_terminal=False).print(_view(bot, 3600.0, timedelta(hours=2)))
    text = out.getvalue()
    assert "ETH" in text
    assert "aster_sim" in text
    assert "31.0%" in text
    assert "position_closed BTC 1.5" in text
    assert "paused" in text
    assert "2026-01-02 03:04" in text
