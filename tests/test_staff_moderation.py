"""/moderation: reports about matches, warnings and suspensions, each logged and hers to see."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from bot.services.staff.moderation import (
    NOTICE_GAP,
    is_suspended_from_matching,
    not_suspended_from_matching,
)
from models import AuditEvent, MatchReport, ModerationDecision, Resident, StaffRole
from tests.factories import make_resident, make_staff
from tests.harness import BotHarness


async def moderator(bot: BotHarness, fake: FakeTelegram) -> FakeUser:
    user = fake.new_user("Mo", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), StaffRole.MODERATOR, user.id)
    return user


async def reported_pair(
    bot: BotHarness, fake: FakeTelegram, reason: str | None = "Rude <b>messages</b>"
) -> tuple[FakeUser, int, int]:
    """A report by one resident about another; returns the reported user and both ids."""
    reported = fake.new_user("Rhea", started=True)
    async with bot.session() as session, session.begin():
        reporter = await make_resident(session, bot.clock.now(), display_name="Pat")
        her = await make_resident(
            session, bot.clock.now(), telegram_user_id=reported.id, display_name="Rhea R"
        )
        report = MatchReport(
            reporter_id=reporter.id,
            reported_id=her.id,
            reason=reason,
            created_at=bot.clock.now(),
        )
        session.add(report)
        await session.flush()
        return reported, her.id, report.id


async def notices_after_the_wait(
    bot: BotHarness, fake: FakeTelegram, reported: FakeUser
) -> list[SentMessage]:
    """What reaches her once the notice's wait is over (sent in the daytime, by the engine)."""
    bot.clock.advance(NOTICE_GAP + dt.timedelta(hours=1))
    engine = bot.app.bot_data.delivery
    assert engine is not None
    await engine.run_until_idle()
    return fake.messages(reported.id)


async def test_a_moderator_sees_open_reports_with_their_reason_escaped(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    mo = await moderator(bot, fake)
    await reported_pair(bot, fake)

    sent = await bot.send(mo, "/moderation")

    assert "About: Rhea R" in sent[0].plain_text
    assert "Reason given: Rude <b>messages</b>" in sent[0].plain_text  # shown as typed, not HTML
    assert sent[0].button_texts() == ["Warn", "Suspend from matching", "No action"]
    async with bot.session() as session:
        assert "moderation.list" in set(await session.scalars(select(AuditEvent.action)))


async def test_a_warning_reaches_her_kindly_and_is_logged(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    mo = await moderator(bot, fake)
    reported, her_id, report_id = await reported_pair(bot, fake)
    await bot.send(mo, "/moderation")

    await bot.press(mo, "Warn")

    notice = (await notices_after_the_wait(bot, fake, reported))[-1].plain_text
    assert "friendly, respectful support" in notice
    assert "bumpbuddies@essex.gov.uk" in notice
    async with bot.session() as session:
        decision = await session.scalar(select(ModerationDecision))
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "moderation.warn")
        )
    assert decision is not None and (decision.resident_id, decision.report_id) == (
        her_id,
        report_id,
    )
    assert (
        event is not None and event.outcome == "ok" and f"report:{report_id}" in str(event.target)
    )
    assert "There are no reports waiting" in (await bot.send(mo, "/moderation"))[0].plain_text


async def test_a_suspension_keeps_her_out_of_matching(bot: BotHarness, fake: FakeTelegram) -> None:
    mo = await moderator(bot, fake)
    reported, her_id, _ = await reported_pair(bot, fake)
    await bot.send(mo, "/moderation")

    await bot.press(mo, "Suspend from matching")

    notices = await notices_after_the_wait(bot, fake, reported)
    assert "paused introductions" in notices[-1].plain_text
    async with bot.session() as session:
        assert await is_suspended_from_matching(session, her_id)
        allowed = set(
            await session.scalars(
                select(Resident.display_name).where(not_suspended_from_matching())
            )
        )
    assert allowed == {"Pat"}


async def test_a_report_is_decided_once_even_if_two_moderators_press(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    mo = await moderator(bot, fake)
    await reported_pair(bot, fake)
    card = (await bot.send(mo, "/moderation"))[0]
    data = card.callback_data()

    await bot.press(mo, "No action", message=card)
    await bot.forge(mo, card, data[0])  # a second press of "Warn" on the same report

    assert bot.last_answer() == "Someone has already dealt with that report."
    async with bot.session() as session:
        assert len(list(await session.scalars(select(ModerationDecision)))) == 1


async def test_moderation_buttons_do_nothing_for_anyone_else(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    midwife = fake.new_user("Nadia", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), StaffRole.MIDWIFE, midwife.id)
    _, _, report_id = await reported_pair(bot, fake)
    stats = await bot.send(midwife, "/mystats")

    await bot.forge(midwife, stats[0], f"md:{report_id}:suspend")

    assert bot.last_answer() == "That button has expired. Send /start to carry on."
    async with bot.session() as session:
        assert await session.scalar(select(ModerationDecision)) is None


async def test_decisions_about_her_are_in_her_data_and_erased_with_it(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    mo = await moderator(bot, fake)
    reported, _, _ = await reported_pair(bot, fake)
    await bot.send(mo, "/moderation")
    await bot.press(mo, "Warn")

    export = (await bot.send(reported, "/mydata"))[-1]
    assert export.document is not None
    document = json.loads(export.document[1])
    assert [d["decision"] for d in document["moderation"]] == ["warn"]

    await bot.send(reported, "/forget")
    await bot.press(reported, "Yes, delete everything")
    async with bot.session() as session:
        assert await session.scalar(select(ModerationDecision)) is None


@pytest.mark.parametrize("decision", ["Warn", "Suspend from matching"])
async def test_a_notice_does_not_point_at_who_reported_her_by_words_or_timing(
    bot: BotHarness, fake: FakeTelegram, decision: str
) -> None:
    mo = await moderator(bot, fake)
    reported, _, _ = await reported_pair(bot, fake)
    await bot.send(mo, "/moderation")

    told_mo = await bot.press(mo, decision)
    straight_away = list(fake.messages(reported.id))
    engine = bot.app.bot_data.delivery
    assert engine is not None
    bot.clock.advance(NOTICE_GAP - dt.timedelta(hours=1))
    await engine.run_until_idle()
    still_nothing = list(fake.messages(reported.id))
    notice = (await notices_after_the_wait(bot, fake, reported))[-1].plain_text

    assert straight_away == [] and still_nothing == []
    assert "no sooner than three days after the report" in told_mo[-1].plain_text
    for telling in ("introduced", "someone", "Pat", "report"):
        assert telling.lower() not in notice.lower()
    assert "friendly, respectful support" in notice


async def test_a_notice_waits_for_daytime(bot: BotHarness, fake: FakeTelegram) -> None:
    mo = await moderator(bot, fake)
    # Reported at 10:00; the gap ends in the evening, in quiet hours.
    reported, _, _ = await reported_pair(bot, fake)
    bot.clock.advance(dt.timedelta(hours=12))
    await bot.send(mo, "/moderation")
    await bot.press(mo, "Warn")
    engine = bot.app.bot_data.delivery
    assert engine is not None

    bot.clock.advance(NOTICE_GAP)
    await engine.run_until_idle()
    at_night = list(fake.messages(reported.id))
    bot.clock.advance(dt.timedelta(hours=11))
    await engine.run_until_idle()

    assert at_night == []
    assert "friendly, respectful support" in fake.messages(reported.id)[-1].plain_text
