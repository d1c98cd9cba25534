"""Accounting exports: exact amounts, UTC times, the same rows as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from fundarb_core.model import PositionStatus, Side
from fundarb_core.store import export_rows, write_export


async def _fill_store(store, clock):
    position = await store.positions.create(
        symbol="BTC",
        long_venue="aster",
        short_venue="lighter",
        long_quantity=Decimal("0.5"),
        short_quantity=Decimal("0.5"),
        notional_usd=Decimal("50000"),
    )
    long_leg, short_leg = position.legs
    await store.positions.update(
        attrs.evolve(
            position,
            status=PositionStatus.CLOSED,
            opened_at=clock.now(),
            closed_at=clock.now() + timedelta(hours=8),
            realized_pnl=Decimal("12.000000000000000001"),
            legs=(
                attrs.evolve(long_leg, fees=Decimal("1.1"), funding=Decimal("-0.2")),
                attrs.evolve(short_leg, fees=Decimal("0.9"), funding=Decimal("5.25")),
            ),
        )
    )
    await store.orders.record_intent(
        client_order_id="c1",
        venue="aster",
        symbol="BTC",
        side=Side.BUY,
        quantity=Decimal("0.5"),
        price=Decimal("100000"),
        position_id=position.id,
    )
    await store.fills.add(
        venue="aster",
        venue_fill_id="f1",
        client_order_id="c1",
        quantity=Decimal("0.5"),
        price=Decimal("99999.5"),
        fee=Decimal("1.1"),
        at=clock.now(),
    )
    await store.funding.add(
        venue="lighter",
        venue_payment_id="p1",
        symbol="BTC",
        amount=Decimal("5.25"),
        at=clock.now(),
        position_id=position.id,
    )
    return position


async def test_positions_export_sums_legs_exactly(store, clock) -> None:
    position = await _fill_store(store, clock)
    [row] = await export_rows(store, "positions")
    assert row["id"] == position.id
    assert (row["fees"], row["funding"], row["realized_pnl"]) == ("2.0", "5.05", "12.000000000000000001")
    assert row["closed_at"] == "2026-01-01T08:00:00+00:00"
    assert row["exit_reason"] is None


async def test_csv_and_json_carry_the_same_rows(store, clock) -> None:
    await _fill_store(store, clock)
    for what in ("fills", "funding", "positions"):
        rows = await export_rows(store, what)
        as_csv, as_json = io.StringIO(), io.StringIO()
        write_export(rows, what, "csv", as_csv)
        write_export(rows, what, "json", as_json)
        from_csv = list(csv.DictReader(io.StringIO(as_csv.getvalue())))
        from_json = json.loads(as_json.getvalue())
        assert from_json == rows
        assert from_csv == [{k: "" if v is None else v for k, v in row.items()} for row in rows]
    [fill] = await export_rows(store, "fills")
    assert (fill["price"], fill["side"], fill["at"]) == ("99999.5", "buy", "2026-01-01T00:00:00+00:00")


async def test_an_empty_csv_export_still_has_its_header(store) -> None:
    out = io.StringIO()
    write_export(await export_rows(store, "funding"), "funding", "csv", out)
    assert out.getvalue() == "id,at,venue,symbol,amount,rate,venue_payment_id,position_id\n"


async def test_since_filters_by_time(store, clock) -> None:
    await _fill_store(store, clock)
    assert await export_rows(store, "funding", since=clock.now() + timedelta(seconds=1)) == []
    assert len(await export_rows(store, "funding", since=clock.now())) == 1


async def test_unknown_exports_and_formats_are_refused(store) -> None:
    with pytest.raises(ValueError, match="unknown export"):
        await export_rows(store, "trades")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown format"):
        write_export([], "fills", "xml", io.StringIO())
