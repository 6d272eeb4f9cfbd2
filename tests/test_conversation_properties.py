"""Every conversation state, fed whatever a phone can send: generated text, edits of her earlier
message, media of each kind, commands and made-up button data (issue 10 §11).

Each example builds one state through the real conversation, with a second resident in the
database whom she must never hear about, then sends a few generated inputs and checks that:
- no exception reaches the error handler (nothing logged as failed, no apology sent);
- nothing sent to her (text, button, toast or file) carries the other resident's details;
- garbage changes nothing: not her row, not any table, not the conversation she is in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from telegram.ext import CommandHandler, ConversationHandler

from bot.clock import FixedClock
from bot.sandbox.fake_api import CAPTIONED_KINDS, MEDIA_KINDS, FakeTelegram, FakeUser, SentMessage
from bot.services.conversations.answers import read_yes_no
from bot.services.urgent.help import rules_for
from bot.texts import catalogue
from models import (
    AuditEvent,
    Base,
    ConsentPurpose,
    ConversationNotes,
    ConversationState,
    Resident,
    StaffRole,
)
from tests.conftest import DEFAULT_NOW
from tests.database import fresh_database
from tests.factories import (
    CHELMSFORD_POSTCODE,
    at_area_step,
    give_consents,
    make_resident,
    make_staff,
    new_resident_user,
    onboard,
)
from tests.harness import BotHarness
from tests.test_matching_support import CASTLE, DISTRICT_OF, card_for, join

NOW = DEFAULT_NOW
AUDIT_TABLE = AuditEvent.__tablename__
PER_STATE = settings(
    max_examples=10,
    deadline=None,
    # The same examples on every run and in CI: a failure is reproducible, never flaky.
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# The other resident: details distinctive enough that any trace of them in a reply is a leak.
OTHER_NAME = "Zenobia Quillfeather"
OTHER_USERNAME = "zenobia_quill"
OTHER_TELEGRAM_ID = 8_765_432_109
OTHER_DUE = dt.date(2027, 7, 23)
OTHER_MARKERS = (
    OTHER_NAME,
    "Zenobia",
    "Quillfeather",
    OTHER_USERNAME,
    str(OTHER_TELEGRAM_ID),
    "23/07/2027",
    "23 July 2027",
    "2027-07-23",
)


@dataclasses.dataclass(frozen=True)
class Scene:
    """A state she has been brought to, and which inputs answer its pending question."""

    user: FakeUser
    # Typed text (and so an edit) is an answer here, so it may rightly change things.
    text_answers: bool = False
    # A shared location (or a venue, which carries one) is an answer here.
    location_answers: bool = False
    # Staff: a refused staff button is audited by design (issue 10 §9), so garbage may add an
    # audit event, and nothing else.
    staff: bool = False


Setup = Callable[[BotHarness, FakeTelegram], Awaitable[Scene]]


async def _press_data(bot: BotHarness, user: FakeUser, prefix: str) -> list[SentMessage]:
    """Press the first button on her newest keyboard whose data starts with `prefix`."""
    message = bot.last_with_buttons(user)
    data = [d for d in message.callback_data() if d.startswith(prefix)]
    assert data, f"no button {prefix!r} in {message.callback_data()}"
    return await bot.press(user, message.callback_data().index(data[0]), message)


async def _consent_step(bot: BotHarness, fake: FakeTelegram, yeses: int) -> Scene:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    if yeses:
        await bot.press(user, "Yes, I agree")
    for _ in range(yeses - 1):
        await bot.press(user, "Yes please")
    return Scene(user)


async def _due_date(bot: BotHarness, fake: FakeTelegram) -> Scene:
    user = new_resident_user(fake)
    await give_consents(bot, user)
    return Scene(user, text_answers=True)


async def _due_confirm(bot: BotHarness, fake: FakeTelegram) -> Scene:
    user = new_resident_user(fake)
    await give_consents(bot, user)
    await bot.send(user, "14/03/2027")
    assert "Yes, that's right" in bot.last(user).button_texts()
    return Scene(user, text_answers=True)


async def _area(bot: BotHarness, fake: FakeTelegram) -> Scene:
    return Scene(await at_area_step(bot, fake), text_answers=True, location_answers=True)


async def _ward_choice(bot: BotHarness, fake: FakeTelegram) -> Scene:
    user = await at_area_step(bot, fake)
    await bot.send(user, str(catalogue("en")("area.choose_from_list")))
    await _press_data(bot, user, "ob:dist:E07000070")
    assert any(d.startswith("ob:ward:") for d in bot.last_with_buttons(user).callback_data())
    return Scene(user, text_answers=True, location_answers=True)


async def _name(bot: BotHarness, fake: FakeTelegram) -> Scene:
    user = await at_area_step(bot, fake)
    await bot.send(user, CHELMSFORD_POSTCODE)
    assert "ob:name:default" in bot.last_with_buttons(user).callback_data()
    return Scene(user, text_answers=True)


async def _summary(bot: BotHarness, fake: FakeTelegram) -> Scene:
    user = new_resident_user(fake)
    await onboard(bot, user, confirm=False)
    assert "ob:sum:ok" in bot.last_with_buttons(user).callback_data()
    return Scene(user)


async def _signed_up(bot: BotHarness, fake: FakeTelegram) -> FakeUser:
    user = new_resident_user(fake)
    await onboard(bot, user)
    return user


async def _idle(bot: BotHarness, fake: FakeTelegram) -> Scene:
    return Scene(await _signed_up(bot, fake))


def _profile_edit(field: str, location: bool = False) -> Setup:
    async def setup(bot: BotHarness, fake: FakeTelegram) -> Scene:
        user = await _signed_up(bot, fake)
        await bot.send(user, "/profile")
        await _press_data(bot, user, f"ob:sum:{field}")
        return Scene(user, text_answers=True, location_answers=location)

    return setup


def _after_command(command: str, *presses: str, text_answers: bool = False) -> Setup:
    async def setup(bot: BotHarness, fake: FakeTelegram) -> Scene:
        user = await _signed_up(bot, fake)
        await bot.send(user, command)
        for label in presses:
            await bot.press(user, label)
        return Scene(user, text_answers=text_answers)

    return setup


async def _feedback_comment(bot: BotHarness, fake: FakeTelegram) -> Scene:
    user = await _signed_up(bot, fake)
    await bot.send(user, "/feedback")
    await bot.press(user, "4")
    await bot.press(user, 0)
    return Scene(user, text_answers=True)


async def _match_card(bot: BotHarness, fake: FakeTelegram) -> tuple[FakeUser, SentMessage]:
    await join(bot, fake, "Bea")
    user = await join(bot, fake, "Amira")
    await bot.send(user, "/match")
    return user, card_for(fake, user, "Bea")


async def _matching_card(bot: BotHarness, fake: FakeTelegram) -> Scene:
    user, _ = await _match_card(bot, fake)
    return Scene(user)


async def _report_reason(bot: BotHarness, fake: FakeTelegram) -> Scene:
    user, card = await _match_card(bot, fake)
    await bot.press(user, "⚠️ Report", message=card)
    await bot.press(user, "⚠️ Yes, report")
    return Scene(user, text_answers=True)


def _staff_step(role: StaffRole, command: str, *steps: str, text_answers: bool) -> Setup:
    """A member of staff part-way through a composer: each step is a button, or text to send."""

    async def setup(bot: BotHarness, fake: FakeTelegram) -> Scene:
        user = fake.new_user("Nadia", started=True)
        async with bot.session() as session, session.begin():
            await make_staff(session, bot.clock.now(), role, user.id)
        await bot.send(user, command)
        for step in steps:
            if step.startswith("press:"):
                await bot.press(user, step.removeprefix("press:"))
            else:
                await bot.send(user, step)
        return Scene(user, text_answers=text_answers, staff=True)

    return setup


STATES: dict[str, Setup] = {
    "consent: health data": lambda bot, fake: _consent_step(bot, fake, 0),
    "consent: matching": lambda bot, fake: _consent_step(bot, fake, 1),
    "consent: local info": lambda bot, fake: _consent_step(bot, fake, 2),
    "consent: feedback": lambda bot, fake: _consent_step(bot, fake, 3),
    "due date": _due_date,
    "due date confirm": _due_confirm,
    "area": _area,
    "ward choice": _ward_choice,
    "name": _name,
    "summary": _summary,
    "signed up, idle": _idle,
    "/profile: due date": _profile_edit("due"),
    "/profile: area": _profile_edit("area", location=True),
    "/profile: name": _profile_edit("name"),
    "/privacy": _after_command("/privacy"),
    "/baby: birth date": _after_command("/baby", "🍼 My baby has arrived", text_answers=True),
    "/baby: ended confirm": _after_command("/baby", "I'm no longer pregnant"),
    "/feedback: rating": _after_command("/feedback"),
    "/feedback: loneliness": _after_command("/feedback", "4"),
    "/feedback: comment": _feedback_comment,
    "/forget: confirm": _after_command("/forget"),
    "/match: card": _matching_card,
    "/match: report reason": _report_reason,
    "/broadcast: message": _staff_step(StaffRole.BROADCASTER, "/broadcast", text_answers=True),
    "/broadcast: draft": _staff_step(
        StaffRole.BROADCASTER, "/broadcast", "Flu jabs this week", text_answers=False
    ),
    "/broadcast: send later": _staff_step(
        StaffRole.BROADCASTER,
        "/broadcast",
        "Flu jabs this week",
        "press:Send later…",
        text_answers=True,
    ),
    "/joinlink: clinic": _staff_step(StaffRole.MIDWIFE, "/joinlink", text_answers=True),
    "/joinlink: district": _staff_step(
        StaffRole.MIDWIFE, "/joinlink", "Moulsham clinic", text_answers=False
    ),
}


# --- what she sends ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Input:
    """One thing she sends: kind is text, edit, media, command or callback."""

    kind: str
    value: str
    # For made-up button data: press it on her newest message, or on the newest with buttons.
    on_newest: bool = False
    # For media that can carry one: a caption, which the urgent check reads too.
    caption: str | None = None


def _sendable(text: str) -> bool:
    # Telegram trims messages and refuses empty ones; a leading "/" makes it a command.
    return bool(text) and text == text.strip() and not text.startswith("/")


# Words with a meaning in this bot mixed with arbitrary text, so handlers past the first
# "I don't understand" are reached too.
meaningful = st.sampled_from(
    (
        "yes",
        "No",
        "14/03/2027",
        "next week",
        "I don't know",
        CHELMSFORD_POSTCODE,
        "Chelmsford",
        "<b>Amira</b> & co",
        "Zoë <i>Bea</i>",
        "0",
        "9" * 40,
        "I'm bleeding a lot",
    )
)
typed = st.one_of(meaningful, st.text(min_size=1, max_size=80)).filter(_sendable)
commands = st.one_of(
    st.sampled_from(("/start", "/profile", "/privacy", "/help", "/cancel", "/match", "/baby")),
    st.from_regex(r"/[a-z][a-z0-9_]{0,15}", fullmatch=True),
)
PREFIXES = ("ob:", "pv:", "fg:", "fg:yes:", "md:", "mt:", "mt:hi:", "fb:", "le:", "sv:", "st:")
# Small numbers hit real rows (suggestions, introductions, reports, staff, links), which may
# belong to someone else: a press must check the row is hers, not only that the data parses.
row_ids = st.integers(0, 12)
hex8 = st.text(alphabet="0123456789abcdef", min_size=8, max_size=8)
forged_as_ours = st.one_of(
    st.builds("mt:{}:{}".format, st.sampled_from(("hi", "yes", "no", "grp", "rsn")), row_ids),
    st.builds(
        "mt:{}:{}{}".format,
        st.sampled_from(("blk", "rep", "repy", "repn")),
        st.sampled_from("si"),
        row_ids,
    ),
    st.builds("md:{}:{}".format, row_ids, st.sampled_from(("suspend", "dismiss", "warn"))),
    st.builds("{}:{}".format, st.sampled_from(("st:rv", "st:rvy", "jl:rv", "fb:p")), row_ids),
    st.builds(
        "pv:{}:{}".format,
        st.sampled_from([p.value for p in ConsentPurpose]),
        st.sampled_from(("on", "off", "yes", "no")),
    ),
    st.builds("fb:{}:{}:{}".format, st.sampled_from("rlc"), hex8, st.sampled_from("12345")),
    st.builds("ob:due:yes:{}".format, st.dates(dt.date(2026, 11, 1), dt.date(2027, 9, 1))),
    st.builds("fg:{}:{}".format, st.sampled_from(("yes", "no")), hex8),
    # Buttons that act by themselves (no row id): each checks she is at that step.
    st.sampled_from(
        (
            "ob:health:yes",
            "ob:health:no",
            "ob:consent:matching:yes",
            "ob:consent:feedback:no",
            "ob:due:unknown",
            "ob:due:no",
            "ob:sum:ok",
            "ob:sum:done",
            "ob:name:default",
            "ob:area:wait",
            "ob:ward:E05010828",
            "le:keep",
            "le:wait",
            "le:end:yes",
            "le:end:no",
            "le:close",
            "st:inv:midwife",
            "st:inv:admin",
        )
    ),
)
made_up_data = st.one_of(
    forged_as_ours,
    st.builds(
        str.__add__,
        st.sampled_from(PREFIXES),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789:-_", max_size=24),
    ),
    st.text(min_size=1, max_size=30),
).filter(lambda data: 0 < len(data.encode()) <= 64)
inputs = st.lists(
    st.one_of(
        st.builds(Input, kind=st.just("text"), value=typed),
        st.builds(Input, kind=st.just("edit"), value=typed),
        st.builds(Input, kind=st.just("media"), value=st.sampled_from(MEDIA_KINDS)),
        st.builds(
            Input,
            kind=st.just("media"),
            value=st.sampled_from(CAPTIONED_KINDS),
            caption=typed,
        ),
        st.builds(Input, kind=st.just("command"), value=commands),
        st.builds(Input, kind=st.just("callback"), value=made_up_data, on_newest=st.booleans()),
    ),
    min_size=1,
    max_size=4,
)


# --- what is checked -----------------------------------------------------------------------------


class _Failures(logging.Handler):
    """Collects what reaches the error handler's log."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _failures_logged() -> Iterator[_Failures]:
    collected = _Failures()
    logger = logging.getLogger("bot.handlers.common")
    logger.addHandler(collected)
    try:
        yield collected
    finally:
        logger.removeHandler(collected)


def _known_commands(bot: BotHarness) -> set[str]:
    names: set[str] = set()

    def collect(handler: object) -> None:
        if isinstance(handler, CommandHandler):
            names.update(handler.commands)
        elif isinstance(handler, ConversationHandler):
            for inner in (*handler.entry_points, *handler.fallbacks):
                collect(inner)
            for handlers in handler.states.values():
                for inner in handlers:
                    collect(inner)

    for group in bot.app.handlers.values():
        for handler in group:
            collect(handler)
    return names


def _is_urgent(bot: BotHarness, text: str) -> bool:
    content = bot.app.bot_data.content
    return bool(rules_for(content).matcher.groups_in(text))


def _is_garbage(bot: BotHarness, scene: Scene, given: Input, offered: set[str]) -> bool:
    """Whether this input, in this state, must leave everything as it was.

    Media is garbage unless it is a location where one is asked for; a command we don't have
    and button data never offered to her always are (a caption with urgent words gets the
    urgent reply, like text). Typed text (or an edit, which counts as
    a new answer to the pending question) is garbage only where text isn't an answer, and even
    there typed yes/no words work like the buttons at some steps, and an urgent phrase gets the
    urgent reply and the question again: those may rightly act, so they are not garbage.
    """
    if given.kind == "media":
        if given.caption is not None and _is_urgent(bot, given.caption):
            return False
        return not (scene.location_answers and given.value in ("location", "venue"))
    if given.kind == "command":
        return given.value[1:].lower() not in _known_commands(bot)
    if given.kind == "callback":
        return given.value not in offered
    if scene.text_answers:
        return False
    return read_yes_no(given.value) is None and not _is_urgent(bot, given.value)


async def _snapshot(bot: BotHarness, user: FakeUser) -> dict[str, Any]:
    """Her row, how many rows every table has, and where each conversation stands."""
    taken: dict[str, Any] = {}
    async with bot.session() as session:
        resident = await session.scalar(
            select(Resident).where(Resident.telegram_user_id == user.id)
        )
        if resident is not None:
            taken["resident"] = {
                column.key: getattr(resident, column.key) for column in Resident.__table__.columns
            }
        for table in Base.metadata.sorted_tables:
            if table.name == "update_inbox":
                continue  # every update is noted there, garbage too: that is its job
            if table.name == "bot_heartbeats":
                continue  # the leader's heartbeat job writes it on its own timer, not her input
            taken[table.name] = await session.scalar(select(func.count()).select_from(table))
        # Where each conversation stands, and what flows remember, live in the database.
        states = await session.execute(
            select(ConversationState.name, ConversationState.state).where(
                ConversationState.user_id == user.id
            )
        )
        taken["conversations"] = sorted((name, state) for name, state in states)
        taken["notes"] = await session.scalar(
            select(ConversationNotes.notes).where(ConversationNotes.user_id == user.id)
        )
    return taken


def _everything_sent(replies: list[SentMessage], toasts: list[dict[str, Any]]) -> str:
    parts = [str(toast.get("text", "")) for toast in toasts]
    for message in replies:
        parts += [message.text or "", message.caption or "", message.plain_text]
        parts += message.button_texts() + message.callback_data()
        if message.document is not None:
            parts.append(message.document[1].decode("utf-8", "replace"))
    return "\n".join(parts)


async def _deliver(bot: BotHarness, fake: FakeTelegram, user: FakeUser, given: Input) -> Any:
    if given.kind in ("text", "command"):
        return await bot.send(user, given.value)
    if given.kind == "edit":
        return await bot.edit(user, given.value)
    if given.kind == "media":
        return await bot.send_media(user, given.value, caption=given.caption)
    messages = fake.messages(user)
    with_buttons = [m for m in messages if m.has_inline_keyboard]
    target = with_buttons[-1] if with_buttons and not given.on_newest else messages[-1]
    return await bot.forge(user, target, given.value)


async def _other_resident(bot: BotHarness) -> None:
    async with bot.session() as session, session.begin():
        await make_resident(
            session,
            NOW,
            telegram_user_id=OTHER_TELEGRAM_ID,
            display_name=OTHER_NAME,
            ward_code=CASTLE,
            district_code=DISTRICT_OF[CASTLE],
            due_date=OTHER_DUE,
        )


@dataclasses.dataclass
class _Running:
    """One bot for all the examples of a state: each example brings a new resident to it."""

    loop: asyncio.AbstractEventLoop
    bot: BotHarness
    fake: FakeTelegram


@pytest.fixture
def running(database_template: str, tmp_path: Path) -> Iterator[_Running]:
    """The bot on a fresh database holding the other resident, on a loop of its own.

    Hypothesis calls the test once per example, so the loop outlives each call; starting the
    bot once per state rather than per example keeps the suite's runtime modest.
    """
    loop = asyncio.new_event_loop()
    fake = FakeTelegram()

    async def start() -> tuple[AbstractAsyncContextManager[BotHarness], BotHarness]:
        url = await fresh_database(database_template, tmp_path)
        starting = BotHarness.start(fake, url, FixedClock(NOW))
        bot = await starting.__aenter__()
        await _other_resident(bot)
        return starting, bot

    starting, bot = loop.run_until_complete(start())
    try:
        yield _Running(loop, bot, fake)
    finally:
        loop.run_until_complete(starting.__aexit__(None, None, None))
        loop.close()
    assert fake.violations == [], "the bot made calls the Bot API schema does not allow"


@pytest.mark.parametrize("state", list(STATES))
@PER_STATE
@given(sent=inputs)
def test_no_input_in_any_state_fails_leaks_or_changes_anything_it_should_not(
    running: _Running, state: str, sent: list[Input]
) -> None:
    bot, fake = running.bot, running.fake
    error_text = str(catalogue("en")("general.error"))

    async def run() -> None:
        scene = await STATES[state](bot, fake)
        user = scene.user
        with _failures_logged() as failures:
            for given_input in sent:
                offered = {d for m in fake.messages(user) for d in m.callback_data()}
                garbage = _is_garbage(bot, scene, given_input, offered)
                before = await _snapshot(bot, user)
                answers_before = len(fake.callback_answers)
                replies = await _deliver(bot, fake, user, given_input)
                assert failures.messages == [], (state, given_input)
                assert not any(error_text in (m.text or "") for m in replies), given_input
                seen = _everything_sent(replies, fake.callback_answers[answers_before:])
                leaked = [marker for marker in OTHER_MARKERS if marker in seen]
                assert leaked == [], (state, given_input, leaked)
                if garbage:
                    after = await _snapshot(bot, user)
                    changed = {k for k in before if before[k] != after.get(k)}
                    if scene.staff:
                        changed.discard(AUDIT_TABLE)
                    assert not changed, (state, given_input, changed)
        assert fake.violations == []

    running.loop.run_until_complete(run())
