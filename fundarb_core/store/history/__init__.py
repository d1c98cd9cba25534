"""Market history (funding rates and price candles) in a local DuckDB file, deduplicated on (venue, symbol, time).

Imported only by the commands that use it (`fundarb data`, `fundarb backtest`), so that `fundarb --help` never
loads DuckDB.
"""

from __future__ import annotations

from fundarb_core.store.history._csv import CANDLE_COLUMNS, FUNDING_COLUMNS, CsvProblem
from fundarb_core.store.history._store import (
    FILE_NAME,
    Coverage,
    HistoryImportError,
    HistoryStore,
    ImportReport,
    from_ms,
    to_ms,
)

__all__ = [
    "CANDLE_COLUMNS",
    "FILE_NAME",
    "FUNDING_COLUMNS",
    "Coverage",
    "CsvProblem",
    "HistoryImportError",
    "HistoryStore",
    "ImportReport",
    "from_ms",
    "to_ms",
]
