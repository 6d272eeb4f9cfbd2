"""No dead ends: in every conversation state, something that is not an answer (text where a
button is expected, a sticker anywhere) is met with the question she is being asked, again,
with its buttons, never only "I don't understand" (issue 12 §1)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from bot.sandbox.fake_api import FakeTelegram, SentMessage
from models import ConversationNotes
from tests.harness import BotHarness
from tests.test_conversation_properties import STATES, _other_resident

NOT_AN_ANSWER = "qwerty zxcv"
# Menus rather than questions: the bot waits for nothing, and says what it can do instead.
MENUS = {"signed up, idle", "/privacy", "/match: card"}
# Dead ends still open (issue 12 §1), each failing this test until fixed (strict): none now.
KNOWN_DEAD_ENDS: dict[tuple[str, str], str] = {}


def _asks_again(question: SentMessage, replies: list[SentMessage]) -> bool:
    """A reply carries the question's buttons, or its words (for a question without buttons)."""
    buttons = question.button_texts()
    if buttons:
        return any(reply.button_texts() == buttons for reply in replies)
    first_line = next((line for line in question.plain_text.split("\n") if line.strip()), "")
    return any(first_line in reply.plain_text for reply in replies)


def _cases() -> list[object]:
    return [
        pytest.param(
            sent,
            state,
            marks=[
                pytest.mark.xfail(
                    raises=AssertionError, strict=True, reason=KNOWN_DEAD_ENDS[sent, state]
                )
            ]
            if (sent, state) in KNOWN_DEAD_ENDS
            else [],
            id=f"{sent}-{state}",
        )
        for state in STATES
        if state not in MENUS
        for sent in ("text", "sticker")
    ]


@pytest.mark.parametrize(("sent", "state"), _cases())
async def test_what_is_not_an_answer_gets_the_question_again(
    bot: BotHarness, fake: FakeTelegram, state: str, sent: str
) -> None:
    await _other_resident(bot)  # someone to broadcast to, and to be matched with
    scene = await STATES[state](bot, fake)
    if sent == "text" and scene.text_answers:
        pytest.skip("typed text answers this question")
    question = bot.last(scene.user)

    if sent == "text":
        replies = await bot.send(scene.user, NOT_AN_ANSWER)
    else:
        replies = await bot.send_media(scene.user, "sticker")

    assert replies, "she got no answer at all"
    assert _asks_again(question, replies), (
        question.plain_text[:80],
        [r.plain_text[:80] for r in replies],
    )


@pytest.mark.parametrize("state", ["/joinlink: district", "/match: report reason"])
async def test_a_question_whose_notes_are_gone_is_still_answered(
    bot: BotHarness, fake: FakeTelegram, state: str
) -> None:
    # Her flow's notes (the clinic named, the report awaiting a reason) can be gone while
    # the conversation still waits: states and notes are kept apart.
    await _other_resident(bot)
    scene = await STATES[state](bot, fake)
    async with bot.session() as session, session.begin():
        await session.execute(
            delete(ConversationNotes).where(ConversationNotes.user_id == scene.user.id)
        )

    replies = await bot.send_media(scene.user, "sticker")

    assert replies, "she got no answer at all"
