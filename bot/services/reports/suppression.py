"""Small-number suppression that survives subtraction across every table of a report.

Primary suppression withholds each count from 1 to threshold-1. That alone is not enough: a
withheld cell in a row with a published total can be recovered by subtracting the other cells,
and two tables that share a total can be combined. So every published total is an equation
between numbers, numbers that mean the same thing in two tables of one population share one
variable (`CountTable` keys), and after withholding we ask, for each withheld number, the smallest
and largest value it could take given everything published and what its label says ("<5" means
1 to 4, "[c]" means at least 5). While some withheld number has only one possible value, one more
number in an equation with it is withheld (complementary suppression), preferring the smallest
cell over a total, and the check runs again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog  # type: ignore[import-untyped]

from bot.services.reports.tables import CountTable, Key, ProtectedTable, Shown, Withheld

Var = tuple[str, Key]
"""A number in the report: its population and key."""
Equation = tuple[tuple[Var, int], ...]

# Values reachable by an integer change of at least one; LP noise is far below this.
_PINNED_WIDTH = 0.5


@dataclass
class _Problem:
    values: dict[Var, int]
    equations: list[Equation]
    by_var: dict[Var, list[int]]
    threshold: int

    @property
    def ceiling(self) -> float:
        """Far above any true number."""
        return 10.0 * max(self.values.values(), default=0) + 1000.0


def _problem(tables: Sequence[CountTable], threshold: int) -> _Problem:
    values: dict[Var, int] = {}
    seen: set[frozenset[tuple[Var, int]]] = set()
    equations: list[Equation] = []
    for table in tables:
        for key, value in table.entries().items():
            var = (table.population, key)
            if values.setdefault(var, value) != value:
                raise ValueError(
                    f"{table.slug}: a number shared with another {table.population} table differs"
                )
        for terms in table.equations():
            equation = tuple(((table.population, key), coef) for key, coef in terms)
            # Tables sharing a margin repeat its equation; once is enough.
            if frozenset(equation) not in seen:
                seen.add(frozenset(equation))
                equations.append(equation)
    by_var: dict[Var, list[int]] = defaultdict(list)
    for index, equation in enumerate(equations):
        for var, _ in equation:
            by_var[var].append(index)
    return _Problem(values, equations, by_var, threshold)


def _bounds(problem: _Problem, var: Var) -> tuple[float, float]:
    """What a reader can tell from the label alone."""
    value = problem.values[var]
    if value >= problem.threshold:
        # "At least 5", capped far above every true number so each programme has an answer; a
        # cap can't make a movable number look pinned, as the values between stay possible.
        return (problem.threshold, problem.ceiling)
    if value == 0:
        # A withheld zero looks just like a small count: "<5", which includes 0.
        return (0, problem.threshold - 1)
    return (1, problem.threshold - 1)


def _components(problem: _Problem, withheld: set[Var]) -> list[list[Var]]:
    """Withheld numbers linked through equations; each can be checked on its own."""
    parent = {var: var for var in withheld}

    def find(var: Var) -> Var:
        while parent[var] != var:
            parent[var] = parent[parent[var]]
            var = parent[var]
        return var

    for equation in problem.equations:
        members = [var for var, _ in equation if var in withheld]
        for other in members[1:]:
            parent[find(other)] = find(members[0])
    groups: dict[Var, list[Var]] = defaultdict(list)
    for var in sorted(withheld, key=_order):
        groups[find(var)].append(var)
    return list(groups.values())


def _pinned_in(problem: _Problem, component: list[Var], withheld: set[Var]) -> list[Var]:
    """The numbers of one component whose value can be worked out exactly."""
    index = {var: i for i, var in enumerate(component)}
    rows: list[list[float]] = []
    rhs: list[float] = []
    touched = sorted({e for var in component for e in problem.by_var[var]})
    for e in touched:
        row = [0.0] * len(component)
        known = 0.0
        for var, coef in problem.equations[e]:
            if var in withheld:
                row[index[var]] += coef
            else:
                known += coef * problem.values[var]
        rows.append(row)
        rhs.append(-known)
    if not rows:
        return []
    a_eq, b_eq = np.array(rows), np.array(rhs)
    bounds = [_bounds(problem, var) for var in component]
    # Every solution found is a world a reader can't rule out; a number that differs between two
    # of them is not pinned. Pushing all the unsettled numbers down, then up, at once settles
    # most of them in a couple of programmes; the rest get one or two of their own.
    low = np.array([float(problem.values[var]) for var in component])
    high = low.copy()

    def explore(objective: np.ndarray[Any, Any]) -> None:
        nonlocal low, high
        result = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if result.status == 0:
            low, high = np.minimum(low, result.x), np.maximum(high, result.x)

    def unsettled() -> list[int]:
        return [i for i in range(len(component)) if high[i] - low[i] < _PINNED_WIDTH]

    todo = unsettled()
    while todo:
        for direction in (1.0, -1.0):
            objective = np.zeros(len(component))
            objective[todo] = direction
            explore(objective)
        still = unsettled()
        if len(still) == len(todo):
            break
        todo = still
    for i in todo:
        for direction in (1.0, -1.0):
            if high[i] - low[i] < _PINNED_WIDTH:
                objective = np.zeros(len(component))
                objective[i] = direction
                explore(objective)
    # What is still unsettled is pinned (a solver failure counts too: the true values always
    # fit, so the safe reading of a failure is that the number is exposed).
    return [component[i] for i in unsettled()]


def _order(var: Var) -> tuple[str, int, tuple[tuple[str, str], ...]]:
    population, key = var
    return (population, len(key), tuple(sorted(key)))


def _complement(problem: _Problem, var: Var, withheld: set[Var]) -> Var | None:
    """The number to withhold next to protect `var`: a cell before a total, smallest first."""
    candidates = {
        other
        for e in problem.by_var[var]
        for other, _ in problem.equations[e]
        if other not in withheld
    }
    if not candidates:
        return None

    def cost(other: Var) -> tuple[bool, bool, int, tuple[str, int, tuple[tuple[str, str], ...]]]:
        value = problem.values[other]
        # A zero hides nothing by moving, so it is the last resort; totals say more than cells.
        return (value == 0, len(other[1]) < 2, value, _order(other))

    return min(candidates, key=cost)


def withheld_numbers(tables: Sequence[CountTable], threshold: int) -> set[Var]:
    """Every number to withhold so that none under the threshold can be worked out."""
    if threshold < 2:
        raise ValueError("the threshold must be at least 2")
    problem = _problem(tables, threshold)
    withheld = {var for var, value in problem.values.items() if 0 < value < threshold}
    safe: set[frozenset[Var]] = set()
    while True:
        # Each round checks every component against the same withheld set, then adds to it.
        current = set(withheld)
        for component in _components(problem, current):
            frozen = frozenset(component)
            if frozen in safe:
                continue
            pinned = _pinned_in(problem, component, current)
            if not pinned:
                safe.add(frozen)
                continue
            # One more number for each exposed one: usually a single round per component.
            withheld.update(_complements(problem, pinned, component, current))
        if withheld == current:
            return withheld


def _complements(
    problem: _Problem, pinned: list[Var], component: list[Var], withheld: set[Var]
) -> list[Var]:
    chosen: list[Var] = []
    for var in pinned:
        extra = _complement(problem, var, withheld | set(chosen))
        if extra is not None and extra not in chosen:
            chosen.append(extra)
    if chosen:
        return chosen
    # Everything beside the exposed numbers is withheld already: widen to the whole component.
    for var in component:
        extra = _complement(problem, var, withheld)
        if extra is not None:
            return [extra]
    return []


def protect(tables: Sequence[CountTable], threshold: int) -> list[ProtectedTable]:
    """The tables as they may be published, withheld numbers marked."""
    withheld = withheld_numbers(tables, threshold)

    def shown(table: CountTable, key: Key, value: int) -> Shown:
        if (table.population, key) not in withheld:
            return value
        return Withheld.SMALL if value < threshold else Withheld.PROTECTING

    protected = []
    for table in tables:
        entries = table.entries()
        cells = {
            (r, c): shown(table, table.cell_key(r, c), entries[table.cell_key(r, c)])
            for r in table.rows
            for c in table.columns
        }
        row_totals = (
            {r: shown(table, table.row_key(r), entries[table.row_key(r)]) for r in table.rows}
            if table.row_totals
            else None
        )
        column_totals = (
            {
                c: shown(table, table.column_key(c), entries[table.column_key(c)])
                for c in table.columns
            }
            if table.column_totals
            else None
        )
        grand = shown(table, frozenset(), entries[frozenset()]) if table.grand_total else None
        protected.append(
            ProtectedTable(
                slug=table.slug,
                title=table.title,
                description=table.description,
                row_dim=table.row_dim,
                col_dim=table.col_dim,
                rows=table.rows,
                columns=table.columns,
                threshold=threshold,
                cells=cells,
                row_totals=row_totals,
                column_totals=column_totals,
                grand_total=grand,
                chart=table.chart,
                share_of_first_column=table.share_of_first_column,
            )
        )
    return protected
