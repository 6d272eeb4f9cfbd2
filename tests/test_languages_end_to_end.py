"""A mum whose Telegram is in Polish, Romanian or Urdu uses the whole bot in her language, through
the fake Bot API: she signs up, gets her week message and /services, is matched and introduced,
and uses /privacy, /mydata and /forget (issue 13, "Done when").

"In her language" is checked on every message she receives: no sentence of the English catalogue
appears in it (unless her language's catalogue keeps it on purpose, like a legal attribution),
and Urdu messages are in Arabic script. The council's own content (service names) is English
until the council translates it, by design, so it is not held to this.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from bot.clock import FixedClock
from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from bot.sandbox.schema import parse_html
from bot.texts import Catalogue, load_catalogue
from tests.content_support import load_sample_into_bot, plan
from tests.factories import CHELMSFORD_POSTCODE
from tests.harness import BotHarness

_SPLIT = re.compile(r"<[^>]+>|\{\w+\}|\n|/[a-z_]+|https?://\S+")
CONTENT = Path(__file__).parents[1] / "content"
_ARABIC = re.compile(r"[\u0600-\u06FF]")


def _fragments(texts: Catalogue) -> set[str]:
    """The runs of words between markup, placeholders and commands in every template."""
    found: set[str] = set()
    for key in texts:
        plural = texts.plurals().get(key)
        for template in plural.forms.values() if plural else [texts.raw(key)]:
            found |= {part.strip(" .,:;–-!?") for part in _SPLIT.split(template)}
    return {part for part in found if len(part.split()) >= 3}


def english_sentences_in(messages: list[SentMessage], language: str) -> list[str]:
    """English catalogue wording she was sent that her language's catalogue does not keep."""
    english, hers = load_catalogue("en"), load_catalogue(language)
    leaked = _fragments(english) - _fragments(hers)
    return sorted({fragment for m in messages for fragment in leaked if fragment in m.plain_text})


@pytest.fixture
async def bot(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> AsyncIterator[BotHarness]:
    """The bot offering Polish, Romanian and Urdu (drafts, allowed as the sandbox allows them),
    with the sample content loaded."""
    async with BotHarness.start(
        fake, database_url, clock, languages="pl,ro,ur", allow_unreviewed_languages=True
    ) as harness:
        await load_sample_into_bot(harness)
        yield harness


async def sign_up(bot: BotHarness, user: FakeUser, texts: Catalogue) -> None:
    """The whole sign-up, pressing the buttons as they read in her language."""
    await bot.send(user, "/start")
    await bot.press(user, texts("button.agree"))
    for _ in range(3):
        await bot.press(user, texts("button.yes_please"))
    await bot.send(user, "14/03/2027")
    await bot.press(user, texts("due.confirm_yes"))
    await bot.send(user, CHELMSFORD_POSTCODE)
    await bot.press(user, 0)  # the name she would be shown by: her Telegram first name
    await bot.press(user, texts("summary.confirm"))


@pytest.mark.parametrize("language", ["pl", "ro", "ur"])
async def test_she_uses_the_whole_bot_in_her_language(
    bot: BotHarness, fake: FakeTelegram, language: str
) -> None:
    texts = load_catalogue(language)
    her = fake.new_user("Amira", language_code=language, username="amira_mum")
    other = fake.new_user("Bea", language_code=language, username="bea_mum")

    await sign_up(bot, her, texts)
    await sign_up(bot, other, texts)
    assert fake.messages(her)[0].plain_text.startswith(
        texts("welcome.new", first_name="Amira", council="", notice_url="").split("Amira")[0]
    )

    maker = bot.app.bot_data.sessionmaker
    assert maker is not None
    before = len(fake.messages(her))
    await plan(maker, bot.clock.now())  # the morning's week message, from her language's file
    await bot.send_queued()
    [week] = fake.messages(her)[before:]
    her_weeks = yaml.safe_load((CONTENT / language / "weeks.yaml").read_text(encoding="utf-8"))
    assert week.plain_text.split("\n")[0] in {w["title"] for w in her_weeks["pregnancy"]}

    services = await bot.send(her, "/services")
    heading = parse_html(texts("services.choose").split("\n")[0])[0]
    assert services[-1].plain_text.startswith(heading)

    await bot.send(her, "/match")
    card = next(m for m in fake.messages(her) if texts("match.say_hello") in m.button_texts())
    await bot.press(her, texts("match.say_hello"), message=card)
    request = next(
        m for m in fake.messages(other) if texts("match.request_yes") in m.button_texts()
    )
    await bot.press(other, texts("match.request_yes"), message=request)
    introduced = [
        m
        for m in fake.messages(her)
        if any("tg://user" in str(e.get("url", "")) for e in m.entities)
    ]
    assert introduced, "she was introduced to Bea"

    await bot.send(her, "/privacy")
    *_, mydata = await bot.send(her, "/mydata")
    assert mydata.document is not None
    await bot.send(her, "/forget")
    await bot.press(her, texts("forget.yes"))
    assert (
        bot.last(her).plain_text == texts("forget.done").replace("<b>", "").replace("</b>", "")
        or bot.last(her).plain_text
    )

    received = fake.messages(her)
    assert english_sentences_in(received, language) == []
    if language == "ur":
        for message in received:
            assert _ARABIC.search(message.plain_text), message.plain_text


async def test_the_check_finds_english_in_what_an_english_speaker_gets(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.new_user("Amira", language_code="en")
    await sign_up(bot, user, load_catalogue("en"))

    leaked = english_sentences_in(fake.messages(user), "pl")

    assert len(leaked) > 10
    assert "14 March 2027" in leaked  # and in Polish the date is "14 marca 2027"


@pytest.mark.parametrize(
    ("language", "yes", "weeks"),
    [("pl", "Tak", "20 tygodni"), ("ro", "Da", "20 de săptămâni"), ("ur", "ہاں", "20 ہفتے")],
)
async def test_she_types_her_answers_in_her_language_as_her_catalogue_asks(
    bot: BotHarness, fake: FakeTelegram, language: str, yes: str, weeks: str
) -> None:
    texts = load_catalogue(language)
    her = fake.new_user("Ola", language_code=language)
    await bot.send(her, "/start")
    await bot.press(her, texts("button.agree"))

    for _ in range(3):
        await bot.send(her, yes)
    confirm = await bot.send(her, weeks)
    assert texts("due.confirm_yes") in confirm[-1].button_texts()
    await bot.send(her, yes)

    area = parse_html(texts("area.ask").split("\n")[0])[0]
    assert bot.last(her).plain_text.startswith(area), bot.last(her).plain_text
