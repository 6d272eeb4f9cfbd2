"""/mydata: a summary she can read in the chat, the full file, and every code in words."""

from __future__ import annotations

import json

from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from tests.factories import new_resident_user, onboard
from tests.harness import BotHarness
from tests.test_after_loss_screens import kept_for_local_info
from tests.test_matching_support import card_for, join, requests


async def _mydata(bot: BotHarness, user: FakeUser) -> tuple[SentMessage, dict[str, object]]:
    sent = await bot.send(user, "/mydata")
    [summary] = [m for m in sent if m.document is None]
    [file] = [m for m in sent if m.document is not None]
    assert file.document is not None
    return summary, json.loads(file.document[1])


async def test_mydata_sends_a_readable_summary_as_well_as_the_file(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, start="/start midwife_42", optional=(True, False, True))

    summary, _ = await _mydata(bot, user)

    text = summary.plain_text
    assert "What Bump Buddies holds about you" in text
    assert "Name other mums see: Amira" in text
    assert "Due date: Sunday 14 March 2027" in text
    assert "Neighbourhood: Moulsham and Central, Chelmsford" in text
    assert "signed up" in text
    assert "Meeting other mums: yes" in text
    assert "Local information: no" in text
    assert "/forget" in text
    # Words, not the codes the file uses.
    for code in ("E05015473", "local_info", "health_data", "active", "midwife_42"):
        assert code not in text


async def test_every_code_in_the_file_is_explained_in_words(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)

    _, document = await _mydata(bot, user)

    meaning = document["what_the_codes_mean"]
    assert isinstance(meaning, dict)
    assert meaning["consent_history.purpose"]["local_info"] == "local information"
    assert meaning["profile.status"]["active"] == "signed up"
    assert "ward" in meaning["profile.ward_code"]
    assert "E05015473" in meaning["profile.ward_code"]
    assert "Moulsham and Central" in meaning["profile.ward_code"]
    assert meaning["life_events.stage"]["ended"]


async def test_the_summary_escapes_what_she_typed(bot: BotHarness, fake: FakeTelegram) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, name="<b>Ami</b> & <i>co")

    summary, _ = await _mydata(bot, user)

    assert "Name other mums see: <b>Ami</b> & <i>co" in summary.plain_text


async def test_the_summary_after_a_loss_says_so_and_shows_what_she_kept(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await kept_for_local_info(bot, fake)

    summary, _ = await _mydata(bot, user)

    assert "no longer pregnant" in summary.plain_text
    assert "Local information: yes" in summary.plain_text
    assert "Meeting other mums: no" in summary.plain_text


async def test_the_summary_names_only_mums_she_was_introduced_to(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    await join(bot, fake, "Cat")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Bea"))
    await bot.press(bea, "✅ Yes, introduce us", message=requests(fake, bea)[-1])

    summary, _ = await _mydata(bot, amira)

    assert "Introduced to: Bea" in summary.plain_text
    assert "Cat" not in summary.plain_text


async def test_the_summary_midway_through_sign_up_says_what_is_not_given_yet(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    await bot.press(user, "Yes, I agree")

    summary, _ = await _mydata(bot, user)

    assert "Due date: not given" in summary.plain_text
    assert "still signing up" in summary.plain_text
    assert "Meeting other mums: not asked yet" in summary.plain_text
