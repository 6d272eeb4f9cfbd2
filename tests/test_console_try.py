"""Try it: a resident's side of the bot in the console, on the sandbox bot's own database."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.console.app import create_app
from bot.sandbox.fake_api import FakeTelegram
from bot.sandbox.web_chat import WebSandbox, entities_html
from models import Resident, StaffRole
from tests.console_support import csrf_of, sign_in, staff_member
from tests.harness import BotHarness

BUTTON = re.compile(
    r'name="message_id" value="(\d+)">\s*<input type="hidden" name="index" value="(\d+)">\s*'
    r'<button type="submit" class="chat__button">([^<]+)</button>'
)


@pytest.fixture
async def web(bot: BotHarness, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The console, with its Try it sandbox on a database of its own in tmp_path."""
    settings = bot.app.bot_data.settings
    assert settings is not None and bot.app.bot_data.engine is not None
    sandbox = WebSandbox(
        settings, clock=bot.clock, database_url=f"sqlite+aiosqlite:///{tmp_path}/sandbox.sqlite3"
    )
    app = create_app(
        settings,
        engine=bot.app.bot_data.engine,
        clock=bot.clock,
        gazetteer=bot.app.bot_data.gazetteer,
        sandbox=sandbox,
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
            yield client
    finally:
        await sandbox.stop()
        sandbox.fake.assert_no_violations()


def buttons(page: str) -> dict[str, tuple[str, str]]:
    """The chat's inline buttons: text → (message id, index)."""
    return {text.strip(): (mid, index) for mid, index, text in BUTTON.findall(page)}


async def test_staff_sign_up_as_a_pretend_resident_in_the_browser(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    midwife = await staff_member(bot, fake, StaffRole.MIDWIFE)
    await sign_in(bot, web, midwife)
    page = await web.get("/try")
    assert page.status_code == 200 and "Send <strong>/start</strong> to begin" in page.text
    assert '<a href="/try" aria-current="page">Try it</a>' in page.text

    sent = await web.post("/try/send", data={"text": "/start", "csrf_token": csrf_of(page)})
    assert sent.status_code == 303 and sent.headers["location"] == "/try#chat-text"
    page = await web.get("/try")
    assert "You said" in page.text and "/start" in page.text
    offered = buttons(page.text)
    assert "Yes, I agree" in offered, offered

    message_id, index = offered["Yes, I agree"]
    pressed = await web.post(
        "/try/press",
        data={"message_id": message_id, "index": index, "csrf_token": csrf_of(page)},
        headers={"x-requested-with": "fetch"},
    )
    # For try.js: the chat alone, to swap in place.
    assert pressed.status_code == 200 and "<html" not in pressed.text
    assert "You pressed “Yes, I agree”" in pressed.text
    assert len(buttons(pressed.text)) > len(offered) - 5
    # Nothing reached the real bot or its database.
    assert fake.messages(midwife)[-1].text is not None
    async with bot.session() as session:
        assert await session.scalar(select(func.count(Resident.id))) == 0


async def test_each_member_of_staff_has_her_own_pretend_resident(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    first = await staff_member(bot, fake, StaffRole.MODERATOR)
    await sign_in(bot, web, first)
    page = await web.get("/try")
    await web.post("/try/send", data={"text": "/start", "csrf_token": csrf_of(page)})
    web.cookies.clear()
    second = await staff_member(bot, fake, StaffRole.BROADCASTER)
    await sign_in(bot, web, second)
    assert "Nothing yet" in (await web.get("/try")).text


async def test_made_up_buttons_and_forms_without_their_token_do_nothing(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)
    page = await web.get("/try")
    csrf = csrf_of(page)
    for made_up in ({"message_id": "99999", "index": "0"}, {"message_id": "x", "index": "-"}):
        pressed = await web.post("/try/press", data={**made_up, "csrf_token": csrf})
        assert pressed.status_code == 303
    assert (await web.post("/try/send", data={"text": "/start"})).status_code == 403
    assert "Nothing yet" in (await web.get("/try")).text
    assert (await web.get("/try/file/1")).status_code == 404


async def test_starting_again_gives_a_new_pretend_resident(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)
    page = await web.get("/try")
    await web.post("/try/send", data={"text": "/start", "csrf_token": csrf_of(page)})
    restarted = await web.post("/try/restart", data={"csrf_token": csrf_of(page)})
    assert restarted.status_code == 303
    assert "Nothing yet" in (await web.get("/try")).text


def test_the_bot_s_formatting_becomes_html_and_everything_else_is_escaped() -> None:
    text = "👶 Bold <b> and a link & more"
    entities = [
        {"type": "bold", "offset": 3, "length": 4},
        {"type": "text_link", "offset": 18, "length": 4, "url": "https://example.org/?a=1&b=2"},
        {"type": "text_link", "offset": 23, "length": 1, "url": "javascript:alert(1)"},
    ]
    assert entities_html(text, entities) == (
        "👶 <strong>Bold</strong> &lt;b&gt; and a "
        '<a href="https://example.org/?a=1&amp;b=2" rel="noopener noreferrer" target="_blank">'
        "link</a> &amp; more"
    )
