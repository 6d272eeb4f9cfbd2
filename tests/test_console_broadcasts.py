"""Composing a broadcast in the console: the live preview, every audience the bot has, the count."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from bot.sandbox.fake_api import FakeTelegram
from models import Broadcast, Resident, StaffRole
from tests.console_support import console_client, csrf_of, sign_in, staff_member
from tests.factories import onboard
from tests.harness import BotHarness


@pytest.fixture
async def web(bot: BotHarness) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client on the console, sharing the bot's database and clock."""
    async with console_client(bot) as client:
        yield client


async def signed_in_broadcaster(bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient) -> str:
    """Sign a broadcaster in; her compose form's CSRF token."""
    broadcaster = await staff_member(bot, fake, StaffRole.BROADCASTER)
    await sign_in(bot, web, broadcaster)
    return csrf_of(await web.get("/broadcasts"))


async def three_residents(bot: BotHarness, fake: FakeTelegram) -> None:
    """Amy and Beth said yes to local information, Cara no; all due on 14 March 2027."""
    for name, local_info in (("Amy", True), ("Beth", True), ("Cara", False)):
        await onboard(bot, fake.new_user(name), optional=(False, local_info, False))


async def test_the_live_preview_is_the_message_residents_get_with_its_exact_count(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    await three_residents(bot, fake)
    csrf = await signed_in_broadcaster(bot, fake, web)
    form = {"text": "Baby <b>massage</b>, Tuesday", "kind": "everyone", "csrf_token": csrf}

    local = await web.post("/broadcasts/preview", data={**form, "purpose": "local_info"})
    service = await web.post("/broadcasts/preview", data={**form, "purpose": "service"})

    assert local.status_code == 200
    # The bot's own heading and consent line, and what she typed as text, not markup.
    assert "<b>From Essex County Council, via Bump Buddies</b>" in local.text
    assert "Baby &lt;b&gt;massage&lt;/b&gt;, Tuesday" in local.text
    assert "you said yes to local information" in local.text
    assert "<strong>2 residents</strong> would get it now: Everyone signed up." in local.text
    assert "<strong>3 residents</strong>" in service.text
    async with bot.session() as session:
        assert list(await session.scalars(select(Broadcast))) == []


async def test_the_preview_says_what_is_wrong_as_she_types(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    csrf = await signed_in_broadcaster(bot, fake, web)
    insecure = await web.post(
        "/broadcasts/preview",
        data={"text": "See http://example.org", "purpose": "service", "csrf_token": csrf},
    )
    unfinished = await web.post(
        "/broadcasts/preview",
        data={"text": "Hello", "purpose": "service", "kind": "districts", "csrf_token": csrf},
    )
    assert "Links must start with https://" in insecure.text
    assert "Choose at least one district" in unfinished.text
    assert "Finish choosing who it is for" in unfinished.text
    without_token = await web.post("/broadcasts/preview", data={"text": "Hello"})
    assert without_token.status_code == 403


@pytest.mark.parametrize(
    ("fields", "audience", "count"),
    [
        ({"kind": "everyone"}, {"kind": "everyone"}, 3),
        ({"kind": "districts", "districts": "E07000070"}, {"kind": "districts"}, 3),
        ({"kind": "districts", "districts": "E06000033"}, {"kind": "districts"}, 0),
        (
            {"kind": "due_dates", "due_first": "2027-03-01", "due_last": "2027-03-31"},
            {"kind": "due_dates", "first": "2027-03-01", "last": "2027-03-31"},
            3,
        ),
        ({"kind": "trimester", "trimester": "2"}, {"kind": "trimester", "trimester": 2}, 3),
        ({"kind": "trimester", "trimester": "3"}, {"kind": "trimester", "trimester": 3}, 0),
        ({"kind": "postnatal"}, {"kind": "postnatal"}, 0),
    ],
)
async def test_every_audience_the_bot_offers_is_in_the_picker_with_its_count(
    bot: BotHarness,
    fake: FakeTelegram,
    web: httpx.AsyncClient,
    fields: dict[str, str],
    audience: dict[str, object],
    count: int,
) -> None:
    await three_residents(bot, fake)
    csrf = await signed_in_broadcaster(bot, fake, web)
    form = {"text": "Hello", "purpose": "service", "csrf_token": csrf, **fields}

    preview = await web.post("/broadcasts/preview", data=form)
    made = await web.post("/broadcasts", data=form)

    noun = "resident" if count == 1 else "residents"
    assert f"<strong>{count} {noun}</strong>" in preview.text
    assert made.status_code == 303, made.text
    async with bot.session() as session:
        draft = await session.scalar(select(Broadcast))
    assert draft is not None
    assert {k: v for k, v in draft.audience.items() if k != "codes"} == audience
    page = await web.get(made.headers["location"])
    assert f"{count} residents" in page.text


async def test_a_ward_audience_and_a_link_button_as_in_the_bot(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    await three_residents(bot, fake)
    async with bot.session() as session:
        ward = await session.scalar(select(Resident.ward_code).limit(1))
    assert ward is not None
    csrf = await signed_in_broadcaster(bot, fake, web)
    page = await web.get("/broadcasts")
    assert f'value="{ward}"' in page.text
    form = {
        "text": "Drop-in at the library",
        "purpose": "local_info",
        "kind": "wards",
        "wards": ward,
        "button_text": "Find out more",
        "button_url": "https://example.org/drop-in",
        "csrf_token": csrf,
    }
    preview = await web.post("/broadcasts/preview", data=form)
    assert "<strong>2 residents</strong>" in preview.text and "Find out more" in preview.text
    made = await web.post("/broadcasts", data=form)
    async with bot.session() as session:
        draft = await session.scalar(select(Broadcast))
    assert draft is not None and draft.audience == {"kind": "wards", "codes": [ward]}
    assert (draft.button_text, draft.button_url) == ("Find out more", "https://example.org/drop-in")
    shown = await web.get(made.headers["location"])
    assert "Find out more" in shown.text
    plain = await web.post("/broadcasts", data={**form, "button_url": "http://example.org/drop-in"})
    assert plain.status_code == 400 and "must start with https://" in plain.text


async def test_the_compose_page_loads_its_live_preview_script_and_no_inline_script(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    await signed_in_broadcaster(bot, fake, web)
    page = await web.get("/broadcasts")
    assert '<script src="/static/compose.js"></script>' in page.text
    assert "<script>" not in page.text and " on" + "input=" not in page.text
    script = await web.get("/static/compose.js")
    assert script.status_code == 200 and "/broadcasts/preview" not in script.text
    assert 'data-url="/broadcasts/preview"' in page.text


async def test_a_translation_per_offered_language_can_be_added_when_composing(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> None:
    async with (
        BotHarness.start(
            fake, database_url, clock, languages="pl,ur", allow_unreviewed_languages=True
        ) as bot,
        console_client(bot) as web,
    ):
        csrf = await signed_in_broadcaster(bot, fake, web)
        page = await web.get("/broadcasts")
        form = {
            "text": "Baby massage, Tuesday",
            "purpose": "service",
            "kind": "everyone",
            "translation_pl": "Masaż niemowląt, wtorek",
            "translation_ur": "",
            "csrf_token": csrf,
        }
        insecure = await web.post(
            "/broadcasts", data={**form, "translation_pl": "Zobacz http://example.org"}
        )
        made = await web.post("/broadcasts", data=form)
        async with bot.session() as session:
            draft = await session.scalar(select(Broadcast))
        shown = await web.get(made.headers["location"])

    assert 'name="translation_pl"' in page.text and 'name="translation_ur"' in page.text
    assert 'lang="ur" dir="auto"' in page.text
    assert insecure.status_code == 400 and "Links must start with https://" in insecure.text
    assert made.status_code == 303, made.text
    assert draft is not None and draft.translations == {"pl": "Masaż niemowląt, wtorek"}
    assert "Translations: pl" in shown.text


async def test_with_english_only_the_compose_page_offers_no_translations(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    await signed_in_broadcaster(bot, fake, web)

    assert "translation_" not in (await web.get("/broadcasts")).text
