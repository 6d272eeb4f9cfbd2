"""A whole report: every section counted, then protected together."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.geo import Gazetteer

# Imported for its registrations: matching, scheduled messages and broadcasts join every report.
from bot.services.reports import activity  # noqa: F401
from bot.services.reports.sections import Period, Section, count_sections
from bot.services.reports.suppression import protect
from bot.services.reports.tables import DEFAULT_THRESHOLD, ProtectedTable


@dataclass(frozen=True)
class Report:
    """What the council sees: only protected tables, never raw counts."""

    period: Period
    generated_at: dt.datetime
    threshold: int
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
    threshold: int = DEFAULT_THRESHOLD,
    sections: Sequence[Section] | None = None,
) -> Report:
    """Count every section and protect all tables at once, so no two can be combined."""
    counts = await count_sections(session, period, gazetteer, sections)
    # Suppression solves small linear programmes; off the event loop, the bot stays responsive.
    tables = await asyncio.to_thread(protect, counts, threshold)
    return Report(period, generated_at, threshold, tables)
