"""Everything queued is worded when it is sent, in the language she has then (issue 13).

A row keeps the English it was queued with and a template; the engine words it again at send time
with her current language, so changing her language after queueing applies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.clock import FixedClock
from bot.delivery import queue, render
from bot.delivery.engine import DeliveryEngine
from bot.delivery.queue import Claimed, NewDelivery
from bot.delivery.sender import BulkSender
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.sandbox.fake_transport import FakeTransport
from bot.services.local_info.content import store_content
from bot.services.local_info.content_files import read_content
from bot.services.places.geo import default_gazetteer
from bot.services.staff import broadcasts
from bot.texts import Catalogue, catalogue, load_catalogue
from models import Broadcast, BroadcastPurpose, BroadcastStatus, Delivery, Resident, StaffRole
from tests.content_support import Sessions, at_local, due_for_week, plan
from tests.factories import english_content, make_resident, make_staff, translate_content
from tests.harness import schema_checked, settings_for_test

MORNING = at_local(2026, 11, 30, 9, 30)
POLISH_WEEK_20 = """
    pregnancy:
      - week: 20
        title: "Jesteś w 20. tygodniu ciąży – półmetek!"
        text: "Mniej więcej teraz zwykle odbywa się USG połówkowe."
    """
# A stand-in Polish catalogue for the messages these tests word again (the drafts may change).
POLISH = Catalogue(
    "pl",
    {
        "life.overdue_question": "Czy Twoje dziecko już jest na świecie?",
        "life.born_button": "Dziecko już jest",
        "life.still_waiting_button": "Jeszcze czekam",
        "life.ended_button": "Ciąża się zakończyła",
        "retention.notice": "Usuniemy Twoje dane {date} (po {months} miesiącach).",
    },
)


@pytest.fixture
def clock() -> FixedClock:
    """The council's morning, when the daily plan runs."""
    return FixedClock(MORNING)


@pytest.fixture
def fake(clock: FixedClock) -> Iterator[FakeTelegram]:
    """The fake Bot API, checking every call (a stray `text_key` on a button fails it)."""
    yield from schema_checked(FakeTelegram(clock=lambda: clock.now().timestamp()))


@pytest.fixture
async def sender(fake: FakeTelegram) -> AsyncIterator[BulkSender]:
    """The engine's bulk sender on the in-process fake."""
    bulk = BulkSender(f"https://bot-api.invalid/bot{fake.token}", 4, transport=FakeTransport(fake))
    yield bulk
    await bulk.aclose()


@pytest.fixture
def polish_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages in Polish come from the stand-in catalogue."""

    real = render.texts_in

    def pick(language: str) -> Catalogue:
        return POLISH if language == "pl" else real(language)

    monkeypatch.setattr(render, "texts_in", pick)


def _engine(
    sessions: Sessions, sender: BulkSender, clock: FixedClock, fake: FakeTelegram
) -> DeliveryEngine:
    settings = settings_for_test(
        fake.token,
        "sqlite+aiosqlite://",
        languages="pl,ro",
        allow_unreviewed_languages=True,
        quiet_hours_start=0,
        quiet_hours_end=0,
    )
    return DeliveryEngine(sessions, sender, clock, settings, sleep=clock.sleep)


async def _mum(sessions: Sessions, fake: FakeTelegram, **fields: Any) -> tuple[Resident, FakeUser]:
    user = fake.new_user("Ania", started=True)
    async with sessions() as session, session.begin():
        resident = await make_resident(session, MORNING, telegram_user_id=user.id, **fields)
    return resident, user


async def _speaks(sessions: Sessions, resident: Resident, language: str) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Resident).where(Resident.id == resident.id).values(language_code=language)
        )


async def test_a_week_message_queued_in_english_goes_in_polish_after_she_changes_language(
    sessions: Sessions, sender: BulkSender, clock: FixedClock, fake: FakeTelegram, tmp_path: Path
) -> None:
    folder = english_content(tmp_path)
    translate_content(folder, "pl", {"weeks.yaml": POLISH_WEEK_20})
    async with sessions() as session, session.begin():
        content = read_content(folder, default_gazetteer())
        await store_content(session, content, default_gazetteer(), MORNING)
    mum, user = await _mum(sessions, fake, due_date=due_for_week(MORNING.date(), 20))
    await plan(sessions, MORNING)
    async with sessions() as session:
        row = await session.scalar(
            select(Delivery).where(Delivery.resident_id == mum.id, Delivery.kind == "week")
        )
    assert row is not None and "20 weeks" in row.text

    await _speaks(sessions, mum, "pl")
    await _engine(sessions, sender, clock, fake).run_until_idle()

    sent = [m.text or "" for m in fake.messages(user)]
    assert any("Jesteś w 20. tygodniu ciąży" in text for text in sent)
    assert not any("20 weeks" in text for text in sent)


async def test_an_untranslated_week_message_goes_in_english(
    sessions: Sessions, sender: BulkSender, clock: FixedClock, fake: FakeTelegram, tmp_path: Path
) -> None:
    folder = english_content(tmp_path)
    translate_content(folder, "pl", {"weeks.yaml": POLISH_WEEK_20})
    async with sessions() as session, session.begin():
        content = read_content(folder, default_gazetteer())
        await store_content(session, content, default_gazetteer(), MORNING)
    mum, user = await _mum(sessions, fake, due_date=due_for_week(MORNING.date(), 21))
    await _speaks(sessions, mum, "pl")
    await plan(sessions, MORNING)

    await _engine(sessions, sender, clock, fake).run_until_idle()

    sent = [m.text or "" for m in fake.messages(user)]
    assert any("21 weeks" in text for text in sent)


@pytest.mark.usefixtures("polish_catalogue")
async def test_a_check_in_and_its_buttons_are_worded_in_her_language_when_sent(
    sessions: Sessions, sender: BulkSender, clock: FixedClock, fake: FakeTelegram
) -> None:
    mum, user = await _mum(sessions, fake, due_date=MORNING.date() - dt.timedelta(days=15))
    await plan(sessions, MORNING)
    await _speaks(sessions, mum, "pl")

    await _engine(sessions, sender, clock, fake).run_until_idle()

    [sent] = fake.messages(user)
    assert sent.text == "Czy Twoje dziecko już jest na świecie?"
    assert sent.button_texts() == ["Dziecko już jest", "Jeszcze czekam", "Ciąża się zakończyła"]


@pytest.mark.usefixtures("polish_catalogue")
async def test_a_notice_with_a_date_is_worded_with_its_parameters_when_sent(
    sessions: Sessions, sender: BulkSender, clock: FixedClock, fake: FakeTelegram
) -> None:
    mum, user = await _mum(sessions, fake, language_code="pl")
    english = catalogue()("retention.notice", months=12, date="Sunday 14 March 2027")
    async with sessions() as session, session.begin():
        await queue.enqueue(
            session,
            [
                NewDelivery(
                    mum.id,
                    "retention:1",
                    "retention:1",
                    "notice",
                    english,
                    MORNING,
                    template=render.message_template("retention.notice"),
                    params=render.encode_params(months=12, date=dt.date(2027, 3, 14)),
                )
            ],
            MORNING,
        )

    await _engine(sessions, sender, clock, fake).run_until_idle()

    [sent] = fake.messages(user)
    # The date too is written in her language.
    day = POLISH.date(dt.date(2027, 3, 14))
    assert day != "Sunday 14 March 2027"
    assert sent.text == f"Usuniemy Twoje dane {day} (po 12 miesiącach)."


async def test_a_broadcast_reaches_her_in_polish_and_her_neighbour_in_english_without_one(
    sessions: Sessions, sender: BulkSender, clock: FixedClock, fake: FakeTelegram
) -> None:
    _, polish_user = await _mum(sessions, fake, language_code="pl")
    _, romanian_user = await _mum(sessions, fake, language_code="ro")
    async with sessions() as session, session.begin():
        staff = await make_staff(session, MORNING, StaffRole.ADMIN, 7_000_001)
        draft = await broadcasts.create_draft(
            session, staff, "Free baby clinic on Friday", MORNING, paid=False
        )
        broadcasts.revise(
            draft,
            MORNING,
            purpose=BroadcastPurpose.SERVICE,
            translations=broadcasts.with_translation(draft, "pl", "Bezpłatna przychodnia w piątek"),
        )
        draft.status = BroadcastStatus.SCHEDULED
        draft.send_at = MORNING
        released = await broadcasts.release_due(
            session, MORNING, MORNING.date(), texts=catalogue(), council="Essex County Council"
        )
    assert [b.id for b in released] == [draft.id]

    await _engine(sessions, sender, clock, fake).run_until_idle()

    [to_polish] = fake.messages(polish_user)
    [to_romanian] = fake.messages(romanian_user)
    assert to_polish.text is not None and to_romanian.text is not None
    assert "Bezpłatna przychodnia w piątek" in to_polish.text
    assert "Free baby clinic" not in to_polish.text
    assert "Free baby clinic on Friday" in to_romanian.text
    async with sessions() as session:
        stored = await session.get(Broadcast, draft.id)
    assert stored is not None and stored.translations == {"pl": "Bezpłatna przychodnia w piątek"}


def test_a_translation_is_read_only_for_an_offered_language_other_than_english() -> None:
    offered = ("en", "pl", "ur")

    assert broadcasts.translation_of("pl: Dzień dobry", offered) == ("pl", "Dzień dobry")
    assert broadcasts.translation_of("UR:  سلام ", offered) == ("ur", "سلام")
    assert broadcasts.translation_of("ro: Bună ziua", offered) is None
    assert broadcasts.translation_of("en: Hello", offered) is None
    assert broadcasts.translation_of("Dzień dobry", offered) is None


async def test_an_introduction_is_worded_in_her_language_with_its_contact_and_icebreaker(
    sessions: Sessions,
) -> None:
    params = {
        "name": "Beth",
        "contact": render.nested(
            "match.contact_username",
            link=render.nested("match.contact_link", user_id=42, name="Beth"),
            username="beth_b",
        ),
        "icebreaker": render.nested("match.icebreaker_1"),
    }
    english = render.worded(catalogue(), "match.introduced", params)
    row = Claimed(
        1,
        42,
        english,
        None,
        False,
        1,
        template=render.message_template("match.introduced"),
        params=params,
    )

    async with sessions() as session:
        [polish] = await render.render(session, [row], {1: "pl"})
        [same] = await render.render(session, [row], {1: "en"})

    assert polish.text == render.worded(load_catalogue("pl"), "match.introduced", params)
    assert polish.text != english and "@beth_b" in polish.text and "tg://user?id=42" in polish.text
    assert same.text == english


async def test_a_request_card_is_worded_with_her_languages_month_and_buttons(
    sessions: Sessions,
) -> None:
    params = {"name": "Amy", "area": "Moulsham and Central, Chelmsford"}
    params["month"] = render.month(dt.date(2027, 3, 14))  # type: ignore[assignment]
    buttons = [[render.button("match.request_yes", callback_data="mt:yes:1")]]
    english = render.worded(catalogue(), "match.request", params)
    row = Claimed(
        1,
        42,
        english,
        buttons,
        False,
        1,
        template=render.message_template("match.request"),
        params=params,
    )

    async with sessions() as session:
        [polish] = await render.render(session, [row], {1: "pl"})

    texts = load_catalogue("pl")
    assert "March 2027" in english
    assert texts.month(dt.date(2027, 3, 14)) in polish.text
    assert polish.buttons == [[{"text": texts("match.request_yes"), "callback_data": "mt:yes:1"}]]
