"""What the console's tests share: a browser-like client on the console, and signing in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from bot.console.app import create_app
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from models import StaffRole
from tests.factories import make_staff
from tests.harness import BotHarness

LINK = re.compile(r"http://127\.0\.0\.1:8080(/signin/link/[A-Za-z0-9_-]+)")
CODE = re.compile(r"/console ([A-Z0-9]{4}-[A-Z0-9]{4})")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@asynccontextmanager
async def console_client(
    bot: BotHarness, base_url: str = "http://console.test"
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client on the console, sharing the bot's database and clock."""
    engine = bot.app.bot_data.engine
    assert engine is not None and bot.app.bot_data.settings is not None
    app = create_app(
        bot.app.bot_data.settings,
        engine=engine,
        clock=bot.clock,
        gazetteer=bot.app.bot_data.gazetteer,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client


async def staff_member(bot: BotHarness, fake: FakeTelegram, role: StaffRole) -> FakeUser:
    user = fake.new_user(f"Staff {role.value}", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), role, user.id)
    return user


async def link_from_bot(bot: BotHarness, user: FakeUser) -> str:
    replies = await bot.send(user, "/console")
    match = LINK.search(replies[-1].text or "")
    assert match, replies[-1].text
    return match.group(1)


def csrf_of(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


async def sign_in(bot: BotHarness, web: httpx.AsyncClient, user: FakeUser) -> httpx.Response:
    path = await link_from_bot(bot, user)
    page = await web.get(path)
    assert page.status_code == 200
    return await web.post(path, data={"csrf_token": csrf_of(page)})
