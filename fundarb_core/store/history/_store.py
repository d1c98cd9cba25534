"""The local history store: funding rates and price candles per venue and symbol, in one DuckDB file.

Why DuckDB rather than Parquet files: the store must deduplicate on (venue, symbol, time) as rows arrive page by
page (a resumed download re-sends a page), and an import must land whole or not at all. DuckDB gives both with a
primary key, `ON CONFLICT DO NOTHING` and transactions, in one file, with a columnar engine that reads a year of
hourly rows for hundreds of symbols in well under a second. Parquet would need a merge-and-rewrite per change and a
hand-made transaction scheme.

Times are stored as integer milliseconds since the Unix epoch (UTC); rates as DECIMAL(38, 24) and prices as
DECIMAL(38, 18), so what goes in as a `Decimal` comes out as the same number.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
import duckdb

from fundarb_core.errors import StoreError
from fundarb_core.model.history import FundingHistoryEntry, PriceCandle
from fundarb_core.store.history._csv import CsvProblem, Kind, validate_csv

__all__ = ["Coverage", "HistoryImportError", "HistoryStore", "ImportReport", "from_ms", "to_ms"]

FILE_NAME = "history.duckdb"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR_MS = 3_600_000
GAP_FACTOR = 1.5  # a step between two rows longer than 1.5 intervals is a gap

SCHEMA = """
CREATE TABLE IF NOT EXISTS funding (
    venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL, at_ms BIGINT NOT NULL,
    rate DECIMAL(38, 24) NOT NULL, interval_s INTEGER NOT NULL,
    PRIMARY KEY (venue, symbol, at_ms)
);
CREATE TABLE IF NOT EXISTS candles (
    venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL, resolution_s INTEGER NOT NULL, at_ms BIGINT NOT NULL,
    open DECIMAL(38, 18) NOT NULL, high DECIMAL(38, 18) NOT NULL, low DECIMAL(38, 18) NOT NULL,
    close DECIMAL(38, 18) NOT NULL, volume DECIMAL(38, 18) NOT NULL, kind VARCHAR NOT NULL,
    PRIMARY KEY (venue, symbol, resolution_s, at_ms)
);
CREATE TABLE IF NOT EXISTS downloads (
    venue VARCHAR NOT NULL, series VARCHAR NOT NULL, symbol VARCHAR NOT NULL,
    start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL,
    PRIMARY KEY (venue, series, symbol, start_ms)
);
"""


FUNDING_COLUMNS = {"venue": "VARCHAR", "symbol": "VARCHAR", "at_ms": "BIGINT", "rate": "DECIMAL(38, 24)",
                   "interval_s": "INTEGER"}  # fmt: skip
CANDLE_COLUMNS = {"venue": "VARCHAR", "symbol": "VARCHAR", "resolution_s": "INTEGER", "at_ms": "BIGINT",
                  "open": "DECIMAL(38, 18)", "high": "DECIMAL(38, 18)", "low": "DECIMAL(38, 18)",
                  "close": "DECIMAL(38, 18)", "volume": "DECIMAL(38, 18)", "kind": "VARCHAR"}  # fmt: skip


def to_ms(at: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime (exact: integer arithmetic on the timedelta)."""
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


@attrs.frozen
class Coverage:
    """What the store holds for one series: rows, first and last time, its step, and the gaps in it."""

    venue: str
    series: str  # "funding" or "candles"
    symbol: str
    rows: int
    first: datetime
    last: datetime
    step: timedelta  # the funding interval or candle resolution (the most common one)
    gaps: tuple[tuple[datetime, datetime], ...]  # (last row before, first row after)

    def as_dict(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "series": self.series,
            "symbol": self.symbol,
            "rows": self.rows,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "step_seconds": int(self.step.total_seconds()),
            "gaps": [{"from": a.isoformat(), "to": b.isoformat()} for a, b in self.gaps],
        }


@attrs.frozen
class ImportReport:
    path: Path
    kind: Kind
    rows: int
    added: int

    @property
    def already_present(self) -> int:
        return self.rows - self.added


class HistoryImportError(StoreError, ValueError):
    """A file was refused, whole: nothing of it was imported. `problems` carry line numbers."""

    def __init__(self, path: Path, problems: Sequence[CsvProblem], total: int) -> None:
        self.path = path
        self.problems = tuple(problems)
        self.total = total
        more = f" (and {total - len(problems)} more)" if total > len(problems) else ""
        super().__init__(f"{path}: {total} bad row(s), nothing imported{more}")

    def lines(self) -> list[str]:
        out = [str(self)]
        out += [f"{self.path}:{p.line}: {p.message}" for p in self.problems]
        return out


class HistoryStore:
    """Funding and candle history in `data_dir/history.duckdb` (open it with `HistoryStore.open`)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        self._con = connection
        self.path = path

    @classmethod
    def open(cls, data_dir: Path | None, *, read_only: bool = False) -> HistoryStore:
        """Open (creating if needed) the store in `data_dir`; None keeps it in memory (tests)."""
        if data_dir is None:
            con = duckdb.connect(":memory:")
            path, existed = None, False
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            path = data_dir / FILE_NAME
            existed = path.exists()  # asked before connecting, which creates the file
            try:
                con = duckdb.connect(str(path), read_only=read_only and existed)
            except duckdb.Error as exc:
                raise StoreError(f"cannot open the history store {path}: {exc}") from exc
        if not (read_only and path is not None and existed):
            con.execute(SCHEMA)
        return cls(con, path)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------------------------

    def add_funding(self, venue: str, entries: Iterable[FundingHistoryEntry]) -> int:
        """Store settled rates; rows already present (same venue, symbol, time) are left as they are.

        Returns how many rows were new.
        """
        rows = [(venue, e.symbol, to_ms(e.at), e.rate, int(e.interval.total_seconds())) for e in entries]
        return self._insert("funding", rows, FUNDING_COLUMNS)

    def add_candles(self, venue: str, candles: Iterable[PriceCandle]) -> int:
        """Store candles; rows already present (same venue, symbol, resolution, time) are left as they are."""
        rows = [
            (venue, c.symbol, int(c.resolution.total_seconds()), to_ms(c.at), c.open, c.high, c.low, c.close,
             c.volume, c.kind)
            for c in candles
        ]  # fmt: skip
        return self._insert("candles", rows, CANDLE_COLUMNS)

    def _insert(self, table: str, rows: list[tuple[Any, ...]], columns: dict[str, str]) -> int:
        """Insert rows in one statement through a staged CSV (DuckDB binds CSV far faster than parameters)."""
        if not rows:
            return 0
        with tempfile.TemporaryDirectory(prefix="fundarb-rows-") as tmp:
            staging = Path(tmp) / "rows.csv"
            with open(staging, "w", encoding="utf-8", newline="") as handle:
                csv.writer(handle).writerows(rows)
            spec = ", ".join(f"'{k}': '{v}'" for k, v in columns.items())
            before = self._count(table)
            self._con.begin()
            try:
                self._con.execute(
                    f"INSERT INTO {table} SELECT * FROM read_csv(?, header = false, columns = {{{spec}}}) "
                    "ON CONFLICT DO NOTHING",
                    [str(staging)],
                )
                self._con.commit()
            except BaseException:
                self._con.rollback()
                raise
        return self._count(table) - before

    def _count(self, table: str) -> int:
        row = self._con.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])

    def mark_downloaded(self, venue: str, series: str, symbol: str, start: datetime, end: datetime) -> None:
        """Record that `[start, end)` of a series was fetched completely (so a later run need not ask again)."""
        self._con.execute(
            "INSERT INTO downloads VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET end_ms = greatest(end_ms, "
            "excluded.end_ms)",
            [venue, series, symbol, to_ms(start), to_ms(end)],
        )

    def downloaded_until(self, venue: str, series: str, symbol: str, since: datetime) -> datetime:
        """The end of the stretch fetched without a hole from `since` on (`since` itself when none was)."""
        rows = self._con.execute(
            "SELECT start_ms, end_ms FROM downloads WHERE venue = ? AND series = ? AND symbol = ? ORDER BY start_ms",
            [venue, series, symbol],
        ).fetchall()
        reach = to_ms(since)
        for start_ms, end_ms in rows:
            if start_ms <= reach:
                reach = max(reach, end_ms)
        return from_ms(reach)

    def import_csv(self, path: Path) -> ImportReport:
        """Import one CSV file (plain or `.gz`) in the real-funding schema, whole or not at all.

        Every row is checked first; a file with any bad row raises `HistoryImportError` listing them by line number,
        and so does a file that gives one venue, coin and time two different values. Rows already in the store are
        kept as they are (the import is idempotent).
        """
        with tempfile.TemporaryDirectory(prefix="fundarb-import-") as tmp:
            staging = Path(tmp) / "staging.csv"
            checked = validate_csv(path, staging)
            if checked.problem_count:
                raise HistoryImportError(path, checked.problems, checked.problem_count)
            if checked.kind == "funding":
                return self._import_funding(path, staging, checked.rows)
            return self._import_candles(path, staging, checked.rows)

    def _stage(self, staging: Path, value_columns: Sequence[str]) -> None:
        columns = {"line": "BIGINT", "venue": "VARCHAR", "symbol": "VARCHAR", "at_ms": "BIGINT"}
        columns |= {name: "VARCHAR" for name in value_columns}
        spec = ", ".join(f"'{k}': '{v}'" for k, v in columns.items())
        self._con.execute("DROP TABLE IF EXISTS stage")
        self._con.execute(
            f"CREATE TEMP TABLE stage AS SELECT * FROM read_csv(?, header = false, columns = {{{spec}}}, "
            "quote = '\"', escape = '\"', delim = ',')",
            [str(staging)],
        )

    def _conflicts(self, path: Path, values: str) -> None:
        rows = self._con.execute(
            f"SELECT min(line), max(line) FROM stage GROUP BY venue, symbol, at_ms "
            f"HAVING count(DISTINCT ({values})) > 1 ORDER BY 1 LIMIT 50"
        ).fetchall()
        if rows:
            problems = [CsvProblem(int(b), f"same venue, coin and time as line {a} with different values")
                        for a, b in rows]  # fmt: skip
            raise HistoryImportError(path, problems, len(problems))

    def _import_funding(self, path: Path, staging: Path, count: int) -> ImportReport:
        self._con.begin()
        try:
            self._stage(staging, ("funding_rate", "interval_hours"))
            self._conflicts(path, "funding_rate, interval_hours")
            before = self._count("funding")
            self._con.execute(
                "INSERT INTO funding SELECT venue, symbol, at_ms, CAST(funding_rate AS DECIMAL(38, 24)), "
                "CAST(CAST(interval_hours AS DECIMAL(10, 4)) * 3600 AS INTEGER) FROM stage "
                "QUALIFY row_number() OVER (PARTITION BY venue, symbol, at_ms ORDER BY line) = 1 "
                "ON CONFLICT DO NOTHING"
            )
            added = self._count("funding") - before
            self._con.execute("DROP TABLE stage")
            self._con.commit()
        except BaseException:
            self._con.rollback()
            raise
        return ImportReport(path, "funding", count, added)

    def _import_candles(self, path: Path, staging: Path, count: int) -> ImportReport:
        self._con.begin()
        try:
            self._stage(staging, ("o", "h", "l", "c", "v"))
            self._conflicts(path, "o, h, l, c, v")
            before = self._count("candles")
            self._con.execute(
                "INSERT INTO candles SELECT venue, symbol, 3600, at_ms, CAST(o AS DECIMAL(38, 18)), "
                "CAST(h AS DECIMAL(38, 18)), CAST(l AS DECIMAL(38, 18)), CAST(c AS DECIMAL(38, 18)), "
                "CAST(v AS DECIMAL(38, 18)), 'last' FROM stage "
                "QUALIFY row_number() OVER (PARTITION BY venue, symbol, at_ms ORDER BY line) = 1 "
                "ON CONFLICT DO NOTHING"
            )
            added = self._count("candles") - before
            self._con.execute("DROP TABLE stage")
            self._con.commit()
        except BaseException:
            self._con.rollback()
            raise
        return ImportReport(path, "candles", count, added)

    # -- reading ---------------------------------------------------------------------------------------------------

    def funding(
        self, venue: str, symbol: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[FundingHistoryEntry]:
        """Settled rates at `start <= at < end`, oldest first."""
        rows = self._con.execute(
            "SELECT at_ms, rate, interval_s FROM funding WHERE venue = ? AND symbol = ? AND at_ms >= ? AND at_ms < ? "
            "ORDER BY at_ms",
            [venue, symbol, *self._bounds(start, end)],
        ).fetchall()
        return [
            FundingHistoryEntry(symbol, from_ms(at), _tidy(rate), timedelta(seconds=interval))
            for at, rate, interval in rows
        ]

    def candles(
        self,
        venue: str,
        symbol: str,
        resolution: timedelta = timedelta(hours=1),
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[PriceCandle]:
        """Candles of `resolution` opening at `start <= at < end`, oldest first."""
        rows = self._con.execute(
            "SELECT at_ms, open, high, low, close, volume, kind FROM candles WHERE venue = ? AND symbol = ? "
            "AND resolution_s = ? AND at_ms >= ? AND at_ms < ? ORDER BY at_ms",
            [venue, symbol, int(resolution.total_seconds()), *self._bounds(start, end)],
        ).fetchall()
        return [
            PriceCandle(symbol, from_ms(at), resolution, _tidy(o), _tidy(h), _tidy(lo), _tidy(c), _tidy(v), kind)
            for at, o, h, lo, c, v, kind in rows
        ]

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run a read-only query (for loaders that need columns in bulk, like the replay venue)."""
        return self._con.execute(sql, list(params)).fetchall()

    @staticmethod
    def _bounds(start: datetime | None, end: datetime | None) -> tuple[int, int]:
        return (to_ms(start) if start else -(2**62), to_ms(end) if end else 2**62)

    def venues(self) -> list[str]:
        rows = self._con.execute("SELECT venue FROM funding UNION SELECT venue FROM candles ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    def coverage(self, venue: str | None = None) -> list[Coverage]:
        """Per venue, series and symbol: rows, first and last time, the step, and every gap longer than 1.5 steps."""
        out = []
        for series, step_col, table in (("funding", "interval_s", "funding"), ("candles", "resolution_s", "candles")):
            where = "WHERE venue = ?" if venue else ""
            params = [venue] if venue else []
            stats = self._con.execute(
                f"SELECT venue, symbol, count(*), min(at_ms), max(at_ms), mode({step_col}) FROM {table} {where} "
                "GROUP BY venue, symbol ORDER BY venue, symbol",
                params,
            ).fetchall()
            gaps: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
            for v, s, prev, at in self._con.execute(
                f"SELECT venue, symbol, prev, at_ms FROM (SELECT venue, symbol, at_ms, {step_col} AS step, "
                f"lag(at_ms) OVER (PARTITION BY venue, symbol ORDER BY at_ms) AS prev FROM {table} {where}) "
                f"WHERE at_ms - prev > step * 1000 * {GAP_FACTOR} ORDER BY venue, symbol, at_ms",
                params,
            ).fetchall():
                gaps.setdefault((v, s), []).append((from_ms(prev), from_ms(at)))
            for v, s, n, first, last, step in stats:
                out.append(
                    Coverage(v, series, s, int(n), from_ms(first), from_ms(last), timedelta(seconds=int(step)),
                             tuple(gaps.get((v, s), ())))
                )  # fmt: skip
        return out


def _tidy(value: Decimal) -> Decimal:
    """The stored number without the column's trailing zeros (the same number: 91250, 0.000015)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()
