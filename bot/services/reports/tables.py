"""Tables of counts: raw ones straight from a query, and protected ones safe to publish."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_THRESHOLD = 5


class Withheld(enum.Enum):
    """Why a number is not shown."""

    # A count from 1 to threshold-1 (or a zero withheld to protect one): shown as "<5".
    SMALL = "small"
    # A larger number withheld so a small one can't be worked out by subtraction: "[c]".
    PROTECTING = "protecting"


Shown = int | Withheld
PROTECTING_LABEL = "[c]"

Key = frozenset[tuple[str, str]]
"""What a number counts, as (dimension, value) pairs: {("month", "2026-11"), ("district", ...)}.

A row total leaves out the column's pair and the grand total is the empty set, so tables of one
population that share a margin share its key, and suppression treats it as one number."""


@dataclass(frozen=True)
class CountTable:
    """Counts from one query; never published as they are, only through `protect`.

    Every table of one `population` must split the same set of people (or events) by its columns,
    so that equal keys really are equal numbers: that is what lets suppression follow a number
    from one table into another.
    """

    slug: str
    title: str
    population: str
    row_dim: str
    col_dim: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: Mapping[tuple[str, str], int]
    row_totals: bool = True
    column_totals: bool = True
    description: str = ""
    chart: str = "lines"
    share_of_first_column: bool = False

    def count(self, row: str, column: str) -> int:
        """A cell's count; absent cells are zero."""
        return self.cells.get((row, column), 0)

    @property
    def grand_total(self) -> bool:
        """A grand total is shown only when both margins are (it is their common sum)."""
        return self.row_totals and self.column_totals

    def cell_key(self, row: str, column: str) -> Key:
        """The key of one cell."""
        return frozenset({(self.row_dim, row), (self.col_dim, column)})

    def row_key(self, row: str) -> Key:
        """The key of a row total."""
        return frozenset({(self.row_dim, row)})

    def column_key(self, column: str) -> Key:
        """The key of a column total."""
        return frozenset({(self.col_dim, column)})

    def entries(self) -> dict[Key, int]:
        """Every number this table would publish, by key."""
        values: dict[Key, int] = {}
        for row in self.rows:
            for column in self.columns:
                values[self.cell_key(row, column)] = self.count(row, column)
        if self.row_totals:
            for row in self.rows:
                values[self.row_key(row)] = sum(self.count(row, c) for c in self.columns)
        if self.column_totals:
            for column in self.columns:
                values[self.column_key(column)] = sum(self.count(r, column) for r in self.rows)
        if self.grand_total:
            values[frozenset()] = sum(
                self.cells.get((r, c), 0) for r in self.rows for c in self.columns
            )
        return values

    def equations(self) -> list[list[tuple[Key, int]]]:
        """Each published total minus what it adds up: a reader can subtract along these."""
        found: list[list[tuple[Key, int]]] = []
        if self.row_totals:
            for row in self.rows:
                terms = [(self.cell_key(row, c), 1) for c in self.columns]
                found.append([*terms, (self.row_key(row), -1)])
        if self.column_totals:
            for column in self.columns:
                terms = [(self.cell_key(r, column), 1) for r in self.rows]
                found.append([*terms, (self.column_key(column), -1)])
        if self.grand_total:
            found.append([*((self.row_key(r), 1) for r in self.rows), (frozenset(), -1)])
            found.append([*((self.column_key(c), 1) for c in self.columns), (frozenset(), -1)])
        return found


@dataclass(frozen=True)
class ProtectedTable:
    """A table safe to publish: small numbers, and whatever would reveal them, are withheld."""

    slug: str
    title: str
    description: str
    row_dim: str
    col_dim: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    threshold: int
    cells: Mapping[tuple[str, str], Shown]
    row_totals: Mapping[str, Shown] | None
    column_totals: Mapping[str, Shown] | None
    grand_total: Shown | None
    chart: str = "lines"
    share_of_first_column: bool = False

    def show(self, value: Shown) -> str:
        """A number as published: the count, "<5", or "[c]"."""
        if value is Withheld.SMALL:
            return f"<{self.threshold}"
        if value is Withheld.PROTECTING:
            return PROTECTING_LABEL
        return str(value)

    def cell(self, row: str, column: str) -> Shown:
        """A published cell."""
        return self.cells[(row, column)]

    def share(self, row: str) -> float | None:
        """The first column as a share of the row's total, when both are published."""
        if not self.columns or self.row_totals is None:
            return None
        part, whole = self.cells[(row, self.columns[0])], self.row_totals[row]
        if isinstance(part, Withheld) or isinstance(whole, Withheld) or whole == 0:
            return None
        return part / whole

    def published_numbers(self) -> list[Shown]:
        """Every number the table shows, cells and totals."""
        numbers: list[Shown] = list(self.cells.values())
        numbers += list((self.row_totals or {}).values())
        numbers += list((self.column_totals or {}).values())
        if self.grand_total is not None:
            numbers.append(self.grand_total)
        return numbers
