"""The council report's sections for later features: join links, matches, messages, broadcasts.

A database is seeded through the services that do the work for real (join links, matching,
the delivery queue, broadcasts), the report is built and each table read back from its CSV.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import re
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import kinds, queue
from bot.delivery.queue import NewDelivery
from bot.services.matching.introductions import answer_request, expire_requests, say_hello
from bot.services.matching.suggestions import suggest
from bot.services.places.geo import default_gazetteer
from bot.services.reports.csv_files import table_csv
from bot.services.reports.html_report import render_html
from bot.services.reports.protection import protect_count
from bot.services.reports.report import Report, build_report
from bot.services.reports.sections import Period, within
from bot.services.residents.profile import set_consent
from bot.services.staff import broadcasts, join_links
from bot.texts import catalogue
from models import (
    BroadcastPurpose,
    ConsentPurpose,
    DeliveryStatus,
    JoinLink,
    Resident,
    ResidentStatus,
    StaffMember,
    StaffRole,
)
from tests.factories import consent_evidence, make_resident, make_staff
from tests.test_matching_support import CENTRAL, RULES, mum, neighbours

Sessions = async_sessionmaker[AsyncSession]
LONDON = ZoneInfo("Europe/London")
# Winter months, so UK time is UTC; everyone in the background signed up before the period.
OCT = dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.UTC)
NOV = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)
DEC = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)
PERIOD = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1), LONDON)
CHELMSFORD, BASILDON = "E07000070", "E07000066"


def published(report: Report, slug: str) -> dict[str, list[str]]:
    """A table as the council gets it in its CSV file: each row's cells by the row's label."""
    rows = list(csv.reader(io.StringIO(table_csv(report.table(slug)))))
    return {row[0]: row[1:] for row in rows}


async def build(sessions: Sessions) -> Report:
    async with sessions() as session, session.begin():
        return await build_report(session, PERIOD, default_gazetteer(), generated_at=DEC)


async def signed_up(session: AsyncSession, when: dt.datetime, **fields: Any) -> Resident:
    """A resident who finished signing up at `when`; not looking for matches, so the only
    matches made are the ones a test arranges."""
    return await make_resident(session, when, matching_consent=False, **fields)


async def background(session: AsyncSession, count: int, **fields: Any) -> list[Resident]:
    """Residents who signed up before the period."""
    return [await signed_up(session, OCT, **fields) for _ in range(count)]


# --- Sign-ups by join link --------------------------------------------------------------------


async def seed_join_links(sessions: Sessions) -> dict[str, JoinLink]:
    """Two clinics' links (one stopped on 1 December, one replaced by a second link) and
    sign-ups through them, through no link and through a payload that names none."""
    async with sessions() as session, session.begin():
        birth_centre = await join_links.create_join_link(
            session, "Chelmsford Birth Centre", CHELMSFORD, OCT
        )
        hospital = await join_links.create_join_link(session, "Basildon Hospital", BASILDON, OCT)
        for _ in range(6):
            await signed_up(session, NOV, signup_source=birth_centre.code)
        for _ in range(5):
            await signed_up(session, NOV, signup_source=hospital.code)
        for source in [None] * 7 + ["poster-in-the-library"]:
            await signed_up(session, NOV, signup_source=source)
        # Started through a live link but never finished: the link's, not the report's.
        await signed_up(
            session,
            NOV,
            signup_source=birth_centre.code,
            status=ResidentStatus.ONBOARDING,
            onboarded_at=None,
        )
    async with sessions() as session, session.begin():
        stopped_at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
        await join_links.revoke_join_link(session, hospital.id, stopped_at)
        second = await join_links.create_join_link(
            session, "Chelmsford Birth Centre", CHELMSFORD, stopped_at
        )
        # The stopped link still signs mums up, but they no longer count for it.
        for _ in range(5):
            await signed_up(session, DEC, signup_source=hospital.code)
        for _ in range(6):
            await signed_up(session, DEC, signup_source=second.code)
    return {"birth_centre": birth_centre, "hospital": hospital, "second": second}


async def test_sign_ups_count_for_a_join_link_only_while_it_was_live(sessions: Sessions) -> None:
    links = await seed_join_links(sessions)

    table = published(await build(sessions), "signups_by_join_link")

    first, second = links["birth_centre"].id, links["second"].id
    assert table["month"] == [
        "Basildon Hospital",
        f"Chelmsford Birth Centre (link {first})",
        f"Chelmsford Birth Centre (link {second})",
        "No join link",
        "Total",
    ]
    # Each month's cell rounded to the nearest 5 (6 shows as 5, 8 as 10), then added up.
    assert table["2026-11"] == ["5", "5", "0", "10", "20"]
    assert table["2026-12"] == ["0", "0", "5", "5", "10"]
    assert table["Total"] == ["5", "5", "5", "15", "30"]


async def test_the_reports_sign_ups_by_link_agree_with_the_join_links_own_count(
    sessions: Sessions,
) -> None:
    links = await seed_join_links(sessions)

    report = await build(sessions)
    async with sessions() as session:
        finished = await join_links.sign_ups_by_link(session, within(Resident.onboarded_at, PERIOD))
        started = await join_links.sign_ups_by_link(session)

    table = report.table("signups_by_join_link")
    by_code = {
        links["hospital"].code: "Basildon Hospital",
        links["birth_centre"].code: f"Chelmsford Birth Centre (link {links['birth_centre'].id})",
        links["second"].code: f"Chelmsford Birth Centre (link {links['second'].id})",
    }
    assert table.column_totals is not None
    # Each link's sign-ups fall in one month here, so its total is that month's rounded count.
    assert {code: protect_count(n) for code, n in finished.items()} == {
        code: table.column_totals[label] for code, label in by_code.items()
    }
    # /mystats also counts the mum who started through a link and has not finished yet.
    assert started[links["birth_centre"].code] == finished[links["birth_centre"].code] + 1
    # Everyone lives in one district, so both tables add up the same rounded cells by month.
    district = report.table("signups_by_district")
    assert district.row_totals == table.row_totals


# --- Matches ----------------------------------------------------------------------------------


class Matchmaker:
    """Pairs of mums who are each other's only match, taken through the matching services."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self.pairs = 0

    async def pair(self) -> tuple[Resident, Resident]:
        # Due dates five weeks apart from pair to pair: outside the four-week window, so each
        # mum's one suggestion is her partner.
        due = dt.date(2027, 1, 4) + dt.timedelta(weeks=5 * self.pairs)
        self.pairs += 1
        return (
            await mum(self.sessions, OCT, ward=CENTRAL, due=due),
            await mum(self.sessions, OCT, ward=CENTRAL, due=due),
        )

    async def suggested(self, at: dt.datetime) -> tuple[Resident, Resident, int]:
        a, b = await self.pair()
        async with self.sessions() as session, session.begin():
            [card] = await suggest(session, a.id, at, RULES, neighbours())
        assert card.candidate.resident_id == b.id
        return a, b, card.suggestion_id

    async def asked(self, at: dt.datetime) -> tuple[Resident, Resident, int]:
        a, b, card = await self.suggested(at)
        async with self.sessions() as session, session.begin():
            hello = await say_hello(session, a.telegram_user_id, card, at, RULES, neighbours())
        assert hello.introduction is not None
        return a, b, hello.introduction.id

    async def answered(self, at: dt.datetime, yes: bool) -> None:
        _, b, intro = await self.asked(at)
        async with self.sessions() as session, session.begin():
            await answer_request(
                session, b.telegram_user_id, intro, yes, at + dt.timedelta(hours=3)
            )


async def seed_matches(sessions: Sessions) -> None:
    make = Matchmaker(sessions)
    for hour in range(6):
        await make.answered(NOV + dt.timedelta(hours=hour), yes=True)
    for hour in range(2):
        await make.answered(NOV + dt.timedelta(days=1, hours=hour), yes=False)
    # Asked at the end of November, never answered: it runs out in December.
    late = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    await make.asked(late)
    async with sessions() as session, session.begin():
        assert await expire_requests(session, late + dt.timedelta(days=RULES.reply_days + 1)) == 1
    for hour in range(5):
        await make.answered(DEC + dt.timedelta(hours=hour), yes=True)
    # She withdraws from matching before the other mum answers.
    requester, _, _ = await make.asked(DEC)
    async with sessions() as session, session.begin():
        await set_consent(
            session,
            requester.telegram_user_id,
            ConsentPurpose.MATCHING,
            False,
            consent_evidence(DEC + dt.timedelta(hours=1)),
        )
    # Shown a suggestion she never acted on.
    await make.suggested(DEC)


async def test_matches_proposed_accepted_and_declined_are_counted_in_the_month_they_happened(
    sessions: Sessions,
) -> None:
    await seed_matches(sessions)

    assert published(await build(sessions), "matches_by_month") == MATCHES


MATCHES = {
    "month": [
        "Suggested",
        "Asked to be introduced",
        "Introduced",
        "Declined",
        "Not answered in time",
        "Ended early",
    ],
    # The request that ran out was asked in November and ended in December. Exactly: 9, 9, 6, 2
    # in November; 7, 6, 5, 0, 1, 1 in December; each rounded to the nearest 5.
    "2026-11": ["10", "10", "5", "0", "0", "0"],
    "2026-12": ["5", "5", "5", "0", "0", "0"],
    # Rows have no totals (the steps are not added across); columns add the rounded months.
    "Total": ["15", "15", "10", "0", "0", "0"],
}


# --- Scheduled messages and broadcasts ---------------------------------------------------------


async def deliver(
    session: AsyncSession,
    residents: list[Resident],
    kind: str,
    due: dt.datetime,
) -> None:
    """Queue one message of `kind` for each of them, due at `due`."""
    await queue.enqueue(
        session,
        [
            NewDelivery(r.id, f"{kind}:{due:%Y-%m-%d}", f"daily:{due:%Y-%m-%d}", kind, "…", due)
            for r in residents
        ],
        due - dt.timedelta(hours=1),
    )


async def work(
    session: AsyncSession,
    at: dt.datetime,
    *,
    sent: int,
    failed: int = 0,
    blocked: int = 0,
    limit: int = 1000,
) -> None:
    """A worker's go at the queue: claim what is due, then settle it as the engine would."""
    claimed = await queue.claim(session, "worker", at, limit, dt.timedelta(minutes=5))
    assert len(claimed) == sent + failed + blocked
    await queue.record_sent(session, [(c.id, 1000 + c.id) for c in claimed[:sent]], at)
    for row in claimed[sent : sent + failed]:
        await queue.settle(session, [row.id], DeliveryStatus.FAILED, at, error="400 boom")
    for row in claimed[sent + failed :]:
        # What the engine does on a 403: she blocked the bot.
        await queue.mark_unreachable(session, row.chat_id, at)
        await queue.settle(
            session,
            [row.id],
            DeliveryStatus.SKIPPED,
            at,
            error="403 Forbidden: bot was blocked by the user",
        )


async def seed_scheduled_messages(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        mums = await background(session, 12)
        await deliver(session, mums, "week", NOV)
        # Ten go, one fails, and the last finds she has blocked the bot.
        await work(session, NOV, sent=10, failed=1, blocked=1)
        # Her next message is skipped as soon as it is claimed: she is known to be unreachable.
        await deliver(session, [*mums[:5], mums[11]], "services", NOV + dt.timedelta(days=1))
        await work(session, NOV + dt.timedelta(days=1), sent=5)
        await deliver(session, mums[:11], "week", DEC)
        # Called off before they go, as when she says no more local information.
        await deliver(session, mums[:6], "services", DEC)
        await queue.cancel_open(session, kinds=["services"])
        await work(session, DEC, sent=11)
        # Planned for the end of December: still waiting when the report is made.
        await deliver(session, mums[:2], "checkin", DEC + dt.timedelta(days=20))


async def test_scheduled_messages_sent_failed_and_blocked_by_month(sessions: Sessions) -> None:
    # Broadcasts go through the same queue, but are counted in a table of their own.
    await seed_broadcasts(sessions)
    await seed_scheduled_messages(sessions)

    assert published(await build(sessions), "scheduled_messages_by_month") == SCHEDULED


async def test_matching_feedback_and_moderation_messages_count_as_scheduled_messages(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        mums = await background(session, 20)
        for kind in (kinds.MATCH_REQUEST, kinds.FEEDBACK_PROMPT, kinds.MODERATION_NOTICE):
            await deliver(session, mums, kind, NOV)
        await work(session, NOV, sent=50, blocked=10)

    november = published(await build(sessions), "scheduled_messages_by_month")["2026-11"]

    assert november[:3] == ["50", "0", "10"]


OUTCOMES = ["Sent", "Failed", "Blocked or left Telegram", "Cancelled", "Not sent yet", "Total"]
SCHEDULED = {
    "month": OUTCOMES,
    # Exactly 15 sent, 1 failed and 2 blocked: the total adds the rounded cells, 15 + 0 + 0.
    "2026-11": ["15", "0", "0", "0", "0", "15"],
    # 11 sent, 6 cancelled, 2 still waiting.
    "2026-12": ["10", "0", "0", "5", "0", "15"],
    "Total": ["25", "0", "0", "5", "0", "30"],
}


async def seed_broadcasts(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        sender = await make_staff(session, OCT, StaffRole.BROADCASTER, 5_550_100)
        basildon = await background(session, 23, district_code=BASILDON)
        # Elsewhere in Essex: outside both audiences.
        await background(session, 4, district_code=CHELMSFORD)
        # A service announcement in November: two residents block the bot before theirs goes.
        first = await broadcast(session, sender, NOV, BroadcastPurpose.SERVICE)
        for resident in basildon[-2:]:
            await queue.mark_unreachable(session, resident.telegram_user_id, NOV)
        await work(session, NOV, sent=20, failed=1)
        assert await broadcasts.finish(session, first, NOV) is not None
        # Local information in December, stopped by its sender after 15 had gone; the two who
        # blocked the bot are no longer in any audience.
        second = await broadcast(session, sender, DEC, BroadcastPurpose.LOCAL_INFO)
        await work(session, DEC, sent=15, limit=15)
        draft = await broadcasts.own_broadcast(session, sender, second)
        assert draft is not None
        assert await broadcasts.cancel(session, sender, draft, DEC) == 6


async def broadcast(
    session: AsyncSession, sender: StaffMember, at: dt.datetime, purpose: BroadcastPurpose
) -> int:
    """A broadcast to Basildon, confirmed and released at `at`, as the /broadcast flow does."""
    draft = await broadcasts.create_draft(session, sender, "Clinic news", at, paid=False)
    audience = broadcasts.Audience(kind="districts", codes=(BASILDON,))
    broadcasts.revise(draft, at, purpose=purpose, audience=audience.as_json())
    shown = await broadcasts.count_recipients(session, audience, purpose, at.date())
    await broadcasts.schedule(session, sender, draft, at, at, recipients_shown=shown)
    [released] = await broadcasts.release_due(
        session, at, at.date(), only=draft.id, texts=catalogue(), council="Essex County Council"
    )
    return released.id


async def test_broadcast_reach_by_month(sessions: Sessions) -> None:
    await seed_broadcasts(sessions)

    assert published(await build(sessions), "broadcast_reach_by_month") == BROADCASTS


BROADCASTS = {
    # The rate is the share sent, of everyone in the audience when it went: of rounded figures,
    # and only of a total of 25 or more, so these months of 23 and 21 messages have none.
    "month": [*OUTCOMES, "Rate"],
    "2026-11": ["20", "0", "0", "0", "0", "20", ""],
    "2026-12": ["15", "0", "0", "5", "0", "20", ""],
    "Total": ["35", "0", "0", "5", "0", "40"],
}


# --- All together -----------------------------------------------------------------------------

NEW_TABLES = {
    "matches_by_month": MATCHES,
    "scheduled_messages_by_month": SCHEDULED,
    "broadcast_reach_by_month": BROADCASTS,
}


async def seed_everything(sessions: Sessions) -> None:
    await seed_join_links(sessions)
    await seed_matches(sessions)
    await seed_broadcasts(sessions)
    await seed_scheduled_messages(sessions)


async def test_each_new_table_counts_only_its_own_things_so_others_do_not_change_it(
    sessions: Sessions,
) -> None:
    await seed_everything(sessions)

    report = await build(sessions)

    # A table sharing cells with one that counts something else would show other numbers here
    # than on its own.
    for slug, expected in NEW_TABLES.items():
        assert published(report, slug) == expected, slug


async def test_every_count_in_the_whole_report_is_rounded_and_every_total_adds_up_its_cells(
    sessions: Sessions,
) -> None:
    await seed_everything(sessions)

    report = await build(sessions)

    assert set(NEW_TABLES) <= {t.slug for t in report.tables}
    for table in report.tables:
        assert all(n % 5 == 0 for n in table.published_numbers()), table.slug
        for row in table.rows:
            if table.row_totals is not None:
                assert table.row_totals[row] == sum(table.cell(row, c) for c in table.columns)
        for column in table.columns:
            if table.column_totals is not None:
                assert table.column_totals[column] == sum(table.cell(r, column) for r in table.rows)


async def test_the_new_sections_have_charts_and_tables_in_the_html_report(
    sessions: Sessions,
) -> None:
    await seed_everything(sessions)
    report = await build(sessions)

    page = render_html(report, "Essex County Council")

    for slug in NEW_TABLES:
        section = re.search(rf'<section id="{slug}">(.*?)</section>', page, re.S)
        assert section is not None, slug
        chart = re.search(r'src="data:image/png;base64,([^"]+)"', section.group(1))
        assert chart is not None and base64.b64decode(chart.group(1)).startswith(b"\x89PNG")
        assert f'<a href="#{slug}">' in page
