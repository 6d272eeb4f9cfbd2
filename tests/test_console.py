"""The staff web console over HTTP (no browser): sign-in through the bot, sessions, CSRF, roles."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from bot.console.app import create_app
from bot.console.web import COOKIE
from bot.sandbox.fake_api import FakeTelegram
from models import AuditEvent, ConsoleLink, ConsoleSession, ContentLibrary, StaffRole
from tests.console_support import (
    CODE,
    console_client,
    csrf_of,
    link_from_bot,
    sign_in,
    staff_member,
)
from tests.content_support import SAMPLE_FOLDER
from tests.harness import BotHarness


@pytest.fixture
async def web(bot: BotHarness) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client on the console, sharing the bot's database and clock."""
    async with console_client(bot) as client:
        yield client


async def test_a_link_from_the_bot_signs_in_only_after_the_click(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    path = await link_from_bot(bot, admin)
    # Opening the link (as a link preview would) signs nobody in and uses nothing up.
    page = await web.get(path)
    assert "Sign in" in page.text and (await web.get("/")).status_code == 303
    again = await web.get(path)
    signed = await web.post(path, data={"csrf_token": csrf_of(again)})
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    overview = await web.get("/")
    assert overview.status_code == 200 and "Signed in as admin" in overview.text
    async with bot.session() as session:
        links = list(await session.scalars(select(ConsoleLink)))
    # Only the token's digest is stored.
    assert len(links) == 1 and path.rsplit("/", 1)[1] not in links[0].token_sha256


async def test_a_used_link_is_refused_the_second_time(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    path = await link_from_bot(bot, admin)
    page = await web.get(path)
    token = csrf_of(page)
    assert (await web.post(path, data={"csrf_token": token})).status_code == 303
    replay = await web.post(path, data={"csrf_token": csrf_of(await web.get("/"))})
    assert replay.status_code == 410 and "already been used" in replay.text


async def test_a_link_expires_after_ten_minutes(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    path = await link_from_bot(bot, admin)
    bot.clock.advance(dt.timedelta(minutes=10))
    page = await web.get(path)
    assert page.status_code == 410 and "expired" in page.text


async def test_a_form_without_its_csrf_token_is_refused(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    path = await link_from_bot(bot, admin)
    await web.get(path)
    assert (await web.post(path, data={})).status_code == 403
    assert (await web.post(path, data={"csrf_token": "guess"})).status_code == 403
    await sign_in(bot, web, admin)
    made = await web.post("/links", data={"clinic": "Broomfield"})
    assert made.status_code == 403
    async with bot.session() as session:
        actions = [e.action for e in await session.scalars(select(AuditEvent))]
    assert "joinlink.create" not in actions


async def test_a_desk_code_sent_with_console_signs_that_desk_in(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    moderator = await staff_member(bot, fake, StaffRole.MODERATOR)
    page = await web.get("/signin")
    code = CODE.search(page.text)
    assert code, page.text
    assert (await web.get("/signin/status")).json() == {"approved": False}
    waiting = web.cookies[COOKIE]
    replies = await bot.send(moderator, f"/console {code.group(1).lower()}")
    assert "signed in as you" in (replies[-1].text or "")
    assert (await web.get("/signin/status")).json() == {"approved": True}
    moved = await web.get("/signin")
    assert moved.status_code == 303 and moved.headers["location"] == "/"
    # The desk gets a new cookie on approval; the waiting one is over.
    assert web.cookies[COOKIE] != waiting
    overview = await web.get("/")
    assert "Moderation" in overview.text and "Reports" not in overview.text
    again = await bot.send(moderator, f"/console {code.group(1)}")
    assert "didn't work" in (again[-1].text or "")


async def test_residents_asking_for_console_see_an_unknown_command(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    resident = fake.new_user("Amy", started=True)
    unknown = await bot.send(resident, "/nosuchcommand")
    replies = await bot.send(resident, "/console")
    assert replies[-1].text == unknown[-1].text
    assert (replies[-1].text or "").startswith("Sorry, I don't know that command.")


async def test_a_midwife_is_refused_staff_pages_like_a_page_that_is_not_there(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    midwife = await staff_member(bot, fake, StaffRole.MIDWIFE)
    await sign_in(bot, web, midwife)
    for page in ("/reports", "/staff", "/moderation"):
        assert (await web.get(page)).status_code == 404
    assert (await web.get("/links")).status_code == 200
    async with bot.session() as session:
        refused = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused"))
        )
    assert {e.action for e in refused} == {"report.generate", "staff.list", "moderation.list"}
    assert {e.via for e in refused} == {"console"}


async def test_idle_and_absolute_timeouts_end_a_session(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)
    bot.clock.advance(dt.timedelta(minutes=29))
    assert (await web.get("/")).status_code == 200
    bot.clock.advance(dt.timedelta(minutes=30))
    assert (await web.get("/")).status_code == 303
    await sign_in(bot, web, admin)
    for _ in range(16):
        bot.clock.advance(dt.timedelta(minutes=29))
        assert (await web.get("/")).status_code == 200
    bot.clock.advance(dt.timedelta(minutes=29))
    assert (await web.get("/")).status_code == 303


async def test_sign_out_ends_the_session_in_the_database(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)
    cookie = web.cookies[COOKIE]
    token = csrf_of(await web.get("/"))
    out = await web.post("/signout", data={"csrf_token": token})
    assert out.headers["location"] == "/signin?ended=1"
    web.cookies.set(COOKIE, cookie)
    assert (await web.get("/")).status_code == 303


async def test_removing_a_member_ends_her_sessions_at_once(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    broadcaster = await staff_member(bot, fake, StaffRole.BROADCASTER)
    await sign_in(bot, web, broadcaster)
    theirs = web.cookies[COOKIE]
    web.cookies.clear()
    await sign_in(bot, web, admin)
    staff_page = await web.get("/staff")
    async with bot.session() as session:
        member_id = (
            await session.scalars(
                select(ConsoleSession.staff_id).where(ConsoleSession.staff_id.is_not(None))
            )
        ).first()
    assert member_id is not None
    ids = re.findall(r'action="/staff/(\d+)/remove"', staff_page.text)
    assert len(ids) == 1
    removed = await web.post(f"/staff/{ids[0]}/remove", data={"csrf_token": csrf_of(staff_page)})
    assert removed.status_code == 303
    web.cookies.clear()
    web.cookies.set(COOKIE, theirs)
    assert (await web.get("/")).status_code == 303
    async with bot.session() as session:
        ended = await session.scalar(
            select(ConsoleSession).where(ConsoleSession.staff_id == int(ids[0]))
        )
    assert ended is not None and ended.ended_at is not None


async def test_every_page_sends_a_strict_content_security_policy(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)
    for page in ("/", "/reports", "/links", "/moderation", "/staff", "/signin", "/nothing"):
        response = await web.get(page)
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_reports_download_as_the_same_protected_csv_files(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)
    page = await web.get("/reports?from=2026-06&to=2026-11")
    assert page.status_code == 200 and "June 2026 to November 2026" in page.text
    archive = await web.get("/reports/download/csv.zip?from=2026-06&to=2026-11")
    assert archive.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert "signups_by_district.csv" in names
    bad = await web.get("/reports?from=2026-13")
    assert bad.status_code == 200 and "There is a problem" in bad.text


async def test_console_actions_are_in_the_audit_trail_marked_as_from_the_console(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    midwife = await staff_member(bot, fake, StaffRole.MIDWIFE)
    await sign_in(bot, web, midwife)
    page = await web.get("/links")
    made = await web.post("/links", data={"clinic": "Broomfield", "csrf_token": csrf_of(page)})
    assert made.status_code == 200 and "Broomfield" in made.text
    link_id = re.search(r"/links/(\d+)/poster\.png", made.text)
    assert link_id
    poster = await web.get(f"/links/{link_id.group(1)}/poster.png")
    assert poster.content.startswith(b"\x89PNG")
    revoked = await web.post(
        f"/links/{link_id.group(1)}/revoke", data={"csrf_token": csrf_of(made)}
    )
    assert revoked.status_code == 303
    after = await web.get("/links")
    assert "still start sign-up" in after.text and "Stopped" in after.text
    async with bot.session() as session:
        events = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    by_action = {e.action: e.via for e in events}
    assert by_action["joinlink.create"] == "console"
    assert by_action["joinlink.revoke"] == "console"
    assert by_action["console.signin"] == "console"
    # What happened in the bot is marked as from the bot.
    assert by_action["console.link"] == "bot"


async def test_a_moderators_decision_in_the_console_warns_her_as_moderation_does(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    from tests.test_staff_moderation import notices_after_the_wait, reported_pair

    moderator = await staff_member(bot, fake, StaffRole.MODERATOR)
    reported, _, report_id = await reported_pair(bot, fake)
    await sign_in(bot, web, moderator)
    page = await web.get("/moderation")
    # The reason a resident wrote is escaped, never markup.
    assert "Rude &lt;b&gt;messages&lt;/b&gt;" in page.text
    decided = await web.post(
        f"/moderation/{report_id}", data={"action": "warn", "csrf_token": csrf_of(page)}
    )
    assert decided.headers["location"] == "/moderation?done=warn"
    again = await web.post(
        f"/moderation/{report_id}", data={"action": "dismiss", "csrf_token": csrf_of(page)}
    )
    assert again.headers["location"] == "/moderation?done=gone"
    notices = await notices_after_the_wait(bot, fake, reported)
    assert len(notices) == 1


async def test_a_broadcaster_sees_only_her_own_broadcasts(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    first = await staff_member(bot, fake, StaffRole.BROADCASTER)
    second = await staff_member(bot, fake, StaffRole.BROADCASTER)
    await sign_in(bot, web, first)
    page = await web.get("/broadcasts")
    made = await web.post(
        "/broadcasts",
        data={
            "text": "Clinic closed <Monday>",
            "purpose": "service",
            "kind": "everyone",
            "csrf_token": csrf_of(page),
        },
    )
    assert made.status_code == 303
    draft = await web.get(made.headers["location"])
    # What she typed is text, not markup, in the preview as in Telegram.
    assert "Clinic closed &amp;lt;Monday&amp;gt;" not in draft.text
    assert "Clinic closed &lt;Monday&gt;" in draft.text and "0 residents" in draft.text
    web.cookies.clear()
    await sign_in(bot, web, second)
    assert (await web.get(made.headers["location"])).status_code == 404
    assert (await web.get("/broadcasts")).status_code == 200


async def test_insecure_links_and_past_times_are_refused_as_in_the_bot(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)
    page = await web.get("/broadcasts")
    refused = await web.post(
        "/broadcasts",
        data={
            "text": "See http://example.org",
            "purpose": "service",
            "kind": "everyone",
            "csrf_token": csrf_of(page),
        },
    )
    assert refused.status_code == 400 and "must start with https://" in refused.text
    made = await web.post(
        "/broadcasts",
        data={
            "text": "Hello",
            "purpose": "service",
            "kind": "everyone",
            "csrf_token": csrf_of(page),
        },
    )
    path = made.headers["location"]
    past = await web.post(
        path + "/send",
        data={"when": "later", "send_at": "2026-11-29T10:00", "csrf_token": csrf_of(page)},
    )
    assert past.headers["location"] == path + "?error=time"


async def test_an_admin_changes_a_role_and_the_new_role_applies_at_the_next_page(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    midwife = await staff_member(bot, fake, StaffRole.MIDWIFE)
    await sign_in(bot, web, midwife)
    hers = web.cookies[COOKIE]
    assert (await web.get("/moderation")).status_code == 404
    web.cookies.clear()
    await sign_in(bot, web, admin)
    page = await web.get("/staff")
    ids = re.findall(r'action="/staff/(\d+)/role"', page.text)
    changed = await web.post(
        f"/staff/{ids[0]}/role", data={"role": "moderator", "csrf_token": csrf_of(page)}
    )
    assert changed.status_code == 303
    invite = await web.post("/staff/invite", data={"role": "midwife", "csrf_token": csrf_of(page)})
    assert re.search(r"https://t\.me/\w+\?start=staff_[A-Za-z0-9_-]{43}", invite.text)
    web.cookies.clear()
    web.cookies.set(COOKIE, hers)
    assert (await web.get("/moderation")).status_code == 200


async def test_the_console_works_mounted_inside_another_app(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    data = bot.app.bot_data
    assert data.settings is not None and data.engine is not None
    console = create_app(
        data.settings, engine=data.engine, clock=bot.clock, gazetteer=data.gazetteer
    )
    outer = Starlette(routes=[Mount("/console", app=console)])
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url="http://desk.test") as client:
        page = await client.get("/console/signin")
        assert page.status_code == 200 and 'href="/console/static/console.css"' in page.text
        assert (await client.get("/console/static/console.css")).status_code == 200
        assert (await client.get("/console/")).headers["location"] == "/console/signin"


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def content_folder(top: str = "content/") -> dict[str, bytes]:
    return {top + p.name: p.read_bytes() for p in SAMPLE_FOLDER.iterdir() if p.is_file()}


async def upload(
    web: httpx.AsyncClient, data: bytes, *, allow_sample: bool = False
) -> httpx.Response:
    page = await web.get("/content")
    fields = {"csrf_token": csrf_of(page)} | ({"allow_sample": "yes"} if allow_sample else {})
    return await web.post(
        "/content", data=fields, files={"upload": ("content.zip", data, "application/zip")}
    )


async def loaded_content(bot: BotHarness) -> list[ContentLibrary]:
    async with bot.session() as session:
        return list(await session.scalars(select(ContentLibrary)))


async def test_an_admin_loads_the_content_folder_from_a_zip_all_or_nothing(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)
    sample = await upload(web, zipped(content_folder()))
    assert sample.status_code == 400 and "marked sample: true" in sample.text
    broken = content_folder()
    broken["content/weeks.yaml"] = broken["content/weeks.yaml"] + b"\n  - week: [\n"
    refused = await upload(web, zipped(broken), allow_sample=True)
    assert refused.status_code == 400 and "nothing was loaded" in refused.text
    assert re.search(r"<code>weeks\.yaml:\d+: [^<]+</code>", refused.text), refused.text
    assert await loaded_content(bot) == []
    loaded = await upload(web, zipped(content_folder()), allow_sample=True)
    assert loaded.status_code == 200 and "The bot uses them within a minute" in loaded.text
    assert len(await loaded_content(bot)) == 1


async def test_a_zip_reaching_outside_its_folder_is_refused(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)
    for name in ("../weeks.yaml", "/etc/weeks.yaml", "content/../../weeks.yaml"):
        files = content_folder("") | {name: b"sample: true\n"}
        refused = await upload(web, zipped(files), allow_sample=True)
        assert refused.status_code == 400 and "must be inside the content folder" in refused.text
    too_big = await upload(web, b"x" * (3 * 1024 * 1024))
    # Too big to read as a form at all: refused before anything is unpacked, with a page saying so.
    assert too_big.status_code == 413 and "too big" in too_big.text
    assert await loaded_content(bot) == []


async def test_only_admins_may_load_content(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    broadcaster = await staff_member(bot, fake, StaffRole.BROADCASTER)
    await sign_in(bot, web, broadcaster)
    assert (await web.get("/content")).status_code == 404
