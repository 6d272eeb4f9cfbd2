"""The console's roles are the bot's: who may open which page, and the audit trail says where."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from starlette.routing import Route

from bot.console.app import create_app
from bot.console.content_pages import MAX_UPLOAD_BYTES
from bot.sandbox.fake_api import FakeTelegram
from bot.services.staff.accounts import ALLOWED, Permission
from bot.services.staff.join_links import create_join_link
from models import AuditEvent, JoinLink, StaffRole
from tests.console_support import console_client, csrf_of, link_from_bot, sign_in, staff_member
from tests.harness import BotHarness


@pytest.fixture
async def web(bot: BotHarness) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client on the console, sharing the bot's database and clock."""
    async with console_client(bot) as client:
        yield client


PAGES = [
    "/reports",
    "/links",
    "/moderation",
    "/staff",
    "/staff/audit.csv",
    "/broadcasts",
    "/content",
]
MAY_OPEN = {
    StaffRole.ADMIN: set(PAGES),
    StaffRole.MIDWIFE: {"/links"},
    StaffRole.BROADCASTER: {"/broadcasts"},
    StaffRole.MODERATOR: {"/moderation"},
}


@pytest.mark.parametrize("role", list(StaffRole))
async def test_each_role_opens_only_its_own_pages_as_in_the_bot(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient, role: StaffRole
) -> None:
    member = await staff_member(bot, fake, role)
    await sign_in(bot, web, member)
    overview = await web.get("/")
    opened = {page for page in PAGES if (await web.get(page)).status_code == 200}
    assert overview.status_code == 200
    assert opened == MAY_OPEN[role]
    # The menu offers exactly those pages.
    menu = set(re.findall(r'<li><a href="(/[a-z]+)"', overview.text)) - {"/"}
    # (and Try it, the sandbox, for everyone: tests/test_console_try.py)
    assert menu == {p for p in MAY_OPEN[role] if p.count("/") == 1} | {"/try"}
    async with bot.session() as session:
        refused = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused"))
        )
    assert len(refused) == len(set(PAGES) - MAY_OPEN[role])
    assert {e.via for e in refused} <= {"console"}


def test_content_is_a_permission_of_its_own_for_admins_only() -> None:
    assert ALLOWED[Permission.CONTENT] == frozenset({StaffRole.ADMIN})


async def test_a_midwife_sees_and_revokes_only_her_own_join_links(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    mine = await staff_member(bot, fake, StaffRole.MIDWIFE)
    other = await staff_member(bot, fake, StaffRole.MIDWIFE)
    async with bot.session() as session, session.begin():
        from bot.services.staff.accounts import find_staff

        colleague = await find_staff(session, other.id)
        theirs = await create_join_link(session, "Basildon team", None, bot.clock.now(), colleague)
        theirs_id = theirs.id
    await sign_in(bot, web, mine)
    page = await web.get("/links")
    made = await web.post("/links", data={"clinic": "Broomfield", "csrf_token": csrf_of(page)})
    assert "Broomfield" in made.text and "Basildon team" not in made.text
    assert (await web.get(f"/links/{theirs_id}/poster.png")).status_code == 404
    await web.post(f"/links/{theirs_id}/revoke", data={"csrf_token": csrf_of(made)})
    async with bot.session() as session:
        still = await session.get(JoinLink, theirs_id)
    assert still is not None and still.revoked_at is None


async def test_the_audit_trail_says_whether_each_action_was_in_the_bot_console_or_shell(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)  # `staff add`: the server's shell
    await link_from_bot(bot, admin)  # /console in the bot
    await sign_in(bot, web, admin)  # the console
    download = await web.get("/staff/audit.csv")

    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["action"], r["via"]) for r in rows] == [
        ("staff.add", "cli"),
        ("console.link", "bot"),
        ("console.link", "bot"),
        ("console.signin", "console"),
        ("audit.export", "console"),
    ]
    sent = await bot.send(admin, "/audit")
    assert sent[-1].document is not None
    from_bot = list(csv.DictReader(io.StringIO(sent[-1].document[1].decode("utf-8"))))
    assert from_bot[-1]["via"] == "bot" and from_bot[-2]["via"] == "console"


async def test_an_upload_over_the_limit_gets_a_page_saying_so_and_changes_nothing(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)
    page = await web.get("/content")
    big = b"PK" + b"\0" * (MAX_UPLOAD_BYTES + 100 * 1024)
    response = await web.post(
        "/content",
        data={"csrf_token": csrf_of(page)},
        files={"upload": ("content.zip", big, "application/zip")},
    )
    assert response.status_code == 413
    assert "There is a problem" in response.text
    assert "The file you chose is too big: it must be smaller than 2 MB" in response.text
    assert 'href="/content"' in response.text
    web.cookies.clear()
    signed_out = await web.post(
        "/content", files={"upload": ("content.zip", big, "application/zip")}
    )
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/signin"


async def test_the_session_cookie_is_secure_when_served_over_https(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    path = await link_from_bot(bot, admin)
    async with console_client(bot, "https://console.test") as web:
        page = await web.get(path)
        signed = await web.post(path, data={"csrf_token": csrf_of(page)})
    cookie = signed.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


async def test_every_form_carries_its_csrf_token_and_every_post_refuses_one_without(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)
    page = await web.get("/links")
    await web.post("/links", data={"clinic": "Broomfield", "csrf_token": csrf_of(page)})
    draft = await web.post(
        "/broadcasts",
        data={
            "text": "Hello",
            "purpose": "service",
            "kind": "everyone",
            "csrf_token": csrf_of(page),
        },
    )
    pages = ["/", "/reports", "/links", "/moderation", "/staff", "/broadcasts", "/content"]
    forms = 0
    for path in [*pages, draft.headers["location"]]:
        html = (await web.get(path)).text
        for form in re.findall(r'<form method="post".*?</form>', html, re.DOTALL):
            forms += 1
            assert 'name="csrf_token"' in form, (path, form[:120])
    assert forms >= 10
    assert bot.app.bot_data.settings is not None
    routes = create_app(bot.app.bot_data.settings).routes
    posts = [r.path for r in routes if isinstance(r, Route) and "POST" in (r.methods or ())]
    assert "/try/press" in posts and "/broadcasts/preview" in posts
    for path in posts:
        concrete = re.sub(r"\{[a-z_]+:int\}", "1", re.sub(r"\{token:str\}", "x" * 43, path))
        refused = await web.post(concrete, data={"text": "Hello"})
        assert refused.status_code == 403, (path, refused.status_code)
