"""/privacy, /mydata and /forget: her choices and her rights over her data."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, inspect, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.sandbox.fake_api import FakeTelegram
from bot.services.staff import join_links
from models import ConsentEvent, ConsentPurpose, Resident, ResidentStatus
from tests.factories import CHELMSFORD_POSTCODE, give_consents, new_resident_user, onboard
from tests.harness import BotHarness


async def _events(bot: BotHarness) -> list[ConsentEvent]:
    async with bot.session() as session:
        return list(await session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))


async def test_privacy_shows_the_notice_attribution_and_her_current_choices(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, optional=(True, False, True))

    notice, choices = await bot.send(user, "/privacy")
    assert "Essex County Council" in notice.plain_text
    assert "Contains OS data" in notice.plain_text or "OS data ©" in notice.plain_text
    assert "Open Government Licence" in notice.plain_text
    assert "Meeting other mums: yes" in choices.plain_text
    assert "Local information: no" in choices.plain_text
    assert choices.button_texts() == [
        "Turn off: meeting other mums",
        "Turn on: local information",
        "Turn off: feedback questions",
    ]


async def test_withdrawing_a_consent_takes_effect_at_once_and_is_appended(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/privacy")
    before = await _events(bot)

    await bot.press(user, "Turn off: meeting other mums")

    after = await _events(bot)
    assert [e.id for e in after[: len(before)]] == [e.id for e in before]
    [withdrawal] = after[len(before) :]
    assert (withdrawal.purpose, withdrawal.granted) == (ConsentPurpose.MATCHING, False)
    assert withdrawal.method == "button:pv:matching:off"
    assert "Meeting other mums: no" in bot.last(user).plain_text
    assert "Turn on: meeting other mums" in bot.last(user).button_texts()


async def test_a_replayed_privacy_button_records_nothing_new(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    _, choices = await bot.send(user, "/privacy")
    await bot.forge(user, choices, "pv:matching:off")
    count = len(await _events(bot))

    await bot.forge(user, choices, "pv:matching:off")

    assert len(await _events(bot)) == count
    # The message now offers "Turn on": the replayed "Turn off" is from its earlier keyboard.
    assert (
        bot.last_answer() == "That button is from an earlier message – please use the latest one."
    )


@pytest.mark.parametrize("data", ["pv:health_data:off", "pv:matching:maybe", "pv:x:on"])
async def test_forged_privacy_buttons_do_nothing_and_say_so(
    bot: BotHarness, fake: FakeTelegram, data: str
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    _, choices = await bot.send(user, "/privacy")
    count = len(await _events(bot))

    await bot.forge(user, choices, data)

    assert len(await _events(bot)) == count
    assert bot.last_answer() is not None


async def test_consent_events_cannot_be_updated_or_deleted(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    await onboard(bot, new_resident_user(fake))

    for statement in (update(ConsentEvent).values(granted=False), delete(ConsentEvent)):
        async with bot.session() as session:
            # A trigger refuses (SQLite, or the owner); the bot's PostgreSQL role lacks the right.
            with pytest.raises(DBAPIError, match=r"append-only|permission denied"):
                async with session.begin():
                    await session.execute(statement)


async def test_mydata_sends_a_json_document_with_her_profile_and_consent_history(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    async with bot.session() as session, session.begin():
        link = await join_links.create_join_link(session, "Broomfield", None, bot.clock.now())
    user = new_resident_user(fake, "Amira")
    await onboard(bot, user, start=f"/start {link.code}")

    *_, sent = await bot.send(user, "/mydata")

    assert sent.document is not None
    filename, content = sent.document
    assert filename.endswith(".json")
    data = json.loads(content)
    assert data["profile"]["display_name"] == "Amira"
    assert data["profile"]["due_date"] == "2027-03-14"
    assert data["profile"]["ward_name"] == "Moulsham and Central"
    assert data["profile"]["signup_source"] == link.code
    assert [c["purpose"] for c in data["consent_history"]] == [
        "health_data",
        "matching",
        "local_info",
        "feedback",
    ]


async def test_mydata_without_a_record_says_we_hold_nothing(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    [sent] = await bot.send(new_resident_user(fake), "/mydata")
    assert "don't hold any information" in sent.plain_text


async def _all_rows_as_text(connection: AsyncConnection) -> str:
    tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    dump: list[str] = []
    for table in tables:
        rows = await connection.execute(text(f'SELECT * FROM "{table}"'))
        dump.extend(repr(tuple(row)) for row in rows)
    return "\n".join(dump)


async def test_forget_erases_her_personal_data_from_every_table(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake, "Zephyrine", username="zephy_mum", last_name="Quill")
    await onboard(bot, user, name="Zephy Q the Brave", start="/start clinic_9")
    await bot.send(user, "/privacy")
    await bot.press(user, "Turn off: feedback questions")
    history_before = len(await _events(bot))

    await bot.send(user, "/forget")
    sent = await bot.press(user, "Yes, delete everything")

    assert "your data has been deleted" in sent[-1].plain_text
    async with bot.app.bot_data.engine.connect() as connection:  # type: ignore[union-attr]
        everything = await _all_rows_as_text(connection)
    for trace in (
        str(user.id),
        "Zephyrine",
        "zephy_mum",
        "Quill",
        "Zephy Q",
        CHELMSFORD_POSTCODE,
        "CM1",
    ):
        assert trace not in everything
    # Her consent history is kept, pseudonymised, for accountability.
    assert len(await _events(bot)) == history_before


async def test_forget_then_start_begins_afresh(bot: BotHarness, fake: FakeTelegram) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/forget")
    await bot.press(user, "Yes, delete everything")

    sent = await bot.send(user, "/start")

    assert "welcome to Bump Buddies" in sent[0].plain_text
    await bot.press(user, "Yes, I agree")
    async with bot.session() as session:
        resident = await session.scalar(select(Resident))
    assert resident is not None and resident.status is ResidentStatus.ONBOARDING
    assert resident.due_date is None


async def test_forget_can_be_called_off(bot: BotHarness, fake: FakeTelegram) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/forget")

    sent = await bot.press(user, "No, keep my details")

    assert "Nothing has changed" in sent[-1].plain_text
    async with bot.session() as session:
        assert await session.scalar(select(Resident)) is not None


async def test_forget_midway_through_signup_then_typing_points_her_to_start(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)
    await bot.send(user, "/forget")
    await bot.press(user, "Yes, delete everything")

    sent = await bot.send(user, "14/03/2027")

    assert "Send /start" in sent[-1].plain_text
    async with bot.session() as session:
        assert await session.scalar(select(Resident)) is None
