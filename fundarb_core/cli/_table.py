"""Terminal tables that stay readable at any width: columns by priority, the rest folded, `--wide` for all.

On a narrow terminal (or a pipe, 80 columns) the table keeps the columns that matter most and says which it left
out; cells of text columns fold onto a second line instead of being cut to one word. `--wide` shows every column
at its full width, wider than the terminal if need be (for `less -S` or a file).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

__all__ = ["Column", "print_table"]

_PADDING = 3  # rich's cell padding and the column separator


@attrs.frozen
class Column:
    """A column: its row key, header, priority (0 is always shown; higher goes first when space is short)."""

    key: str
    header: str
    priority: int = 0
    numeric: bool = False


def _natural(column: Column, rows: Sequence[Mapping[str, str]]) -> int:
    return max([len(column.header), *(len(r.get(column.key, "")) for r in rows)]) + _PADDING


def print_table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Mapping[str, str]],
    *,
    wide: bool = False,
    console: Any = None,
) -> None:
    """Print `rows` (already formatted strings) under `columns`, fitted to the console's width unless `wide`."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    widths = {c.key: _natural(c, rows) for c in columns}
    if wide:
        shown = list(columns)
        console = Console(width=max(console.width, sum(widths.values()) + 4), file=console.file)
    else:
        budget = console.width - 4
        keep = {c.key for c in columns if c.priority == 0}
        used = sum(widths[k] for k in keep)
        for column in sorted((c for c in columns if c.priority > 0), key=lambda c: -c.priority):
            if used + widths[column.key] > budget:
                break  # the next most important does not fit: show none of the less important ones either
            keep.add(column.key)
            used += widths[column.key]
        shown = [c for c in columns if c.key in keep]
    table = Table(title=title, title_justify="left")
    for column in shown:
        if column.numeric:
            table.add_column(column.header, justify="right", no_wrap=True)
        else:
            table.add_column(column.header, overflow="fold")
    for row in rows:
        table.add_row(*(row.get(c.key, "") or "-" for c in shown))
    console.print(table)
    hidden = [c.header for c in columns if c not in shown]
    if hidden:
        console.print(f"(not shown at this width: {', '.join(hidden)}; --wide shows every column)")
