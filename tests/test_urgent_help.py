"""Urgent-help signposting: the right number straight away, even mid-sign-up; /help lists them."""

from __future__ import annotations

import logging

import pytest
from telegram import Update

from bot.sandbox.fake_api import FakeTelegram
from bot.services.local_info.content import UrgentGroup
from bot.services.urgent.help import urgent_groups
from tests.content_support import CHELMSFORD_TRIAGE, load_sample_into_bot, sample_content
from tests.factories import COLCHESTER_POSTCODE, new_resident_user, onboard
from tests.harness import BotHarness


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("My baby isn't moving as much today", "reduced_movements"),
        ("baby hasn’t moved since this morning", "reduced_movements"),
        ("I've noticed reduced movements since yesterday", "reduced_movements"),
        ("My baby is moving less than usual, is that ok?", "reduced_movements"),
        ("can't really feel the baby move today", "reduced_movements"),
        ("I'm bleeding a bit", "bleeding"),
        ("there's some spotting in my knickers", "bleeding"),
        ("I have a really bad headache and blurry vision", "headache_vision"),
        ("SEVERE HEADACHE since lunch", "headache_vision"),
        ("I think my waters have broken!!", "waters"),
        ("I'm leaking fluid, is that normal at 30 weeks", "waters"),
        ("sometimes I want to die", "self_harm"),
        ("I keep thinking about hurting myself", "self_harm"),
        ("I don't feel safe at home", "domestic_abuse"),
        ("I'm scared of my partner", "domestic_abuse"),
    ],
)
def test_urgent_phrasings_are_recognised(text: str, group: str) -> None:
    assert group in [g.id for g in urgent_groups(sample_content(), text)]


@pytest.mark.parametrize(
    "text",
    [
        "my sister's baby is moving house",
        "We're moving house next week, the baby is kicking lots",
        "Baby is moving loads today!",
        "my gums are bleeding when I brush",
        "No bleeding at all, just a bit tired",
        "I'm not bleeding",
        "I love my bloodhound",
        "The water broke in the kitchen – the pipe, I mean",
        "I feel safe at home with my partner",
        "Is the headache clinic open on Saturdays?",
    ],
)
def test_everyday_messages_are_not_mistaken_for_urgent_ones(text: str) -> None:
    assert urgent_groups(sample_content(), text) == []


def test_a_double_negative_does_not_hide_a_symptom() -> None:
    for text in ("I can't stop bleeding", "the bleeding won't stop", "it hasn't stopped bleeding"):
        assert [g.id for g in urgent_groups(None, text)] == ["bleeding"], text
    assert urgent_groups(None, "I haven't had any bleeding") == []


def test_council_exclusions_cannot_switch_off_a_built_in_phrase() -> None:
    council = sample_content().model_copy(
        update={"urgent": (UrgentGroup(id="bleeding", phrases=("red show",), not_if=("wipe",)),)}
    )

    assert [g.id for g in urgent_groups(council, "there is blood when I wipe")] == ["bleeding"]
    assert [g.id for g in urgent_groups(council, "a red show this morning")] == ["bleeding"]
    assert urgent_groups(council, "a red show when I wipe") == []


def test_council_phrases_add_to_the_built_in_ones() -> None:
    text = "my baby is quieter than usual"

    assert urgent_groups(None, text) == []
    assert [g.id for g in urgent_groups(sample_content(), text)] == ["reduced_movements"]


def test_a_negation_in_another_part_of_the_sentence_does_not_hide_a_symptom() -> None:
    found = urgent_groups(sample_content(), "No bleeding, but my baby isn't moving")
    assert [g.id for g in found] == ["reduced_movements"]


async def test_an_urgent_message_gets_her_own_triage_line_at_once(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await load_sample_into_bot(bot)

    first, *_ = await bot.send(user, "I'm worried, baby isn't moving today")

    assert "call your maternity unit now" in first.plain_text
    assert "I'm an automated service, so I can't give medical advice" in first.plain_text
    assert CHELMSFORD_TRIAGE in first.plain_text
    assert "999" in first.plain_text
    assert "Colchester Hospital" not in first.plain_text


async def test_the_urgent_reply_works_in_the_middle_of_sign_up_and_sign_up_carries_on(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    await load_sample_into_bot(bot)
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    await bot.press(user, "Yes, I agree")
    for _ in range(3):
        await bot.press(user, "Yes please")

    urgent, step = await bot.send(user, "help I think my waters have broken")

    assert "waters have broken" in urgent.plain_text
    # Her area isn't known yet, so every Essex triage line is listed.
    assert CHELMSFORD_TRIAGE in urgent.plain_text and "Colchester Hospital" in urgent.plain_text
    assert "date" in step.plain_text.lower()


async def test_someone_not_signed_up_still_gets_the_numbers(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    await load_sample_into_bot(bot)
    user = new_resident_user(fake)

    [urgent] = await bot.send(user, "I want to end my life")

    assert "Samaritans" in urgent.plain_text and "116 123" in urgent.plain_text


async def test_an_everyday_message_gets_no_urgent_reply(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await load_sample_into_bot(bot)

    sent = await bot.send(user, "my sister's baby is moving house")

    assert all("triage" not in m.plain_text for m in sent)


async def test_help_always_lists_999_nhs_111_and_her_own_triage_line(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    chelmsford, colchester = new_resident_user(fake), new_resident_user(fake)
    await onboard(bot, chelmsford)
    await onboard(bot, colchester, area=COLCHESTER_POSTCODE)
    await load_sample_into_bot(bot)

    [for_chelmsford] = await bot.send(chelmsford, "/help")
    [for_colchester] = await bot.send(colchester, "/help")

    for text in (for_chelmsford.plain_text, for_colchester.plain_text):
        assert "Emergency – ambulance, police: 999" in text
        assert "NHS 111: 111" in text
    assert CHELMSFORD_TRIAGE in for_chelmsford.plain_text
    assert "Colchester Hospital maternity triage" in for_colchester.plain_text
    assert "Colchester Hospital" not in for_chelmsford.plain_text


async def test_help_lists_the_national_numbers_even_before_content_is_loaded(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    [sent] = await bot.send(new_resident_user(fake), "/help")

    assert "999" in sent.plain_text
    assert "NHS 111" in sent.plain_text
    assert "maternity notes" in sent.plain_text


async def test_the_words_of_an_urgent_message_are_never_logged(
    bot: BotHarness, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await load_sample_into_bot(bot)
    caplog.set_level(logging.DEBUG)

    await bot.send(user, "Zanzibar-bleeding-7731 since this morning")

    assert "Zanzibar" not in caplog.text


async def test_a_photo_caption_mentioning_a_symptom_gets_the_numbers(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    update = fake.send_message(user, "placeholder")
    message = update["message"]
    del message["text"]
    message["photo"] = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
    message["caption"] = "is this normal? there is blood when I wipe"
    before = len(fake.messages(user.id))

    await bot.app.process_update(Update.de_json(update, bot.app.bot))

    [urgent] = fake.messages(user.id)[before:]
    assert "Bleeding in pregnancy needs checking" in urgent.plain_text
