"""Reports and exports written to files, for the command line."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.db import create_engine, create_sessionmaker
from bot.services.places.geo import default_gazetteer
from bot.services.reports.csv_files import table_csv
from bot.services.reports.exports import comments_csv, write_consent_evidence
from bot.services.reports.html_report import render_html
from bot.services.reports.report import Report, build_report
from bot.services.reports.sections import Period


@dataclass(frozen=True)
class Written:
    """What a command wrote, for its closing line."""

    paths: list[Path]
    count: int


async def _report(settings: Settings, period: Period, base: int, now: dt.datetime) -> Report:
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await build_report(
                session, period, default_gazetteer(), generated_at=now, base=base
            )
    finally:
        await engine.dispose()


def write_report(
    settings: Settings,
    period: Period,
    out: Path,
    csv_dir: Path,
    base: int,
    now: dt.datetime,
) -> Written:
    """The HTML report at `out` and one CSV per table in `csv_dir`."""
    report = asyncio.run(_report(settings, period, base, now))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(report, settings.council_name), encoding="utf-8")
    csv_dir.mkdir(parents=True, exist_ok=True)
    paths = [out]
    for table in report.tables:
        path = csv_dir / f"{table.slug}.csv"
        path.write_text(table_csv(table), encoding="utf-8", newline="")
        paths.append(path)
    return Written(paths, len(report.tables))


async def _consent_export(
    settings: Settings, out: Path, period: Period | None, now: dt.datetime
) -> Written:
    csv_path, json_path = out.with_suffix(".csv"), out.with_suffix(".json")
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            count = await write_consent_evidence(session, csv_path, json_path, now, period)
    finally:
        await engine.dispose()
    return Written([csv_path, json_path], count)


def write_consent_export(
    settings: Settings, out: Path, period: Period | None, now: dt.datetime
) -> Written:
    """Consent evidence as `<out>.csv` and `<out>.json`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_consent_export(settings, out, period, now))


async def _comments(settings: Settings, period: Period) -> str:
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await comments_csv(session, period)
    finally:
        await engine.dispose()


def write_comments_export(settings: Settings, out: Path, period: Period) -> Written:
    """Residents' comments, redacted and apart from anything about who wrote them."""
    text = asyncio.run(_comments(settings, period))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8", newline="")
    return Written([out], max(text.count("\n") - 1, 0))
