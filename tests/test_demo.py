"""`bumpbuddies demo`: a seeded year of synthetic use, played through the bot's own services."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.demo import fill_demo
from bot.services.local_info.content_files import read_content
from bot.services.matching.rules import MatchRules
from bot.services.places.geo import default_gazetteer
from bot.services.reports.report import build_report
from bot.services.reports.sections import Period
from bot.services.synthetic import ResidentPlan, plan_population
from models import ConsentEvent, ConsentPurpose, Resident, StaffMember, StaffRole
from tests.conftest import DEFAULT_NOW
from tests.factories import TEST_KEY

LONDON = ZoneInfo("Europe/London")
CONTENT = Path(__file__).resolve().parents[1] / "content"
ADMIN = 7_000_001


def test_the_same_seed_plans_the_same_year_and_another_seed_another() -> None:
    gazetteer = default_gazetteer()

    def plan(seed: int) -> list[ResidentPlan]:
        return plan_population(gazetteer, count=60, end=DEFAULT_NOW, seed=seed, links=4).residents

    assert plan(7) == plan(7)
    assert plan(7) != plan(8)
    joined = [resident.joined_at for resident in plan(7)]
    assert joined == sorted(joined)
    assert DEFAULT_NOW - dt.timedelta(days=365) <= joined[0] and joined[-1] < DEFAULT_NOW


async def test_a_demo_year_gives_every_section_of_the_council_report_data(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    gazetteer = default_gazetteer()
    summary = await fill_demo(
        sessions,
        gazetteer,
        read_content(CONTENT, gazetteer),
        end=DEFAULT_NOW,
        zone=LONDON,
        rules=MatchRules(),
        notice_version="2026-11",
        count=200,
        admin_telegram_id=ADMIN,
        key=TEST_KEY,
        council="Essex County Council",
    )

    assert summary.residents == 200
    assert summary.broadcasts == 6 and summary.sent > 1000
    assert summary.ratings > 50 and summary.comments > 5 and summary.consent_changes > 5
    assert summary.introductions and summary.introductions["introduced"] > 5
    today = DEFAULT_NOW.astimezone(LONDON).date()
    async with sessions() as session:
        report = await build_report(
            session,
            Period.last_months(today, 12, LONDON),
            gazetteer,
            generated_at=DEFAULT_NOW,
            base=5,
        )
        # Consent went through the bot's own record: every resident agreed to keep her details.
        agreed = await session.scalar(
            select(func.count()).where(
                ConsentEvent.purpose == ConsentPurpose.HEALTH_DATA, ConsentEvent.granted
            )
        )
        residents = await session.scalar(select(func.count()).select_from(Resident))
        admin = await session.scalar(
            select(StaffMember).where(StaffMember.telegram_user_id == ADMIN)
        )

    assert agreed == residents == 200
    assert admin is not None and admin.role is StaffRole.ADMIN
    assert len(report.tables) >= 12
    # Counts are rounded, so a table has data when any rounded cell isn't 0. Ratings by service
    # split 200 residents' ratings by month, service and score: every such cell is small and
    # rounds to 0 (the default 1,200 residents fill it).
    for table in report.tables:
        if table.slug != "ratings_by_service":
            assert any(n != 0 for n in table.cells.values()), f"{table.slug} is empty"
    for slug in ("consent_by_purpose", "ratings_by_moment", "scheduled_messages_by_month"):
        shown = report.table(slug).published_numbers()
        assert any(n >= 5 for n in shown), slug
