"""The history store: CSV import validates every row (line numbers, nothing half-imported), deduplicates, lists
coverage with gaps, and keeps numbers exact."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from fundarb_core.cli import main
from fundarb_core.store.history import HistoryImportError, HistoryStore
from fundarb_core.venues import FundingHistoryEntry, PriceCandle

FUNDING = """timestamp_utc,venue,coin,funding_rate,interval_hours
2025-03-08T16:00:00.001Z,binance,BTC,1.208e-05,8
2025-03-09T00:00:00.001Z,binance,BTC,-2.779e-05,8
2025-03-09T08:00:00.000Z,binance,BTC,3.218e-05,8
2025-03-10T08:00:00.000Z,binance,BTC,0.0001,8
2025-10-10T12:00:00.000Z,lighter,BTC,1.2000000000004285e-05,1
"""

CANDLES = """timestamp_utc,venue,coin,o,h,l,c,v
2025-03-06T11:00:00Z,binance,BTC,91250.0,91563.0,90953.1,91319.2,5659.315
2025-03-06T12:00:00Z,binance,BTC,91319.2,91369.6,89800.0,90062.7,15466.773
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_import_keeps_every_number_exact_and_is_idempotent(tmp_path: Path) -> None:
    funding, candles = write(tmp_path / "f.csv", FUNDING), write(tmp_path / "c.csv", CANDLES)
    with HistoryStore.open(tmp_path / "data") as store:
        assert store.import_csv(funding).added == 5
        assert store.import_csv(candles).added == 2
        again = store.import_csv(funding)
        assert (again.added, again.already_present) == (0, 5)
        lighter = store.funding("lighter", "BTC")
        assert lighter == [
            FundingHistoryEntry("BTC", datetime(2025, 10, 10, 12, tzinfo=UTC), Decimal("1.2000000000004285e-05"),
                                timedelta(hours=1))
        ]  # fmt: skip
        first = store.funding("binance", "BTC")[0]
        assert first.at == datetime(2025, 3, 8, 16, 0, 0, 1000, tzinfo=UTC)
        assert first.rate == Decimal("0.00001208")
        assert first.interval == timedelta(hours=8)
        candle = store.candles("binance", "BTC")[1]
        assert (candle.open, candle.high, candle.low, candle.close) == (
            Decimal("91319.2"), Decimal("91369.6"), Decimal("89800"), Decimal("90062.7"),
        )  # fmt: skip
        assert candle.kind == "last"


def test_a_gzipped_file_imports_like_a_plain_one(tmp_path: Path) -> None:
    path = tmp_path / "f.csv.gz"
    path.write_bytes(gzip.compress(FUNDING.encode()))
    with HistoryStore.open(tmp_path / "data") as store:
        assert store.import_csv(path).added == 5


BAD = """timestamp_utc,venue,coin,funding_rate,interval_hours
2025-03-08T16:00:00Z,binance,BTC,0.0001,8
2025-03-08T24:00:00Z,binance,BTC,0.0001,8
2025-03-09T08:00:00Z,binance,BTC,abc,8
2025-03-09T16:00:00Z,binance,BTC,0.0001
2025-03-10T00:00:00Z,binance,BTC,0.0001,7.5
2025-03-10T08:00:00,binance,BTC,0.0001,8
2025-03-10T16:00:00Z,binance,BTC,NaN,8
2025-03-11T00:00:00Z,binance,BTC,0.0001,8
"""


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "data") as store:
        with pytest.raises(HistoryImportError) as caught:
            store.import_csv(write(tmp_path / "bad.csv", BAD))
        assert [p.line for p in caught.value.problems] == [3, 4, 5, 6, 7, 8]
        assert "not a number" in caught.value.problems[1].message
        assert "expected 5 fields, found 4" in caught.value.problems[2].message
        assert "UTC" in caught.value.problems[4].message
        assert store.funding("binance", "BTC") == []
        assert store.coverage() == []


def test_a_candle_outside_its_own_range_is_refused(tmp_path: Path) -> None:
    text = CANDLES + "2025-03-06T13:00:00Z,binance,BTC,90062.7,90000.0,89800.0,90100.0,1\n"
    with HistoryStore.open(tmp_path / "data") as store:
        with pytest.raises(HistoryImportError) as caught:
            store.import_csv(write(tmp_path / "c.csv", text))
        assert [p.line for p in caught.value.problems] == [4]
        assert store.candles("binance", "BTC") == []


def test_one_key_with_two_values_in_a_file_is_refused_whole(tmp_path: Path) -> None:
    text = FUNDING + "2025-03-09T00:00:00.001Z,binance,BTC,0.0005,8\n"
    with HistoryStore.open(tmp_path / "data") as store:
        with pytest.raises(HistoryImportError) as caught:
            store.import_csv(write(tmp_path / "f.csv", text))
        assert [p.line for p in caught.value.problems] == [7]
        assert "line 3" in caught.value.problems[0].message
        assert store.funding("binance", "BTC") == []


def test_coverage_lists_rows_and_gaps(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "data") as store:
        store.import_csv(write(tmp_path / "f.csv", FUNDING))
        coverage = {(c.venue, c.series, c.symbol): c for c in store.coverage()}
    binance = coverage["binance", "funding", "BTC"]
    assert binance.rows == 4
    assert binance.step == timedelta(hours=8)
    assert binance.gaps == ((datetime(2025, 3, 9, 8, tzinfo=UTC), datetime(2025, 3, 10, 8, tzinfo=UTC)),)
    assert coverage["lighter", "funding", "BTC"].gaps == ()


def test_added_rows_are_deduplicated_on_venue_symbol_and_time(tmp_path: Path) -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    rows = [FundingHistoryEntry("ETH", at + i * hour, Decimal(i) / 10**6, hour) for i in range(5)]
    candle = PriceCandle("ETH", at, timedelta(hours=1), Decimal("3000.5"), Decimal(3010), Decimal(2990), Decimal(3001))
    with HistoryStore.open(None) as store:
        assert store.add_funding("v", rows[:3]) == 3
        assert store.add_funding("v", rows) == 2
        assert store.add_candles("v", [candle, candle]) == 1
        assert store.funding("v", "ETH") == rows
        assert store.candles("v", "ETH") == [candle]


def test_cli_import_reports_bad_lines_and_list_prints_json(tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "data")
    refused = runner.invoke(main, ["data", "import", "--data-dir", data, str(write(tmp_path / "bad.csv", BAD))])
    assert refused.exit_code == 1
    assert f"{tmp_path / 'bad.csv'}:4: funding_rate is not a number: 'abc'" in refused.output
    ok = runner.invoke(main, ["data", "import", "--data-dir", data, str(write(tmp_path / "f.csv", FUNDING))])
    assert ok.exit_code == 0, ok.output
    assert "5 funding rows, 5 new" in ok.output
    listed = runner.invoke(main, ["data", "list", "--data-dir", data, "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {(r["venue"], r["symbol"]): r for r in json.loads(listed.output)}
    assert rows["binance", "BTC"]["rows"] == 4
    assert rows["binance", "BTC"]["gaps"] == [{"from": "2025-03-09T08:00:00+00:00", "to": "2025-03-10T08:00:00+00:00"}]


def test_help_does_not_import_duckdb_or_the_replay_venue() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from fundarb_core.cli import main\n"
        "try:\n"
        "    main(['--help'], prog_name='fundarb')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('IMPORTED', sorted(m for m in sys.modules if m.split('.')[0] == 'duckdb' or 'replay.venue' in m))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "  backtest " in done.stdout
    assert done.stdout.split("IMPORTED ")[1].strip() == "[]"


def test_opening_a_missing_store_read_only_gives_an_empty_store(tmp_path: Path) -> None:
    # A backtest (or `fundarb optimize`) pointed at a data directory with no history yet: no rows, not a crash.
    with HistoryStore.open(tmp_path / "new", read_only=True) as store:
        assert store.coverage() == []
        assert store.funding("x", "BTC", datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)) == []
