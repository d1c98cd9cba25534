"""Validation of history CSV files in the schema of the real-funding data set, row by row, with line numbers.

Funding: `timestamp_utc,venue,coin,funding_rate,interval_hours`; candles: `timestamp_utc,venue,coin,o,h,l,c,v`.
Timestamps are ISO 8601 in UTC (`Z` or `+00:00`); numbers are plain decimals (exponents allowed, as in the data
set); rates per funding interval; candles open at `timestamp_utc` and last one hour.
"""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import attrs

__all__ = ["CANDLE_COLUMNS", "FUNDING_COLUMNS", "CsvProblem", "Kind", "ValidatedFile", "open_text", "validate_csv"]

Kind = Literal["funding", "candles"]
FUNDING_COLUMNS = ("timestamp_utc", "venue", "coin", "funding_rate", "interval_hours")
CANDLE_COLUMNS = ("timestamp_utc", "venue", "coin", "o", "h", "l", "c", "v")
MAX_PROBLEMS = 50  # reported in full; beyond that only counted
MAX_ABS_RATE = Decimal(1)  # a funding rate of ±100 % per interval is not a rate, it is a unit error


@attrs.frozen
class CsvProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@attrs.frozen
class ValidatedFile:
    """What a file holds: its kind, its rows, and the problems found (the first `MAX_PROBLEMS`, and how many)."""

    path: Path
    kind: Kind
    rows: int
    problems: tuple[CsvProblem, ...]
    problem_count: int


def open_text(path: Path) -> io.TextIOBase:
    """Open a CSV file, gzip-compressed (`.gz`) or plain, as text."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS_CACHE: dict[str, int] = {}  # the same timestamps recur for every coin of a file: parse each once


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 UTC timestamp; any other offset (or none) is refused."""
    at = datetime.fromisoformat(text)
    if at.tzinfo is None or at.utcoffset() != timedelta(0):
        raise ValueError("timestamp must be UTC (end in Z or +00:00)")
    return at.astimezone(UTC)


def time_ms(text: str) -> int:
    """The UTC timestamp `text` in whole milliseconds since the Unix epoch (exact: no float on the way)."""
    ms = _MS_CACHE.get(text)
    if ms is None:
        delta = parse_time(text) - EPOCH
        ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
        if len(_MS_CACHE) > 200_000:
            _MS_CACHE.clear()
        _MS_CACHE[text] = ms
    return ms


def _number(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name} is not a number: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"{name} is not finite: {text!r}")
    return value


def _check_funding(row: list[str]) -> int:
    at = time_ms(row[0])
    rate = _number(row[3], "funding_rate")
    if abs(rate) >= MAX_ABS_RATE:
        raise ValueError(f"funding_rate {row[3]} is not a per-interval rate (|rate| must be below 1)")
    hours = _number(row[4], "interval_hours")
    if hours <= 0 or hours != hours.to_integral_value() or hours > 24:
        raise ValueError(f"interval_hours must be a whole number of hours from 1 to 24, found {row[4]!r}")
    return at


def _check_candle(row: list[str]) -> int:
    at = time_ms(row[0])
    o, h, low, c = (_number(row[i], name) for i, name in ((3, "o"), (4, "h"), (5, "l"), (6, "c")))
    v = _number(row[7], "v")
    if min(o, h, low, c) <= 0:
        raise ValueError("prices must be positive")
    if not (low <= min(o, c) and max(o, c) <= h):
        raise ValueError(f"inconsistent candle: low {row[5]} ≤ open {row[3]}, close {row[6]} ≤ high {row[4]} fails")
    if v < 0:
        raise ValueError(f"volume must not be negative, found {row[7]!r}")
    return at


def validate_csv(path: Path, staging: Path) -> ValidatedFile:
    """Check every row of `path`; write the valid ones, normalised, to `staging` (CSV: line, venue, coin, time in
    ms, the values as text). Return the file's kind, its row count and the problems found (with line numbers).

    Duplicates (the same venue, coin and time twice) are checked by the store on the staged rows.
    """
    with open_text(path) as handle, open(staging, "w", encoding="utf-8", newline="") as out:
        reader = csv.reader(handle)
        writer = csv.writer(out)
        header = next(reader, None)
        if header is None:
            return ValidatedFile(path, "funding", 0, (CsvProblem(1, "empty file: no header"),), 1)
        columns = tuple(c.strip() for c in header)
        if columns == FUNDING_COLUMNS:
            kind: Kind = "funding"
            check = _check_funding
        elif columns == CANDLE_COLUMNS:
            kind = "candles"
            check = _check_candle
        else:
            message = f"unknown header {','.join(columns)!r}; expected {','.join(FUNDING_COLUMNS)!r} or "
            message += f"{','.join(CANDLE_COLUMNS)!r}"
            return ValidatedFile(path, "funding", 0, (CsvProblem(1, message),), 1)
        width = len(columns)
        problems: list[CsvProblem] = []
        count = total_problems = 0
        write = writer.writerow
        for row in reader:
            if not row:
                continue  # a blank line (a trailing newline) is not a row
            count += 1
            try:
                if len(row) != width:
                    raise ValueError(f"expected {width} fields, found {len(row)}")
                if not row[1] or not row[2]:
                    raise ValueError("venue and coin must not be empty")
                at = check(row)
            except ValueError as exc:
                total_problems += 1
                if len(problems) < MAX_PROBLEMS:
                    problems.append(CsvProblem(reader.line_num, str(exc)))
                continue
            if not total_problems:
                write((reader.line_num, row[1], row[2], at, *row[3:]))
    return ValidatedFile(path, kind, count, tuple(problems), total_problems)
