"""Tables of counts: exact ones straight from a query, and protected ones safe to publish."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.services.reports.protection import DEFAULT_BASE, protect_count, protected_rate

Label = str | None
Cell = tuple[Label, ...]
"""A cell's labels, one per dimension of its table; the first dimension is always the month.

None means the cell has no value on that dimension (a rating about no particular service), so a
table by that dimension leaves it out."""


@dataclass(frozen=True)
class CountTable:
    """Exact counts cell by cell; never published as they are, only through `protect_table`.

    Tables that split the same people (sign-ups by district and by join link) take the same
    cells, with every dimension of both (month, district, join link), so each is a sum of the
    same rounded cells and one can't be set against the other.
    """

    slug: str
    title: str
    dims: tuple[str, ...]
    row_dim: str
    col_dim: str
    # None: the labels found in the cells, but only those with anything published (see below).
    rows: tuple[str, ...] | None
    columns: tuple[str, ...] | None
    cells: Mapping[Cell, int]
    row_totals: bool = True
    column_totals: bool = True
    description: str = ""
    chart: str = "lines"
    share_of_first_column: bool = False

    def __post_init__(self) -> None:
        if not self.dims or self.dims[0] != "month":
            raise ValueError(f"{self.slug}: cells are counted by month first")
        if self.row_dim not in self.dims or self.col_dim not in self.dims:
            raise ValueError(f"{self.slug}: rows and columns must be dimensions of its cells")

    @property
    def grand_total(self) -> bool:
        """A grand total is shown only when both margins are (it is their common sum)."""
        return self.row_totals and self.column_totals


@dataclass(frozen=True)
class ProtectedTable:
    """A table safe to publish: every number is a sum of rounded month-sized cells."""

    slug: str
    title: str
    description: str
    row_dim: str
    col_dim: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    base: int
    cells: Mapping[tuple[str, str], int]
    row_totals: Mapping[str, int] | None
    column_totals: Mapping[str, int] | None
    grand_total: int | None
    chart: str = "lines"
    share_of_first_column: bool = False

    def show(self, value: int) -> str:
        """A number as published."""
        return str(value)

    def cell(self, row: str, column: str) -> int:
        """A published cell."""
        return self.cells[(row, column)]

    def share(self, row: str) -> float | None:
        """The first column as a share of the row's total, when that total is big enough."""
        if not self.columns or self.row_totals is None:
            return None
        return protected_rate(self.cells[(row, self.columns[0])], self.row_totals[row], self.base)

    def published_numbers(self) -> list[int]:
        """Every number the table shows, cells and totals."""
        numbers = list(self.cells.values())
        numbers += list((self.row_totals or {}).values())
        numbers += list((self.column_totals or {}).values())
        if self.grand_total is not None:
            numbers.append(self.grand_total)
        return numbers


def protect_table(table: CountTable, base: int = DEFAULT_BASE) -> ProtectedTable:
    """The table as it may be published: each cell rounded first, then added up."""
    row_at, column_at = table.dims.index(table.row_dim), table.dims.index(table.col_dim)
    sums: dict[tuple[str, str], int] = {}
    for labels, count in table.cells.items():
        row, column = labels[row_at], labels[column_at]
        if row is None or column is None:
            continue
        # Rounded before adding: a table for several months is the sum of its months as
        # published, so subtracting one period's report from another's reveals nothing new.
        sums[(row, column)] = sums.get((row, column), 0) + protect_count(count, base)
    # A label taken from the data is shown only if something under it is: a district column of
    # zeros would say that someone there signed up, which its rounded cells hide.
    rows = table.rows or tuple(sorted({r for (r, _), n in sums.items() if n}))
    columns = table.columns or tuple(sorted({c for (_, c), n in sums.items() if n}))
    cells = {(r, c): sums.get((r, c), 0) for r in rows for c in columns}
    row_totals = (
        {r: sum(cells[(r, c)] for c in columns) for r in rows} if table.row_totals else None
    )
    column_totals = (
        {c: sum(cells[(r, c)] for r in rows) for c in columns} if table.column_totals else None
    )
    return ProtectedTable(
        slug=table.slug,
        title=table.title,
        description=table.description,
        row_dim=table.row_dim,
        col_dim=table.col_dim,
        rows=rows,
        columns=columns,
        base=base,
        cells=cells,
        row_totals=row_totals,
        column_totals=column_totals,
        grand_total=sum(cells.values()) if table.grand_total else None,
        chart=table.chart,
        share_of_first_column=table.share_of_first_column,
    )
