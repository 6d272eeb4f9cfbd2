"""A whole report: every section counted, then protected cell by cell."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.places.geo import Gazetteer

# Imported for its registrations: matching, scheduled messages and broadcasts join every report.
from bot.services.reports import activity  # noqa: F401
from bot.services.reports.protection import DEFAULT_BASE
from bot.services.reports.sections import Period, Section, count_sections
from bot.services.reports.tables import ProtectedTable, protect_table


@dataclass(frozen=True)
class Report:
    """What the council sees: only protected tables, never raw counts."""

    period: Period
    generated_at: dt.datetime
    # Every count is rounded to a multiple of this (see `protection`).
    base: int
    tables: list[ProtectedTable]

    def table(self, slug: str) -> ProtectedTable:
        """One table by its slug."""
        for table in self.tables:
            if table.slug == slug:
                return table
        raise KeyError(slug)


async def build_report(
    session: AsyncSession,
    period: Period,
    gazetteer: Gazetteer,
    *,
    generated_at: dt.datetime,
    base: int = DEFAULT_BASE,
    sections: Sequence[Section] | None = None,
) -> Report:
    """Count every section, then publish each table as sums of its rounded cells."""
    counts = await count_sections(session, period, gazetteer, sections)
    tables = [protect_table(table, base) for table in counts]
    return Report(period, generated_at, base, tables)
