"""Small-number suppression: nothing from 1 to 4 shows, and nothing withheld can be worked out."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.services.reports.suppression import Var, protect, withheld_numbers
from bot.services.reports.tables import CountTable, Key, ProtectedTable, Withheld

THRESHOLD = 5

# Mostly small counts, so that suppression has work to do, with some large ones among them.
counts = st.one_of(st.integers(0, 6), st.integers(0, 40))


def table(
    cells: dict[tuple[str, str], int],
    *,
    rows: tuple[str, ...] = ("a", "b"),
    columns: tuple[str, ...] = ("x", "y"),
    slug: str = "t",
    col_dim: str = "col",
    row_totals: bool = True,
    column_totals: bool = True,
) -> CountTable:
    return CountTable(
        slug=slug,
        title=slug,
        population="people",
        row_dim="row",
        col_dim=col_dim,
        rows=rows,
        columns=columns,
        cells=cells,
        row_totals=row_totals,
        column_totals=column_totals,
    )


@st.composite
def linked_tables(draw: st.DrawFn) -> list[CountTable]:
    """Two tables of one population sharing their rows: months by district and by join link."""
    rows = tuple(f"r{i}" for i in range(draw(st.integers(1, 4))))
    first = tuple(f"a{i}" for i in range(draw(st.integers(1, 4))))
    second = tuple(f"b{i}" for i in range(draw(st.integers(1, 3))))
    people = {key: draw(counts) for key in itertools.product(rows, first, second)}

    def by(columns: tuple[str, ...], position: int, slug: str) -> CountTable:
        cells: dict[tuple[str, str], int] = {}
        for key, n in people.items():
            cells[(key[0], key[position])] = cells.get((key[0], key[position]), 0) + n
        return table(
            cells,
            rows=rows,
            columns=columns,
            slug=slug,
            col_dim=slug,
            row_totals=draw(st.booleans()),
            column_totals=draw(st.booleans()),
        )

    return [by(first, 1, "first"), by(second, 2, "second")]


def _rank(matrix: list[list[Fraction]]) -> int:
    rows = [row[:] for row in matrix]
    rank = 0
    width = len(rows[0]) if rows else 0
    for column in range(width):
        pivot = next((r for r in range(rank, len(rows)) if rows[r][column] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for r in range(len(rows)):
            if r != rank and rows[r][column] != 0:
                factor = rows[r][column] / rows[rank][column]
                rows[r] = [x - factor * y for x, y in zip(rows[r], rows[rank], strict=True)]
        rank += 1
    return rank


def recoverable_by_subtraction(tables: list[CountTable], withheld: set[Var]) -> set[Var]:
    """Withheld numbers some combination of published totals pins down (exact arithmetic)."""
    unknowns = sorted(withheld, key=repr)
    index = {var: i for i, var in enumerate(unknowns)}
    matrix = []
    for t in tables:
        for terms in t.equations():
            row = [Fraction(0)] * len(unknowns)
            for key, coef in terms:
                var = (t.population, key)
                if var in index:
                    row[index[var]] += coef
            if any(row):
                matrix.append(row)
    rank = _rank(matrix)
    exposed = set()
    for var, i in index.items():
        unit = [Fraction(int(j == i)) for j in range(len(unknowns))]
        if _rank([*matrix, unit]) == rank:
            exposed.add(var)
    return exposed


def _all_shown(tables: list[ProtectedTable]) -> list[object]:
    return [value for t in tables for value in t.published_numbers()]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linked_tables())
def test_no_published_number_is_between_one_and_the_threshold(tables: list[CountTable]) -> None:
    for value in _all_shown(protect(tables, THRESHOLD)):
        assert isinstance(value, Withheld) or not 0 < value < THRESHOLD  # type: ignore[operator]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linked_tables())
def test_no_withheld_number_can_be_recovered_by_subtracting_published_ones(
    tables: list[CountTable],
) -> None:
    withheld = withheld_numbers(tables, THRESHOLD)
    assert recoverable_by_subtraction(tables, withheld) == set()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linked_tables())
def test_published_numbers_are_the_true_ones_and_a_shared_total_reads_the_same_everywhere(
    tables: list[CountTable],
) -> None:
    shown: dict[Key, object] = {}
    for raw, protected in zip(tables, protect(tables, THRESHOLD), strict=True):
        for row in raw.rows:
            for column in raw.columns:
                value = protected.cell(row, column)
                assert isinstance(value, Withheld) or value == raw.count(row, column)
            if protected.row_totals is not None:
                # The same month total appears in both tables: withheld in both or in neither.
                assert (
                    shown.setdefault(raw.row_key(row), protected.row_totals[row])
                    == (protected.row_totals[row])
                )
        if protected.grand_total is not None:
            assert shown.setdefault(frozenset(), protected.grand_total) == protected.grand_total


def _fits(shown: object, value: int) -> bool:
    if shown is Withheld.SMALL:
        return value < THRESHOLD
    if shown is Withheld.PROTECTING:
        return value >= THRESHOLD
    return shown == value


def _possible_values(protected: ProtectedTable) -> dict[str, set[int]]:
    """Every value a reader could give each entry of a 2 x 2 table, by trying them all."""
    assert protected.row_totals is not None and protected.column_totals is not None
    names = ("ax", "ay", "bx", "by", "a", "b", "x", "y", "all")
    shown = [
        protected.cell("a", "x"),
        protected.cell("a", "y"),
        protected.cell("b", "x"),
        protected.cell("b", "y"),
        protected.row_totals["a"],
        protected.row_totals["b"],
        protected.column_totals["x"],
        protected.column_totals["y"],
        protected.grand_total,
    ]
    possible: dict[str, set[int]] = {name: set() for name in names}
    for ax, ay, bx, by in itertools.product(range(MOST), repeat=4):
        world = (ax, ay, bx, by, ax + ay, bx + by, ax + bx, ay + by, ax + ay + bx + by)
        if all(_fits(s, v) for s, v in zip(shown, world, strict=True)):
            for name, value in zip(names, world, strict=True):
                possible[name].add(value)
    return {
        name: possible[name]
        for name, s in zip(names, shown, strict=True)
        if isinstance(s, Withheld)
    }


# Cells are drawn up to 7; a reader trying values up to 15 sees every alternative that matters.
MOST = 16


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=4, max_size=4))
def test_even_reading_the_labels_no_withheld_number_in_a_two_by_two_table_is_pinned(
    values: list[int],
) -> None:
    cells = dict(zip(itertools.product(("a", "b"), ("x", "y")), values, strict=True))
    [protected] = protect([table(cells)], THRESHOLD)

    for name, options in _possible_values(protected).items():
        assert len(options) >= 2, (name, options)


def test_one_small_cell_beside_a_published_total_takes_another_cell_with_it() -> None:
    [protected] = protect(
        [table({("a", "x"): 3, ("a", "y"): 10, ("b", "x"): 7, ("b", "y"): 20})], THRESHOLD
    )

    assert protected.cell("a", "x") is Withheld.SMALL
    withheld = [v for v in protected.cells.values() if isinstance(v, Withheld)]
    assert len(withheld) == 4
    assert protected.row_totals == {"a": 13, "b": 27}
    assert protected.grand_total == 40


def test_two_fours_making_a_published_eight_are_not_left_readable() -> None:
    cells = {("a", "x"): 4, ("a", "y"): 4, ("b", "x"): 6, ("b", "y"): 7}
    [protected] = protect([table(cells)], THRESHOLD)

    # "<5" and "<5" beside a total of 8 would give both away: something more is withheld.
    assert protected.cell("a", "x") is Withheld.SMALL
    assert _possible_values(protected)["ax"] >= {3, 4}


def test_one_beside_a_five_making_a_published_six_is_not_left_readable() -> None:
    cells = {("a", "x"): 1, ("a", "y"): 5, ("b", "x"): 6, ("b", "y"): 7}
    [protected] = protect([table(cells)], THRESHOLD)

    # "<5" plus "[c]" (at least 5) making 6 would pin both: 1 and 5.
    assert len(_possible_values(protected)["ax"]) >= 2


def test_a_table_with_no_small_numbers_is_published_whole() -> None:
    cells = {("a", "x"): 5, ("a", "y"): 0, ("b", "x"): 12, ("b", "y"): 30}
    [protected] = protect([table(cells)], THRESHOLD)
    assert not any(isinstance(v, Withheld) for v in protected.published_numbers())
    assert protected.cell("a", "y") == 0


def test_the_threshold_is_configurable() -> None:
    cells = {("a", "x"): 7, ("a", "y"): 30, ("b", "x"): 25, ("b", "y"): 40}
    [at_five] = protect([table(cells)], 5)
    [at_ten] = protect([table(cells)], 10)
    assert at_five.cell("a", "x") == 7
    assert at_ten.cell("a", "x") is Withheld.SMALL
    assert at_ten.show(at_ten.cell("a", "x")) == "<10"


def test_tables_of_one_population_that_disagree_on_a_shared_total_are_refused() -> None:
    first = table({("a", "x"): 5}, rows=("a",), columns=("x",), slug="first", col_dim="c1")
    second = table({("a", "y"): 6}, rows=("a",), columns=("y",), slug="second", col_dim="c2")
    with pytest.raises(ValueError, match="differs"):
        protect([first, second], THRESHOLD)


def test_a_threshold_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        protect([table({("a", "x"): 1})], 1)
