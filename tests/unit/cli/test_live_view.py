"""The live view of `fundarb run`: state, equity, open positions with PnL parts and liquidation distance,
opportunities and events, fitted to the terminal (160×45 and 80×24), drawn with rich's recording console."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from fundarb_core.cli._live import LiveData, PositionLine, render
from fundarb_core.events import Event
from fundarb_core.strategy.scanner import Opportunity

NOW = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def opportunity(symbol: str, apr: str) -> Opportunity:
    return Opportunity(symbol, "aster_sim", "lighter_sim", Decimal("0.00001"), Decimal("0.00005"), Decimal("0.00004"),
                       Decimal("0.0004"), Decimal(apr), Decimal("0.001"), Decimal(3000))  # fmt: skip


def fake_bot(*, paused: bool = False, halted: bool = False, events: int = 2, opportunities: int = 1) -> Any:
    kinds = ["position_opened", "position_closed"]
    return SimpleNamespace(
        opportunities=[opportunity("ETH", "0.31")] + [opportunity(f"S{i}", "0.2") for i in range(opportunities - 1)],
        events=[
            Event(kinds[i % 2], NOW - timedelta(minutes=events - i), {"symbol": f"E{i}", "net": "1.5"})
            for i in range(events)
        ],
        halted=halted,
        paused=paused,
        clock=SimpleNamespace(now=lambda: NOW),
        last_actions=None,
    )


def line(symbol: str = "BTC", *, price: str | None = "-12.34", distance: str | None = "0.2741") -> PositionLine:
    return PositionLine(
        f"pos-{symbol}",
        symbol,
        "aster_sim",
        "lighter_sim",
        Decimal(1000),
        Decimal(price) if price is not None else None,
        Decimal("25.5"),
        Decimal("0.8"),
        Decimal(distance) if distance is not None else None,
        NOW - timedelta(hours=5),
    )


DATA = LiveData([line()], {"aster_sim": Decimal("10012.5"), "lighter_sim": Decimal("9990")})


def draw(renderable: Any, width: int, height: int) -> list[str]:
    console = Console(
        file=io.StringIO(), record=True, width=width, height=height, force_terminal=True, color_system="truecolor"
    )
    console.print(renderable)
    return console.export_text().rstrip("\n").split("\n")


@pytest.mark.parametrize(("width", "height"), [(160, 45), (80, 24)])
def test_an_open_position_with_its_pnl_parts_equity_and_state_fit_the_terminal(width: int, height: int) -> None:
    lines = draw(render(fake_bot(), DATA, 3600.0, timedelta(hours=6), width=width, height=height), width, height)
    text = "\n".join(lines)
    assert max(len(row) for row in lines) <= width
    assert len(lines) <= height
    assert "RUNNING" in text
    assert "equity 20,002.50" in text
    position = next(row for row in lines if row.lstrip().startswith("BTC"))
    # price −12.34, funding +25.50, fees −0.80, net +12.36, nearer leg 27.4 % from liquidation
    for cell in ("aster_sim", "lighter_sim", "-12.34", "+25.50", "-0.80", "+12.36", "27.4%"):
        assert cell in position, (cell, position)
    assert "ETH" in text  # the opportunity
    assert "31.0%" in text
    assert "position_closed E1 1.5" in text  # an event


def test_160_columns_also_show_notional_and_age() -> None:
    lines = draw(render(fake_bot(), DATA, 0.0, None, width=160, height=45), 160, 45)
    position = next(row for row in lines if row.lstrip().startswith("BTC"))
    assert "1,000" in position
    assert "5.0h" in position


@pytest.mark.parametrize(("width", "height"), [(160, 45), (80, 24)])
def test_a_crowded_view_is_cut_to_the_height_and_says_what_it_left_out(width: int, height: int) -> None:
    data = LiveData([line(f"SYM{i}") for i in range(30)], {"aster_sim": Decimal(1), "lighter_sim": None})
    bot = fake_bot(events=50, opportunities=20)
    lines = draw(render(bot, data, 10.0, timedelta(hours=1), width=width, height=height), width, height)
    assert len(lines) <= height
    assert max(len(row) for row in lines) <= width
    shown = sum(1 for row in lines if row.lstrip().startswith("SYM"))
    assert 1 <= shown < 30
    assert f"open positions (30, {30 - shown} not shown)" in "\n".join(lines)
    assert "open 30 net +370.80" in lines[0]  # 30 × +12.36, before the per-venue equity (cut first when narrow)
    if width >= 120:
        assert "lighter_sim ?" in lines[0]  # a venue that did not answer


@pytest.mark.parametrize(("paused", "halted", "state"), [(True, False, "PAUSED"), (False, True, "HALTED")])
def test_the_bot_state_is_shown(paused: bool, halted: bool, state: str) -> None:
    text = "\n".join(draw(render(fake_bot(paused=paused, halted=halted), DATA, 0.0, None), 80, 24))
    assert state in text


def test_unknown_marks_and_distances_show_a_question_mark() -> None:
    data = LiveData([line(price=None, distance=None)], {})
    position = next(r for r in draw(render(fake_bot(), data, 0.0, None), 80, 24) if r.lstrip().startswith("BTC"))
    assert position.count("?") == 3  # price, net, distance
    assert "+25.50" in position


def test_a_position_line_reads_the_stored_details() -> None:
    position = SimpleNamespace(
        id="p1",
        symbol="SOL",
        long_venue="a",
        short_venue="b",
        notional_usd=Decimal(500),
        opened_at=NOW,
        details={"unrealized_pnl": "3.5", "liquidation_distance": {"a": "0.4", "b": "0.25", "c": "None"}},
    )
    orders = [SimpleNamespace(fees=Decimal("0.1")), SimpleNamespace(fees=Decimal("0.2"))]
    payments = [SimpleNamespace(amount=Decimal("1.25")), SimpleNamespace(amount=Decimal("-0.25"))]
    built = PositionLine.of(position, orders, payments)
    assert (built.price, built.funding, built.fees) == (Decimal("3.5"), Decimal(1), Decimal("0.3"))
    assert built.liquidation_distance == Decimal("0.25")
    assert built.net == Decimal("4.2")
