"""CSV files of protected tables, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from bot.services.reports.tables import ProtectedTable

TOTAL = "Total"
RATE = "Rate"
# A spreadsheet runs a cell starting with these as a formula; a quote makes it plain text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """Text a spreadsheet will show rather than run."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def write_rows(rows: Iterable[Sequence[object]]) -> str:
    """CSV text from rows, every cell made spreadsheet-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([spreadsheet_safe(value) for value in row])
    return buffer.getvalue()


def rate_text(share: float | None) -> str:
    """A share as a percentage, or blank when it can't be published."""
    return "" if share is None else f"{share:.0%}"


def table_rows(table: ProtectedTable) -> list[list[str]]:
    """The table as rows of shown text: header, body, then the totals row."""
    header = [table.row_dim, *table.columns]
    if table.row_totals is not None:
        header.append(TOTAL)
    if table.share_of_first_column:
        header.append(RATE)
    rows = [header]
    for row in table.rows:
        line = [row, *(table.show(table.cell(row, c)) for c in table.columns)]
        if table.row_totals is not None:
            line.append(table.show(table.row_totals[row]))
        if table.share_of_first_column:
            line.append(rate_text(table.share(row)))
        rows.append(line)
    if table.column_totals is not None:
        line = [TOTAL, *(table.show(table.column_totals[c]) for c in table.columns)]
        if table.row_totals is not None:
            line.append(table.show(table.grand_total) if table.grand_total is not None else "")
        rows.append(line)
    return rows


def table_csv(table: ProtectedTable) -> str:
    """One table as CSV text."""
    return write_rows(table_rows(table))
