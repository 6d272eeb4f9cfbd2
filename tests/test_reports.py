"""Council reports from a seeded database, read back; the exports; and who may have them."""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import io
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.services import feedback
from bot.services.places.geo import default_gazetteer
from bot.services.reports import exports
from bot.services.reports.csv_files import table_rows
from bot.services.reports.html_report import render_html
from bot.services.reports.redaction import redact
from bot.services.reports.report import Report, build_report
from bot.services.reports.sections import Period
from bot.services.residents.profile import set_consent
from bot.services.staff import join_links
from bot.services.staff.accounts import active_staff, find_staff, revoke_staff
from models import ConsentPurpose, Loneliness, Resident, StaffRole
from tests.factories import (
    consent_evidence,
    make_resident,
    make_staff,
    new_resident_user,
    onboard,
)
from tests.harness import BotHarness

Sessions = async_sessionmaker[AsyncSession]
LONDON = ZoneInfo("Europe/London")
NOV = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)
DEC = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)
PERIOD = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1), LONDON)
CHELMSFORD, COLCHESTER, BASILDON = "E07000070", "E07000071", "E07000066"
SECRET_COMMENT = "Ring me on 07700 900123, love Zephyrine at CM1 1AA"


async def _residents(
    session: AsyncSession, count: int, when: dt.datetime, **fields: Any
) -> list[Resident]:
    return [await make_resident(session, when, **fields) for _ in range(count)]


async def _rate(session: AsyncSession, resident: Resident, rating: int, **answers: Any) -> None:
    response_id = await feedback.record_rating(
        session, resident.telegram_user_id, rating, now=answers.get("at", NOV), today=NOV.date()
    )
    if "lonely" in answers:
        await feedback.record_loneliness(
            session, resident.telegram_user_id, response_id, answers["lonely"]
        )


async def seed(sessions: Sessions) -> None:
    """Sign-ups over two months, consent choices, ratings and a comment."""
    async with sessions() as session, session.begin():
        link = await join_links.create_join_link(
            session, "Chelmsford Birth Centre", CHELMSFORD, NOV - dt.timedelta(days=30)
        )
        clinic = await _residents(
            session, 6, NOV, district_code=CHELMSFORD, signup_source=link.code
        )
        direct = await _residents(session, 6, NOV, district_code=CHELMSFORD)
        await _residents(session, 7, NOV, district_code=COLCHESTER)
        await _residents(session, 2, NOV, district_code=BASILDON, signup_source=link.code)
        await _residents(session, 8, DEC, district_code=CHELMSFORD, consents=False)
        # Someone who signed up before the period is counted in consent, not in sign-ups.
        await make_resident(session, NOV - dt.timedelta(days=90), district_code=CHELMSFORD)
        for resident in clinic:
            await set_consent(
                session,
                resident.telegram_user_id,
                ConsentPurpose.FEEDBACK,
                False,
                consent_evidence(DEC),
            )
        for resident in direct:
            await _rate(session, resident, 5, lonely=Loneliness.HARDLY_EVER)
        for resident in clinic[:3]:
            await _rate(session, resident, 2, lonely=Loneliness.OFTEN_OR_ALWAYS)
        await feedback.record_comment(session, direct[0].telegram_user_id, SECRET_COMMENT, now=NOV)
        await feedback.record_comment(
            session, direct[1].telegram_user_id, '=HYPERLINK("x") lovely group', now=NOV
        )


async def _report(sessions: Sessions, base: int = 5) -> Report:
    async with sessions() as session, session.begin():
        return await build_report(session, PERIOD, default_gazetteer(), generated_at=DEC, base=base)


class _Tables(HTMLParser):
    """Reads every table of the report back as rows of text, and the charts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "table":
            self._table = values["data-slug"]
            self.tables[self._table or ""] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "img":
            self.images.append(values["src"] or "")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None


def _as_in_csv(rows: list[list[str]]) -> list[list[str]]:
    """The HTML's labels for people ("Month", "Nov 2026 (to 10 Nov)") as the CSV has them."""

    def key(label: str) -> str:
        month = re.fullmatch(r"([A-Z][a-z]{2}) (\d{4})(?: \(to \d{1,2} [A-Z][a-z]{2}\))?", label)
        if month is None:
            return label
        return f"{dt.datetime.strptime(month.group(1) + month.group(2), '%b%Y'):%Y-%m}"

    header, *body = rows
    return [
        [header[0].lower().replace(" ", "_"), *header[1:]],
        *[[key(row[0]), *row[1:]] for row in body],
    ]


def _unrounded(rows: list[list[str]]) -> list[str]:
    """Counts that are not multiples of 5 (rates aside)."""
    return [c for row in rows[1:] for c in row[1:] if c and not c.endswith("%") and int(c) % 5]


async def test_the_report_counts_sign_ups_consent_and_feedback_and_reads_back_the_same(
    sessions: Sessions,
) -> None:
    await seed(sessions)
    report = await _report(sessions)

    parsed = _Tables()
    parsed.feed(render_html(report, "Essex County Council"))

    assert set(parsed.tables) == {t.slug for t in report.tables}
    for table in report.tables:
        assert _as_in_csv(parsed.tables[table.slug]) == table_rows(table), table.slug
        assert _unrounded(parsed.tables[table.slug]) == []
    by_district = {row[0]: row[1:] for row in _as_in_csv(parsed.tables["signups_by_district"])}
    # Basildon's 2 round to 0, so it has no column: a column of zeros would say someone there
    # signed up.
    assert by_district["month"] == ["Chelmsford", "Colchester", "Total"]
    # November's cells: Chelmsford 6 by the link and 6 not (5 + 5), Colchester 7 (5), Basildon 2
    # by the link (0). Totals add the rounded cells: 15, not the true 21 rounded to 20.
    assert by_district["2026-11"] == ["10", "5", "15"]
    assert by_district["2026-12"] == ["10", "0", "10"]
    assert by_district["Total"] == ["20", "5", "25"]
    by_link = {row[0]: row[1:] for row in _as_in_csv(parsed.tables["signups_by_join_link"])}
    assert by_link["month"] == ["Chelmsford Birth Centre", "No join link", "Total"]
    # The same cells added the other way: the link's 6 + 2 show as 5 + 0.
    assert by_link["2026-11"] == ["5", "10", "15"]
    assert by_link["Total"] == ["5", "20", "25"]
    consent = {row[0]: row[1:] for row in parsed.tables["consent_by_purpose"]}
    assert consent["Keeping pregnancy details"] == ["30", "0", "30", "100%"]
    # 16 yes and 14 no: the rate is of the rounded figures, 15 of 30.
    assert consent["Feedback questions"] == ["15", "15", "30", "50%"]
    withdrawals = {row[0]: row[1:] for row in _as_in_csv(parsed.tables["consent_withdrawals"])}
    assert withdrawals["2026-12"] == ["0", "0", "5", "5"]
    ratings = {row[0]: row[1:] for row in _as_in_csv(parsed.tables["ratings_by_month"])}
    # Three 2s and six 5s.
    assert ratings["2026-11"] == ["0", "5", "0", "0", "5", "10"]
    lonely = {row[0]: row[1:] for row in parsed.tables["loneliness_by_stage"]}
    assert lonely["Total"] == ["5", "0", "0", "5", "0", "10"]


async def test_the_report_embeds_charts_and_leaves_comments_out(sessions: Sessions) -> None:
    await seed(sessions)
    page = render_html(await _report(sessions), "Essex County Council")

    parsed = _Tables()
    parsed.feed(page)
    assert parsed.images
    for source in parsed.images:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source.removeprefix(prefix)).startswith(b"\x89PNG")
    assert "Zephyrine" not in page and "07700" not in page
    assert "lovely group" not in page


async def test_a_larger_rounding_base_hides_more(sessions: Sessions) -> None:
    await seed(sessions)
    table = (await _report(sessions, base=10)).table("signups_by_district")
    # Colchester's 7 is the nearest 10; Chelmsford's 6 and 6 are 10 each.
    assert table.cell("2026-11", "Colchester") == 10
    assert table.cell("2026-11", "Chelmsford") == 20


def test_report_periods_are_whole_uk_calendar_months() -> None:
    period = Period.months_between(dt.date(2027, 3, 15), dt.date(2027, 4, 2), LONDON)
    assert period.months() == ("2027-03", "2027-04")
    # In British Summer Time, May begins at 23:00 UTC on 30 April.
    assert period.start == dt.datetime(2027, 3, 1, 0, 0, tzinfo=dt.UTC)
    assert period.end == dt.datetime(2027, 4, 30, 23, 0, tzinfo=dt.UTC)
    assert Period.last_months(dt.date(2027, 2, 14), 12, LONDON).months()[0] == "2026-03"
    assert Period.parse_month("2026-13") is None
    assert Period.parse_month("next year") is None


async def test_consent_evidence_has_every_event_with_state_notice_and_hash_but_no_identity(
    sessions: Sessions, tmp_path: Path
) -> None:
    await seed(sessions)
    async with sessions() as session, session.begin():
        count = await exports.write_consent_evidence(
            session, tmp_path / "c.csv", tmp_path / "c.json", DEC
        )
        residents = list(await session.scalars(select(Resident)))

    document = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    rows = list(csv.DictReader(io.StringIO((tmp_path / "c.csv").read_text(encoding="utf-8"))))
    assert len(document["events"]) == len(rows) == count == 30 * 4 + 6
    assert [r["state"] for r in rows].count("withdrawn") == 6
    assert [r["state"] for r in rows].count("declined") == 8 * 3
    first = rows[0]
    assert set(first) == set(exports.CONSENT_FIELDS)
    assert first["notice_version"] == "test" and len(first["text_sha256"]) == 64
    text = (tmp_path / "c.csv").read_text() + (tmp_path / "c.json").read_text()
    for resident in residents:
        assert resident.person_ref not in text
        assert str(resident.telegram_user_id) not in text
    assert exports.pseudonym(residents[0].person_ref) in text


async def test_consent_evidence_can_be_limited_to_a_period_and_still_knows_withdrawals(
    sessions: Sessions, tmp_path: Path
) -> None:
    await seed(sessions)
    december = Period(dt.date(2026, 12, 1), dt.date(2026, 12, 1), LONDON)
    async with sessions() as session, session.begin():
        records = [r async for r in exports.consent_records(session, december)]
    assert {r.state for r in records if r.purpose == "feedback" and r.state != "declined"} == {
        "withdrawn"
    }
    assert all(r.recorded_at.startswith("2026-12") for r in records)


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("Call 07700 900123 please", "Call", "07700"),
        ("or +44 (0)1245 123456", "or", "1245"),
        ("mail jo.smith+bb@example.co.uk", "mail", "example"),
        ("we're at CM2 9AB now", "now", "CM2 9AB"),
        ("postcode co11aa", "postcode", "co11aa"),
        ("message @jo_bloggs anytime", "anytime", "jo_bloggs"),
    ],
)
def test_comments_lose_phone_numbers_emails_postcodes_and_usernames(
    text: str, kept: str, gone: str
) -> None:
    redacted = redact(text)
    assert kept in redacted and gone not in redacted
    assert "removed]" in redacted


@pytest.mark.parametrize(
    "text", ["Due 14/03/2027 at 20 weeks", "Group at 10:30 on Tuesdays", "I'm in CM1"]
)
def test_ordinary_words_and_dates_are_left_alone(text: str) -> None:
    assert redact(text) == text


async def test_the_comments_export_is_redacted_spreadsheet_safe_and_says_nothing_of_who(
    sessions: Sessions,
) -> None:
    await seed(sessions)
    async with sessions() as session, session.begin():
        text = await exports.comments_csv(session, PERIOD)

    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["month", "service", "comment"]
    comments = [row[2] for row in rows[1:]]
    assert '\'=HYPERLINK("x") lovely group' in comments
    assert any("[phone number removed]" in c and "[postcode removed]" in c for c in comments)
    assert "07700" not in text and "CM1 1AA" not in text
    assert {row[0] for row in rows[1:]} == {"2026-11"}


def _cli(*args: str, database_url: str) -> Any:
    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": database_url})


async def test_the_report_command_writes_html_and_a_csv_per_table(
    sessions: Sessions, database_url: str, tmp_path: Path
) -> None:
    await seed(sessions)
    out = tmp_path / "report.html"

    result = await asyncio.to_thread(
        _cli,
        "report",
        "--from",
        "2026-11",
        "--to",
        "2026-12",
        "--out",
        str(out),
        database_url=database_url,
    )

    assert result.exit_code == 0, result.output
    assert "November 2026 to December 2026" in result.output
    parsed = _Tables()
    parsed.feed(out.read_text(encoding="utf-8"))
    folder = tmp_path / "report-csv"
    for slug, rows in parsed.tables.items():
        from_csv = list(csv.reader(io.StringIO((folder / f"{slug}.csv").read_text())))
        assert from_csv == _as_in_csv(rows)


async def test_the_export_commands_write_consent_evidence_and_redacted_comments(
    sessions: Sessions, database_url: str, tmp_path: Path
) -> None:
    await seed(sessions)

    consent = await asyncio.to_thread(
        _cli, "export", "consent", "--out", str(tmp_path / "evidence"), database_url=database_url
    )
    comments = await asyncio.to_thread(
        _cli,
        "export",
        "feedback",
        "--from",
        "2026-11",
        "--to",
        "2026-12",
        "--out",
        str(tmp_path / "comments.csv"),
        database_url=database_url,
    )

    assert consent.exit_code == 0, consent.output
    assert "126 consent events" in consent.output
    assert json.loads((tmp_path / "evidence.json").read_text())["events"]
    assert comments.exit_code == 0, comments.output
    assert "2 comments" in comments.output
    assert "07700" not in (tmp_path / "comments.csv").read_text()


@pytest.mark.parametrize(
    "command", [["report"], ["export"], ["export", "consent"], ["export", "feedback"]]
)
def test_every_report_and_export_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_the_report_command_refuses_months_in_the_wrong_order(tmp_path: Path) -> None:
    result = _cli(
        "report",
        "--from",
        "2026-12",
        "--to",
        "2026-11",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3",
    )
    assert result.exit_code == 2


async def _staff(
    bot: BotHarness, fake: FakeTelegram, role: StaffRole = StaffRole.ADMIN
) -> FakeUser:
    """A member of staff, made as `bumpbuddies staff add` makes one."""
    user = fake.new_user(f"Council {role.value}", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), role, user.id)
    return user


REPORT_COMMANDS = ["/report", "/report comments", "/report 2026-01 2026-02"]


async def _refused_like_an_unknown_command(bot: BotHarness, user: FakeUser) -> None:
    [unknown] = await bot.send(user, "/nosuchcommand")
    for command in REPORT_COMMANDS:
        sent = await bot.send(user, command)
        assert [m.plain_text for m in sent] == [unknown.plain_text], command
        assert all(m.document is None for m in sent), command


@pytest.mark.parametrize("command", REPORT_COMMANDS)
async def test_report_is_refused_exactly_like_an_unknown_command(
    bot: BotHarness, fake: FakeTelegram, command: str
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    [unknown] = await bot.send(user, "/nosuchcommand")

    sent = await bot.send(user, command)

    assert [m.plain_text for m in sent] == [unknown.plain_text]
    assert all(m.document is None for m in sent)


@pytest.mark.parametrize("role", [StaffRole.BROADCASTER, StaffRole.MIDWIFE, StaffRole.MODERATOR])
async def test_staff_who_are_not_admins_are_refused_like_an_unknown_command(
    bot: BotHarness, fake: FakeTelegram, role: StaffRole
) -> None:
    await _refused_like_an_unknown_command(bot, await _staff(bot, fake, role))


async def test_an_admin_is_refused_from_the_moment_her_access_is_revoked(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    admin = await _staff(bot, fake)
    former = await _staff(bot, fake)
    assert len(await bot.send(former, "/report")) == 3
    async with bot.session() as session, session.begin():
        by, member = await find_staff(session, admin.id), await find_staff(session, former.id)
        assert by is not None and member is not None
        assert await revoke_staff(session, by, member.id, bot.clock.now()) is not None

    await _refused_like_an_unknown_command(bot, former)


async def test_a_resident_who_is_not_staff_is_not_an_admin(
    sessions: Sessions,
) -> None:
    async with sessions() as session:
        resident_ids = [r.telegram_user_id for r in await _residents(session, 1, NOV)]
        assert await active_staff(session, resident_ids[0]) is None


async def test_an_admin_gets_the_summary_the_html_report_and_the_csv_files(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    admin = await _staff(bot, fake)
    residents = [new_resident_user(fake, f"Mum{i}") for i in range(6)]
    for resident in residents:
        await onboard(bot, resident)

    summary, page, tables = await bot.send(admin, "/report")

    assert "Bump Buddies report: December 2025 to November 2026" in summary.plain_text
    # Six sign-ups, rounded to the nearest 5 like every count.
    assert "Sign-ups by month and district: 5" in summary.plain_text
    assert "rounded to the nearest 5" in summary.plain_text
    assert page.document is not None and page.document[0].endswith(".html")
    parsed = _Tables()
    parsed.feed(page.document[1].decode("utf-8"))
    assert parsed.tables["signups_by_district"][-1][-1] == "5"
    assert tables.document is not None
    with zipfile.ZipFile(io.BytesIO(tables.document[1])) as archive:
        assert {
            "signups_by_district.csv",
            "signups_by_join_link.csv",
            "matches_by_month.csv",
            "scheduled_messages_by_month.csv",
            "broadcast_reach_by_month.csv",
        } <= set(archive.namelist())


async def test_an_admin_gets_the_comments_redacted_and_a_bad_period_is_explained(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    admin = await _staff(bot, fake)
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/feedback")
    await bot.press(user, "4")
    await bot.press(user, "Never")
    await bot.send(user, "Email me at amira@example.com")

    [comments] = await bot.send(admin, "/report comments 2026-11")
    [bad] = await bot.send(admin, "/report 2026-12 2026-01")

    assert comments.document is not None
    assert b"[email removed]" in comments.document[1]
    assert b"amira@example.com" not in comments.document[1]
    assert "removed" in comments.plain_text
    assert "/report 2026-01 2026-06" in bad.plain_text
