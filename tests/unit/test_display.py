"""Numbers as people read them, and tables that fit the terminal without cutting words."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from rich.console import Console

from fundarb_core.cli._table import Column, print_table
from fundarb_core.display import at_step, money, percent, plain


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("0E-8"), "0.00"), (Decimal("-0.001"), "0.00"), (Decimal("12.345"), "12.34"), (Decimal("-3.456"), "-3.46"),
     ("1000", "1000.00"), (None, "-"), ("nan", "-"), ("oops", "-")],
)  # fmt: skip
def test_money_is_shown_to_the_cent(value: object, expected: str) -> None:
    assert money(value) == expected


def test_prices_and_quantities_at_their_grid() -> None:
    assert at_step(Decimal("150.0023963963963963963963964"), Decimal("0.01")) == "150.00"
    assert at_step(Decimal("0.01549"), Decimal("0.001")) == "0.015"
    assert at_step(Decimal("64000.5"), Decimal("1")) == "64000"  # half to even
    assert at_step(Decimal("2.5"), None) == "2.5"
    assert plain(Decimal("0E-8")) == "0"
    assert plain("1.500") == "1.5"
    assert percent(Decimal("0.1234")) == "12.3%"


def _render(width: int, *, wide: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    columns = [Column("id", "id"), Column("status", "status"), Column("long", "long", 5),
               Column("reason", "exit", 2), Column("net", "net", numeric=True)]  # fmt: skip
    rows = [{"id": "3f9a2c1d", "status": "close_failed", "long": "lighter_sim", "reason": "divergence_flipped",
             "net": "-1.05"}]  # fmt: skip
    print_table("positions", columns, rows, wide=wide, console=console)
    return out.getvalue()


def test_a_narrow_table_keeps_whole_words_and_says_what_it_left_out() -> None:
    narrow = _render(40)
    assert "…" not in narrow
    assert "close_failed" in narrow
    assert "3f9a2c1d" in narrow
    assert "-1.05" in narrow
    assert "divergence_flipped" not in narrow
    assert "not shown at this width: long, exit;" in narrow
    full = _render(40, wide=True)
    assert "divergence_flipped" in full
    assert "lighter_sim" in full
    assert "not shown" not in full
    assert "divergence_flipped" in _render(120)
