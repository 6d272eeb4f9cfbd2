"""/broadcast end to end: preview, consent-respecting audiences, sending, scheduling, cancelling."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FixedClock
from bot.handlers.staff import broadcast as broadcast_handlers
from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from bot.services.places.geo import default_gazetteer
from bot.services.residents.consent import record_consent
from bot.services.staff import broadcasts
from models import (
    AuditEvent,
    Broadcast,
    BroadcastStatus,
    ConsentPurpose,
    Delivery,
    DeliveryStatus,
    Resident,
    ResidentStatus,
    StaffRole,
)
from tests.factories import consent_evidence, make_resident, make_staff, onboard
from tests.harness import BotHarness, settings_for_test

LONDON = ZoneInfo("Europe/London")


async def broadcaster(bot: BotHarness, fake: FakeTelegram, name: str = "Bea") -> FakeUser:
    user = fake.new_user(name, started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), StaffRole.BROADCASTER, user.id)
    # These tests watch a broadcast's progress, so the engine sends only when they say.
    bot.send_after_updates = False
    return user


async def residents(
    bot: BotHarness, fake: FakeTelegram, count: int, *, local_info: bool = True, **fields: Any
) -> list[FakeUser]:
    users = [fake.new_user(f"Mum {n}", started=True) for n in range(count)]
    async with bot.session() as session, session.begin():
        for user in users:
            resident = await make_resident(
                session, bot.clock.now(), telegram_user_id=user.id, **fields
            )
            if not local_info:
                await record_consent(
                    session,
                    resident.person_ref,
                    ConsentPurpose.LOCAL_INFO,
                    False,
                    consent_evidence(bot.clock.now()),
                )
    return users


async def compose(bot: BotHarness, user: FakeUser, text: str) -> list[SentMessage]:
    await bot.send(user, "/broadcast")
    return await bot.send(user, text)


def card(bot: BotHarness, user: FakeUser) -> SentMessage:
    return bot.last_with_buttons(user)


def received(fake: FakeTelegram, users: list[FakeUser]) -> list[int]:
    return [len(fake.messages(user.id)) for user in users]


async def send_now(bot: BotHarness, user: FakeUser) -> None:
    await bot.press(user, "Send now")
    await bot.press(user, "Yes, confirm")


async def test_the_preview_is_exactly_what_residents_receive(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    [mum] = await residents(bot, fake, 1)

    await compose(bot, sender, "Flu jabs for mums-to-be this Saturday <free> & friendly")
    await bot.press(sender, "Add or change link button")
    after_button = await bot.send(sender, "Book a jab | https://www.essex.gov.uk/flu")
    preview = after_button[1]
    await send_now(bot, sender)
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]

    [got] = fake.messages(mum.id)
    assert got.plain_text == preview.plain_text
    assert got.entities == preview.entities
    assert "Flu jabs for mums-to-be this Saturday <free> & friendly" in got.plain_text
    assert got.reply_markup == preview.reply_markup
    assert got.buttons() == [[{"text": "Book a jab", "url": "https://www.essex.gov.uk/flu"}]]


async def test_local_information_reaches_only_those_who_said_yes_to_it(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    yes = await residents(bot, fake, 2)
    no = await residents(bot, fake, 2, local_info=False)
    unfinished = await residents(bot, fake, 1, status=ResidentStatus.ONBOARDING)
    gone = await residents(bot, fake, 1, unreachable_since=bot.clock.now())

    sent = await compose(bot, sender, "Baby group at Chelmsford library")

    assert "would reach 2 residents" in sent[-1].plain_text
    assert "local information" in sent[-1].plain_text
    await send_now(bot, sender)
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]
    assert received(fake, yes) == [1, 1]
    assert received(fake, no + unfinished + gone) == [0, 0, 0, 0]


async def test_a_service_announcement_reaches_everyone_signed_up(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    everyone = await residents(bot, fake, 2) + await residents(bot, fake, 2, local_info=False)

    await compose(bot, sender, "We've updated our privacy notice.")
    await bot.press(sender, "Make it a service announcement")

    assert "would reach 4 residents" in card(bot, sender).plain_text
    await send_now(bot, sender)
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]
    assert received(fake, everyone) == [1, 1, 1, 1]


async def test_choosing_districts_updates_the_exact_count(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    await residents(bot, fake, 2)  # Chelmsford
    harlow = await residents(bot, fake, 3, district_code="E07000073", ward_code="E05015790")

    await compose(bot, sender, "Harlow antenatal classes")
    await bot.press(sender, "Districts…")
    await bot.press(sender, "Harlow")
    done = card(bot, sender)
    assert "✓ Harlow" in done.button_texts()
    await bot.press(sender, "Done")

    assert "districts: Harlow" in card(bot, sender).plain_text
    assert "would reach 3 residents" in card(bot, sender).plain_text
    await send_now(bot, sender)
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]
    assert received(fake, harlow) == [1, 1, 1]


async def test_progress_is_one_edited_message_ending_in_a_final_report(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    mums = await residents(bot, fake, 5)
    fake.block_bot(mums[0])

    await compose(bot, sender, "Parking at Broomfield is free this week")
    await send_now(bot, sender)
    progress = fake.messages(sender.id)[-1]
    assert "on its way to 5 residents" in progress.plain_text
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]

    assert progress.edits >= 2
    text = progress.plain_text
    assert "finished" in text and "sent: 4" in text and "not reachable" in text
    assert "not reachable (blocked the bot or left Telegram): 1" in text
    async with bot.session() as session:
        status = await session.scalar(select(Broadcast.status))
    assert status is BroadcastStatus.DONE


async def test_stopping_mid_send_cancels_everything_not_yet_sent(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> None:
    # One send in flight at a time, so exactly one can be on its way when she presses stop.
    async with BotHarness.start(fake, database_url, clock, delivery_max_in_flight=1) as bot:
        sender = await broadcaster(bot, fake)
        mums = await residents(bot, fake, 80)
        await compose(bot, sender, "Road closure near the birth centre")
        await send_now(bot, sender)
        progress = fake.messages(sender.id)[-1]
        real_call = fake.call
        delivered = 0
        stopped = asyncio.Event()

        async def press_stop() -> None:
            await bot.press(sender, "Stop sending", message=progress)
            stopped.set()

        async def call(method: str, params: Any, files: Any = None) -> dict[str, Any]:
            nonlocal delivered
            if method == "sendMessage" and params.get("chat_id") != sender.id:
                if delivered == 20:
                    # She presses stop now; this send was already on its way to Telegram.
                    asyncio.get_running_loop().create_task(press_stop())
                    await stopped.wait()
                delivered += 1
            return await real_call(method, params, files)

        fake.call = call  # type: ignore[method-assign]
        await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]

        assert sum(received(fake, mums)) == 21
        assert "stopped" in progress.plain_text
        async with bot.session() as session:
            statuses = list(await session.scalars(select(Delivery.status)))
            status = await session.scalar(select(Broadcast.status))
        assert statuses.count(DeliveryStatus.CANCELLED) == 59
        assert status is BroadcastStatus.CANCELLED


async def test_a_scheduled_broadcast_survives_a_restart_and_goes_at_its_time(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> None:
    async with BotHarness.start(fake, database_url, clock) as first:
        sender = await broadcaster(first, fake)
        mums = await residents(first, fake, 3)
        await compose(first, sender, "Breastfeeding café opens today")
        await first.press(sender, "Send later…")
        await first.send(sender, "14:30")
        await first.press(sender, "Yes, confirm")
        assert "will go at 14:30 on Monday 30 November 2026" in first.last(sender).plain_text

    async with BotHarness.start(fake, database_url, clock) as second:
        await broadcast_handlers.release_and_watch(second.app)
        assert received(fake, mums) == [0, 0, 0]
        clock.set(dt.datetime(2026, 11, 30, 14, 30, tzinfo=LONDON))
        released = await broadcast_handlers.release_and_watch(second.app)
        await second.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]

    assert len(released) == 1
    assert received(fake, mums) == [1, 1, 1]
    assert "finished" in fake.messages(sender.id)[-1].plain_text


async def test_a_scheduled_broadcast_can_be_cancelled_before_it_goes(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    mums = await residents(bot, fake, 2)
    await compose(bot, sender, "Tomorrow's clinic is cancelled")
    await bot.press(sender, "Send later…")
    await bot.send(sender, "15:00")
    await bot.press(sender, "Yes, confirm")

    await bot.press(sender, "Cancel this broadcast")
    bot.clock.advance(dt.timedelta(hours=6))
    await broadcast_handlers.release_and_watch(bot.app)
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]

    assert received(fake, mums) == [0, 0]


async def test_times_in_quiet_hours_or_the_past_are_refused_when_scheduling(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    await residents(bot, fake, 1)
    await compose(bot, sender, "Evening yoga")
    await bot.press(sender, "Send later…")

    quiet = await bot.send(sender, "22:15")
    past = await bot.send(sender, "01/01/2020 10:00")
    nonsense = await bot.send(sender, "teatime")

    assert "never send between 9pm and 8am" in quiet[0].plain_text
    assert "already passed" in past[0].plain_text
    assert "couldn't read that" in nonsense[0].plain_text


async def test_sending_now_in_quiet_hours_waits_until_eight(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bot.clock.set(dt.datetime(2026, 11, 30, 21, 30, tzinfo=LONDON))
    sender = await broadcaster(bot, fake)
    mums = await residents(bot, fake, 2)
    await compose(bot, sender, "Snow: clinics open as usual")

    await bot.press(sender, "Send now")
    assert "it will start at 8am" in card(bot, sender).plain_text
    await bot.press(sender, "Yes, confirm")
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]
    assert received(fake, mums) == [0, 0]

    bot.clock.set(dt.datetime(2026, 12, 1, 8, 0, tzinfo=LONDON))
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]
    assert received(fake, mums) == [1, 1]


async def test_someone_elses_or_an_older_button_does_nothing(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    other = await broadcaster(bot, fake, "Oli")
    mums = await residents(bot, fake, 2)
    await compose(bot, sender, "Her draft")
    old_card = card(bot, sender)
    old_send_now = next(d for d in old_card.callback_data() if d.endswith(":now"))
    go = old_send_now.replace(":now", ":go:0")

    await bot.press(sender, "Postnatal")  # a change: the old card's buttons are now stale
    await bot.forge(sender, old_card, go)
    assert (
        bot.last_answer() == "That button is from an earlier message – please use the latest one."
    )
    other_card = (await compose(bot, other, "His draft"))[-1]
    current = next(d for d in card(bot, sender).callback_data() if d.endswith(":discard"))
    await bot.forge(other, other_card, current.replace(":discard", ":go:0"))
    assert (
        bot.last_answer() == "That button is from an earlier message – please use the latest one."
    )
    await bot.forge(sender, card(bot, sender), "bc:1:99999:go:0")
    await bot.forge(sender, card(bot, sender), "bc:x")
    assert bot.last_answer() == "Sorry, that button didn't work. Please use the latest message."

    resident = fake.new_user("Amira")
    await onboard(bot, resident)
    await bot.forge(resident, bot.last(resident), current.replace(":discard", ":go:0"))
    assert bot.last_answer() == "That button has expired. Send /start to carry on."

    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]
    assert received(fake, mums) == [0, 0]
    async with bot.session() as session:
        statuses = set(await session.scalars(select(Broadcast.status)))
    assert statuses == {BroadcastStatus.DRAFT}


async def test_a_replayed_confirm_sends_nothing_twice(bot: BotHarness, fake: FakeTelegram) -> None:
    sender = await broadcaster(bot, fake)
    mums = await residents(bot, fake, 2)
    await compose(bot, sender, "Once only")
    await bot.press(sender, "Send now")
    confirm = card(bot, sender)
    go = next(d for d in confirm.callback_data() if ":go:" in d)

    await bot.press(sender, "Yes, confirm")
    await bot.forge(sender, confirm, go)
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]

    assert received(fake, mums) == [1, 1]
    assert (
        bot.last_answer() == "That button is from an earlier message – please use the latest one."
    )


async def test_withdrawing_consent_before_a_scheduled_broadcast_goes_is_respected(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    mums = await residents(bot, fake, 2)
    await compose(bot, sender, "Weekend baby massage")
    await bot.press(sender, "Send later…")
    await bot.send(sender, "16:00")
    await bot.press(sender, "Yes, confirm")
    async with bot.session() as session, session.begin():
        changed = await session.scalar(
            select(Resident).where(Resident.telegram_user_id == mums[0].id)
        )
        assert changed is not None
        await record_consent(
            session,
            changed.person_ref,
            ConsentPurpose.LOCAL_INFO,
            False,
            consent_evidence(bot.clock.now()),
        )

    bot.clock.advance(dt.timedelta(hours=7))
    await broadcast_handlers.release_and_watch(bot.app)
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]

    assert received(fake, mums) == [0, 1]


async def test_due_dates_trimester_and_wards_can_be_chosen(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    today = bot.clock.now().date()
    early = await residents(bot, fake, 1, due_date=today + dt.timedelta(weeks=35))
    late = await residents(bot, fake, 2, due_date=today + dt.timedelta(weeks=4))
    await compose(bot, sender, "Third-trimester class")

    await bot.press(sender, "Trimester…")
    await bot.press(sender, "3rd trimester")
    assert "would reach 2 residents" in card(bot, sender).plain_text
    await bot.press(sender, "Due dates…")
    await bot.send(sender, f"{today + dt.timedelta(weeks=30):%d/%m/%Y} to 31/12/2030")
    assert "would reach 1 resident." in card(bot, sender).plain_text
    await bot.press(sender, "Wards…")
    await bot.press(sender, "Chelmsford")
    first_ward = card(bot, sender).button_texts()[0]
    await bot.press(sender, first_ward)
    assert card(bot, sender).button_texts()[0] == f"✓ {first_ward}"
    await bot.press(sender, "Done")
    assert f"wards: {first_ward}" in card(bot, sender).plain_text
    del early, late


async def test_every_broadcast_step_is_audited(bot: BotHarness, fake: FakeTelegram) -> None:
    from models import AuditEvent

    sender = await broadcaster(bot, fake)
    await residents(bot, fake, 1)
    await compose(bot, sender, "Audit me")
    await send_now(bot, sender)
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]

    async with bot.session() as session:
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[1:] == [
        "broadcast.draft",
        "broadcast.confirm",
        "broadcast.start",
        "broadcast.done",
    ]


async def test_local_information_says_who_sent_it_and_how_to_stop_it(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    [mum] = await residents(bot, fake, 1)

    sent = await compose(bot, sender, "Baby massage at Braintree library")
    preview = sent[1]
    await send_now(bot, sender)
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]

    [got] = fake.messages(mum.id)
    lines = got.plain_text.splitlines()
    assert lines[0] == "📣 From Essex County Council, via Bump Buddies"
    assert "Baby massage at Braintree library" in lines
    assert "said yes to local information" in lines[-1]
    assert "/privacy" in lines[-1] and "/forget" not in got.plain_text
    assert preview.plain_text == got.plain_text


async def test_a_service_announcement_says_it_goes_to_everyone_and_how_to_leave(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    [mum] = await residents(bot, fake, 1, local_info=False)

    await compose(bot, sender, "Our privacy notice has changed")
    previews = await bot.press(sender, "Make it a service announcement")
    await send_now(bot, sender)
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]

    [got] = fake.messages(mum.id)
    lines = got.plain_text.splitlines()
    assert lines[0] == "📣 From Essex County Council, via Bump Buddies"
    assert "service announcement" in lines[-1] and "everyone signed up" in lines[-1]
    assert "/forget" in lines[-1] and "/privacy" not in got.plain_text
    # Changing the kind changes the last line, so the preview is shown again, exactly.
    assert [m.plain_text for m in previews if "/forget" in m.plain_text] == [got.plain_text]


async def test_a_time_already_gone_today_asks_whether_she_meant_tomorrow(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bot.clock.set(dt.datetime(2026, 11, 30, 11, 0, tzinfo=LONDON))
    sender = await broadcaster(bot, fake)
    mums = await residents(bot, fake, 2)
    await compose(bot, sender, "Drop-in clinic")
    await bot.press(sender, "Send later…")

    [question] = await bot.send(sender, "10:30")
    assert "already past 10:30 today" in question.plain_text
    assert "10:30 tomorrow, Tuesday 1 December 2026" in question.plain_text
    assert question.button_texts() == ["Yes, tomorrow at 10:30", "No, choose another time"]
    await bot.press(sender, "Yes, tomorrow at 10:30")
    assert "10:30 on Tuesday 1 December 2026" in card(bot, sender).plain_text
    await bot.press(sender, "Yes, confirm")
    assert "will go at 10:30 on Tuesday 1 December 2026" in bot.last(sender).plain_text

    bot.clock.set(dt.datetime(2026, 12, 1, 10, 30, tzinfo=LONDON))
    await broadcast_handlers.release_and_watch(bot.app)
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]
    assert received(fake, mums) == [1, 1]


async def test_saying_no_to_tomorrow_asks_for_another_time(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bot.clock.set(dt.datetime(2026, 11, 30, 11, 0, tzinfo=LONDON))
    sender = await broadcaster(bot, fake)
    await residents(bot, fake, 1)
    await compose(bot, sender, "Drop-in clinic")
    await bot.press(sender, "Send later…")
    await bot.send(sender, "10:30")

    asked = await bot.press(sender, "No, choose another time")
    assert "When should it go?" in asked[-1].plain_text
    [confirm] = await bot.send(sender, "15:45")
    assert "15:45 on Monday 30 November 2026" in confirm.plain_text


async def test_http_links_are_refused_with_a_reason_in_the_message_and_the_button(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    await residents(bot, fake, 1)
    await bot.send(sender, "/broadcast")

    [refused] = await bot.send(sender, "Classes: http://www.essex.gov.uk/classes")
    assert "http://www.essex.gov.uk/classes" in refused.plain_text
    assert "must start with https://" in refused.plain_text
    sent = await bot.send(sender, "Classes: https://www.essex.gov.uk/classes")
    assert "would reach 1 resident." in sent[-1].plain_text
    await bot.press(sender, "Add or change link button")
    [button_refused] = await bot.send(sender, "Book | http://www.essex.gov.uk/book")
    assert "must start with https://" in button_refused.plain_text
    assert "http://www.essex.gov.uk/book" in button_refused.plain_text
    accepted = await bot.send(sender, "Book | https://www.essex.gov.uk/book")
    assert accepted[-1].button_texts()  # the card again, with the button set
    async with bot.session() as session:
        urls = list(await session.scalars(select(Broadcast.button_url)))
    assert urls == ["https://www.essex.gov.uk/book"]


async def test_cancelling_a_scheduled_broadcast_says_nobody_will_get_it(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    await residents(bot, fake, 3)
    await compose(bot, sender, "Tomorrow's clinic is cancelled")
    await bot.press(sender, "Send later…")
    await bot.send(sender, "15:00")
    await bot.press(sender, "Yes, confirm")

    await bot.press(sender, "Cancel this broadcast")

    text = bot.last(sender).plain_text
    assert text == "Broadcast #1 cancelled. It hadn't started, so nobody will get it."
    assert "0 messages" not in text


async def test_scheduled_broadcasts_are_listed_with_a_cancel_button_each(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    mums = await residents(bot, fake, 2)
    for text, time in (("Yoga & stretch <this week>", "15:00"), ("Flu jabs", "16:30")):
        await compose(bot, sender, text)
        await bot.press(sender, "Send later…")
        await bot.send(sender, time)
        await bot.press(sender, "Yes, confirm")

    listed = await bot.send(sender, "/scheduled")

    assert listed[0].plain_text == "2 scheduled broadcasts are waiting to go (UK time):"
    assert "#1 · 15:00 on Monday 30 November 2026" in listed[1].plain_text
    assert "local information · everyone" in listed[1].plain_text
    assert "Yoga & stretch <this week>" in listed[1].plain_text
    assert "#2 · 16:30" in listed[2].plain_text
    await bot.press(sender, "Cancel this broadcast", message=listed[1])
    assert "#1 cancelled" in listed[1].plain_text
    again = await bot.send(sender, "/scheduled")
    assert again[0].plain_text.startswith("1 scheduled broadcast is waiting")
    assert "#2 · 16:30" in again[1].plain_text

    bot.clock.advance(dt.timedelta(hours=8))
    await broadcast_handlers.release_and_watch(bot.app)
    await bot.app.bot_data.delivery.run_until_idle()  # type: ignore[union-attr]
    assert [m.plain_text.splitlines()[2] for m in fake.messages(mums[0].id)] == ["Flu jabs"]


async def test_only_her_own_scheduled_broadcasts_are_listed_and_cancelled_but_an_admin_sees_all(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    from models import AuditEvent

    sender = await broadcaster(bot, fake)
    other = await broadcaster(bot, fake, "Oli")
    admin = fake.new_user("Ada", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), StaffRole.ADMIN, admin.id)
    await residents(bot, fake, 1)
    await compose(bot, sender, "Hers")
    await bot.press(sender, "Send later…")
    await bot.send(sender, "15:00")
    await bot.press(sender, "Yes, confirm")
    [_, hers] = await bot.send(sender, "/scheduled")
    stop = next(d for d in hers.callback_data() if d.endswith(":stop"))

    assert [m.plain_text for m in await bot.send(other, "/scheduled")] == [
        "There are no scheduled broadcasts waiting to go. Send /broadcast to write one."
    ]
    other_card = (await compose(bot, other, "His draft"))[-1]
    await bot.forge(other, other_card, stop)
    assert bot.last_answer() == (
        "That button is from an earlier message – please use the latest one."
    )
    resident = fake.new_user("Amira")
    await onboard(bot, resident)
    assert "don't know that command" in (await bot.send(resident, "/scheduled"))[0].plain_text
    async with bot.session() as session:
        status = await session.scalar(select(Broadcast.status).where(Broadcast.id == 1))
    assert status is BroadcastStatus.SCHEDULED

    [_, listed] = await bot.send(admin, "/scheduled")
    assert "#1 · 15:00" in listed.plain_text
    await bot.press(admin, "Cancel this broadcast", message=listed)
    async with bot.session() as session:
        status = await session.scalar(select(Broadcast.status).where(Broadcast.id == 1))
        cancels = list(
            await session.scalars(
                select(AuditEvent.actor_role).where(AuditEvent.action == "broadcast.cancel")
            )
        )
    assert status is BroadcastStatus.CANCELLED
    assert cancels == ["admin"]


async def test_discarding_a_draft_is_audited_by_the_service_itself(
    sessions: async_sessionmaker[AsyncSession], clock: FixedClock, database_url: str
) -> None:
    # No bot here: the rule and its audit live in the service, whoever presses the button.
    desk = broadcasts.Desk(
        sessions, clock, settings_for_test("1:test", database_url), default_gazetteer(), None
    )
    async with sessions() as session, session.begin():
        member = await make_staff(session, clock.now(), StaffRole.BROADCASTER, 501)
    draft = await broadcasts.start_draft(desk, member, "Clinic moved to the library")

    pressed = await broadcasts.press(desk, member, draft.id, draft.revision, "discard", "")
    replayed = await broadcasts.press(desk, member, draft.id, draft.revision, "discard", "")

    assert pressed.step == broadcasts.Step("discard")
    assert replayed == broadcasts.Pressed(None, None)
    async with sessions() as session:
        status = await session.scalar(select(Broadcast.status))
        events = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert status is BroadcastStatus.CANCELLED
    assert [(e.action, e.target) for e in events][1:] == [
        ("broadcast.draft", f"broadcast:{draft.id}"),
        ("broadcast.discard", f"broadcast:{draft.id}"),
    ]


async def test_staff_add_a_translation_in_the_bot_and_residents_of_that_language_get_it(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> None:
    async with BotHarness.start(
        fake, database_url, clock, languages="pl,ro", allow_unreviewed_languages=True
    ) as bot:
        staff = await broadcaster(bot, fake)
        [polish] = await residents(bot, fake, 1, language_code="pl")
        [romanian] = await residents(bot, fake, 1, language_code="ro")
        await compose(bot, staff, "Free baby clinic on Friday")
        await bot.press(staff, "Add a translation")
        refused = await bot.send(staff, "de: Kostenlose Klinik")
        await bot.send(staff, "pl: Bezpłatna przychodnia w piątek")
        # The card is edited as it goes: its words now, before sending.
        shown = card(bot, staff).text or ""
        await send_now(bot, staff)
        await bot.send_queued()

    assert "offers and a colon" in (refused[-1].text or "")
    assert "Translations: pl" in shown
    assert "Bezpłatna przychodnia w piątek" in (fake.last_message(polish).text or "")
    assert "Free baby clinic on Friday" in (fake.last_message(romanian).text or "")


async def test_text_while_her_draft_waits_for_a_button_shows_the_draft_card_again(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await broadcaster(bot, fake)
    await residents(bot, fake, 3)
    await compose(bot, bea, "Flu jabs this week")
    shown = card(bot, bea)

    again = await bot.send(bea, "send it please")

    assert "Your draft is waiting for a button" in again[0].plain_text
    assert again[-1].button_texts() == shown.button_texts()
    await send_now(bot, bea)
    async with bot.session() as session:
        assert await session.scalar(select(Broadcast.status)) is not BroadcastStatus.DRAFT


async def test_text_after_her_draft_was_discarded_elsewhere_gets_the_usual_answer_and_ends(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await broadcaster(bot, fake)
    await compose(bot, bea, "Flu jabs this week")
    async with bot.session() as session, session.begin():
        draft = await session.scalar(select(Broadcast))
        assert draft is not None
        draft.status = BroadcastStatus.CANCELLED  # as the console's Discard leaves it

    first = await bot.send(bea, "hello?")
    second = await bot.send(bea, "hello?")

    # Her message was not about a draft: it gets what any message nobody waits for gets, and
    # the flow has ended, so the next one is not answered about a draft either.
    assert "draft" not in first[-1].plain_text and "/help" in first[-1].plain_text
    assert "draft" not in second[-1].plain_text
