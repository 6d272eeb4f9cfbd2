"""The sign-up conversation: consent, due date, neighbourhood, name, summary; also /profile."""

from __future__ import annotations

import datetime as dt
import functools
import html
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.delivery import render
from bot.handlers.common import (
    answer,
    clear_buttons,
    consent_evidence,
    conversation,
    edit_message,
    fallback_message,
    her_message,
    her_text,
    keep_language,
    language_buttons,
    note_answer,
    reply,
    sender,
    texts_for,
)
from bot.ordered import redelivered
from bot.services.conversations.answers import read_plain_yes_no, read_yes_no
from bot.services.matching import news as matching_news
from bot.services.matching.rules import MatchRules, ward_neighbours
from bot.services.places.geo import (
    ChoosePlace,
    ChooseWard,
    District,
    NotRecognised,
    OutsideArea,
    Resolution,
    Ward,
    WardFound,
)
from bot.services.residents import profile as residents
from bot.services.residents.consent import ConsentContext
from bot.services.residents.due_dates import (
    DueDate,
    DueDateProblem,
    gestation,
    parse_due_date,
)
from bot.services.residents.profile import NotSignedUp, Profile, Step
from bot.services.staff import join_links
from bot.texts import Catalogue, Html
from models import ConsentPurpose

logger = logging.getLogger(__name__)

CONSENT_HEALTH, CONSENT_OPTIONAL, DUE_DATE, AREA, NAME, SUMMARY, DUE_CONFIRM = range(7)
END = ConversationHandler.END

WARDS_PER_PAGE = 10
# The welcome's language switch: "ob:lang:<code>".
WELCOME_LANGUAGE = "ob:lang:"
_WELCOME_LANGUAGE = r"^ob:lang:[a-z]{2,3}$"
# Her flow note of the consent question's message, redrawn when she switches language.
_CONSENT_MESSAGE = "consent_message"
# Her flow note of the area buttons she is choosing from (the question and its buttons as she
# saw them), shown again when she sends something that is not an answer, such as a sticker.
_AREA_CARD = "area_card"
KM_PER_MILE = 1.609344
_PURPOSE_BY_NAME = {p.value: p for p in ConsentPurpose}


# None leaves her conversation where it was (PTB keeps the state).
Callback = Callable[[Update, BotContext], Coroutine[Any, Any, int | None]]


def _signed_up(callback: Callback) -> Callback:
    """Steps that need her record end kindly if it is gone (declined, or /forget meanwhile)."""

    @functools.wraps(callback)
    async def wrapper(update: Update, context: BotContext) -> int | None:
        try:
            return await callback(update, context)
        except NotSignedUp:
            return await not_signed_up(update, context)

    return wrapper


def _consent_context(update: Update, context: BotContext, method: str) -> ConsentContext:
    """Evidence for a choice: the exact text on the message whose button she pressed."""
    query = update.callback_query
    message = query.message if query else None
    shown = message.text or "" if isinstance(message, Message) else ""
    source = context.user_data.get("source") if context.user_data is not None else None
    return consent_evidence(update, context, shown, method, source)


def _yes_no(
    texts: Catalogue, prefix: str, yes_key: str = "button.yes_please"
) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts(yes_key), callback_data=f"{prefix}:yes"),
                InlineKeyboardButton(texts("button.no_thanks"), callback_data=f"{prefix}:no"),
            ]
        ]
    )


async def _load_profile(context: BotContext, user_id: int) -> Profile | None:
    async with context.session() as session, session.begin():
        return await residents.profile(session, user_id)


def _area_label(context: BotContext, profile: Profile, texts: Catalogue) -> str:
    ward = context.gazetteer.ward(profile.ward_code) if profile.ward_code else None
    return f"{ward.name}, {ward.district_name}" if ward else texts("summary.not_set")


def _details(context: BotContext, profile: Profile, texts: Catalogue) -> Html:
    yes, no = texts("summary.yes"), texts("summary.no")
    if profile.due_date is not None:
        weeks = gestation(profile.due_date, context.today())[0]
        due = texts("summary.due_known", due=texts.date(profile.due_date), weeks=weeks)
    elif profile.due_date_unknown_since is not None:
        due = texts("summary.due_unknown")
    else:
        due = texts("summary.not_set")
    matching_on = bool(profile.consents.get(ConsentPurpose.MATCHING))
    unnamed = texts("summary.not_set") if matching_on else texts("summary.name_not_needed")
    return texts(
        "summary.details",
        name=profile.display_name or unnamed,
        due=due,
        area=_area_label(context, profile, texts),
        matching=yes if profile.consents.get(ConsentPurpose.MATCHING) else no,
        local_info=yes if profile.consents.get(ConsentPurpose.LOCAL_INFO) else no,
        feedback=yes if profile.consents.get(ConsentPurpose.FEEDBACK) else no,
    )


def _after_loss_profile(
    context: BotContext, profile: Profile, texts: Catalogue
) -> tuple[Html, InlineKeyboardMarkup]:
    """/profile once her pregnancy ended: no due date, weeks or name for other mums."""
    assert profile.pregnancy_ended_on is not None
    yes, no = texts("summary.yes"), texts("summary.no")
    text = texts(
        "life.profile_after_loss",
        ended=texts.date(profile.pregnancy_ended_on),
        area=_area_label(context, profile, texts),
        local_info=yes if profile.consents.get(ConsentPurpose.LOCAL_INFO) else no,
        feedback=yes if profile.consents.get(ConsentPurpose.FEEDBACK) else no,
    )
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts("summary.done"), callback_data="ob:sum:done")],
            [InlineKeyboardButton(texts("summary.change_area"), callback_data="ob:sum:area")],
            [InlineKeyboardButton(texts("summary.change_choices"), callback_data="ob:sum:choices")],
        ]
    )
    return text, markup


def _edit_buttons(
    texts: Catalogue, last: tuple[str, str], profile: Profile
) -> InlineKeyboardMarkup:
    due_and_name = [InlineKeyboardButton(texts("summary.change_due"), callback_data="ob:sum:due")]
    if profile.consents.get(ConsentPurpose.MATCHING):
        due_and_name.append(
            InlineKeyboardButton(texts("summary.change_name"), callback_data="ob:sum:name")
        )
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts(last[0]), callback_data=last[1])],
            due_and_name,
            [InlineKeyboardButton(texts("summary.change_area"), callback_data="ob:sum:area")],
            [InlineKeyboardButton(texts("summary.change_choices"), callback_data="ob:sum:choices")],
        ]
    )


async def _prompt(update: Update, context: BotContext, profile: Profile) -> int:
    """Ask for whatever onboarding needs next and return the matching state."""
    texts = texts_for(update, context)
    step = profile.step
    if step in (Step.CONSENT_MATCHING, Step.CONSENT_LOCAL_INFO, Step.CONSENT_FEEDBACK):
        purpose = step.value.removeprefix("consent_")
        await reply(
            update,
            texts(f"consent.{purpose}"),
            reply_markup=_yes_no(texts, f"ob:consent:{purpose}"),
        )
        return CONSENT_OPTIONAL
    if step is Step.DUE_DATE:
        await _ask_due(update, texts)
        return DUE_DATE
    if step is Step.DUE_DATE_CONFIRM:
        pending = profile.pending_due_date
        assert pending is not None
        question = texts("due.confirm_again", due=texts.date(pending))
        await _ask_confirm(update, texts, question, pending)
        return DUE_CONFIRM
    if step is Step.AREA:
        await _ask_area(update, context, texts)
        return AREA
    if step is Step.NAME:
        await _ask_name(update, texts)
        return NAME
    if step is Step.WAITING_FOR_AREA:
        await reply(update, texts("welcome.waiting"), reply_markup=_area_keyboard(texts))
        return AREA
    if step is Step.DONE and profile.pregnancy_ended_on is not None:
        text, markup = _after_loss_profile(context, profile, texts)
        await reply(update, text, reply_markup=markup)
        return END
    details = _details(context, profile, texts)
    if step is Step.SUMMARY:
        await reply(
            update,
            texts("summary.onboarding", details=details),
            reply_markup=_edit_buttons(texts, ("summary.confirm", "ob:sum:ok"), profile),
        )
        return SUMMARY
    await reply(
        update,
        texts("summary.profile", details=details),
        reply_markup=_edit_buttons(texts, ("summary.done", "ob:sum:done"), profile),
    )
    return END


async def _advance(update: Update, context: BotContext) -> int:
    """Move on to the next missing piece, or say how to begin if she has no record."""
    profile = await _load_profile(context, sender(update).id)
    if profile is None:
        await reply(update, texts_for(update, context)("general.not_signed_up"))
        return END
    return await _prompt(update, context, profile)


async def start(update: Update, context: BotContext) -> int:
    """Welcome a newcomer, or pick up where she left off."""
    user = sender(update)
    texts = texts_for(update, context)
    if context.args and context.user_data is not None:
        async with context.session() as session, session.begin():
            context.user_data["source"] = await join_links.known_code(session, context.args[0])
    profile = await _load_profile(context, user.id)
    if profile is None:
        # Her Telegram app's language starts it (when offered); one tap switches, before she
        # is asked anything, so she consents in the language she reads.
        switch = language_buttons(texts.language, WELCOME_LANGUAGE)
        await reply(
            update, _welcome(update, context, texts), reply_markup=switch or ReplyKeyboardRemove()
        )
        asked = await reply(
            update,
            texts("consent.health"),
            reply_markup=_yes_no(texts, "ob:health", yes_key="button.agree"),
        )
        if asked is not None and context.user_data is not None:
            context.user_data[_CONSENT_MESSAGE] = asked.message_id
        return CONSENT_HEALTH
    if profile.step is Step.DONE:
        await reply(update, texts("welcome.back", name=profile.display_name or user.first_name))
        return END
    if profile.step is not Step.WAITING_FOR_AREA:
        await reply(update, texts("welcome.resume"))
    return await _prompt(update, context, profile)


def _welcome(update: Update, context: BotContext, texts: Catalogue) -> Html:
    settings = context.settings
    return texts(
        "welcome.new",
        first_name=sender(update).first_name,
        council=settings.council_name,
        notice_url=settings.privacy_notice_url,
    )


async def welcome_language(update: Update, context: BotContext) -> int | None:
    """She tapped a language on the welcome: the welcome and the consent question in it."""
    query = update.callback_query
    assert query is not None and query.data is not None
    code = query.data.removeprefix(WELCOME_LANGUAGE)
    if not await keep_language(update, context, code):
        await answer(query, texts_for(update, context)("general.expired_button"), alert=True)
        return None
    await answer(query)
    texts = texts_for(update, context)
    if await _load_profile(context, sender(update).id) is not None:
        # An old welcome, after she agreed: the choice is kept, and nothing else changes.
        await edit_message(update, texts("language.changed"), None)
        return None
    await edit_message(
        update, _welcome(update, context, texts), language_buttons(code, WELCOME_LANGUAGE)
    )
    question = texts("consent.health")
    buttons = _yes_no(texts, "ob:health", yes_key="button.agree")
    notes = context.user_data if context.user_data is not None else {}
    asked = notes.get(_CONSENT_MESSAGE)
    chat = update.effective_chat
    try:
        if not isinstance(asked, int) or chat is None:
            raise BadRequest("no consent question to redraw")
        # The question she has not answered yet, redrawn: no question in another language
        # is left to answer, so her consent is given to the text she reads.
        await context.bot.edit_message_text(
            question, chat.id, asked, parse_mode=ParseMode.HTML, reply_markup=buttons
        )
    except BadRequest:
        sent = await reply(update, question, reply_markup=buttons)
        if sent is not None and context.user_data is not None:
            context.user_data[_CONSENT_MESSAGE] = sent.message_id
    return CONSENT_HEALTH


async def ask_again(update: Update, context: BotContext, state: object) -> None:
    """The question sign-up or /profile is waiting for, once more (after an urgent reply)."""
    texts = texts_for(update, context)
    if state == CONSENT_HEALTH:
        await reply(
            update,
            texts("consent.health"),
            reply_markup=_yes_no(texts, "ob:health", yes_key="button.agree"),
        )
    elif state == DUE_DATE:
        await reply(update, texts("due.ask"))
    elif state == AREA:
        await _ask_area(update, context, texts)
    elif state == NAME:
        await _ask_name(update, texts)
    else:
        await _advance(update, context)


async def show_profile(update: Update, context: BotContext) -> int:
    """/profile: her details with buttons to change them."""
    return await _advance(update, context)


async def health_choice(update: Update, context: BotContext) -> int:
    """She answered the required consent with a button."""
    query = update.callback_query
    assert query is not None and query.data is not None
    evidence = _consent_context(update, context, f"button:{query.data}")
    return await _answer_health(update, context, query.data.endswith(":yes"), evidence)


async def health_text(update: Update, context: BotContext) -> int:
    """She typed her answer to the required consent: "yes", "no thanks"... work like the buttons."""
    said = read_plain_yes_no(her_text(update))
    if said is None:
        return await health_not_understood(update, context)
    texts = texts_for(update, context)
    evidence = _typed_evidence(update, context, texts("consent.health"), said)
    return await _answer_health(update, context, said, evidence)


async def _answer_health(
    update: Update, context: BotContext, granted: bool, evidence: ConsentContext
) -> int:
    user = sender(update)
    texts = texts_for(update, context)
    query = update.callback_query
    async with context.session() as session, session.begin():
        already_agreed = await residents.find_resident(session, user.id) is not None
        if already_agreed:
            pass
        elif granted:
            await residents.start_signup(
                session,
                user.id,
                texts.language,
                evidence,
                context.safeguarding_key,
            )
        else:
            await residents.record_refusal(session, evidence)
    if already_agreed:
        # A double tap or an old welcome message: she has already agreed, so nothing changes.
        # (Her own press delivered again is no mistake of hers: it just brings the next step.)
        if query is not None and redelivered():
            await answer(query)
            await note_answer(update, texts("consent.answered_health_data"))
        elif query is not None:
            await answer(query, texts("general.stale_button"), alert=True)
        return await _advance(update, context)
    if query is not None:
        await answer(query)
    if not granted:
        await clear_buttons(query)
        await reply(update, texts("consent.declined"))
        return END
    await note_answer(update, texts("consent.answered_health_data"))
    return await _advance(update, context)


def _typed_evidence(
    update: Update, context: BotContext, question: Html, said: bool
) -> ConsentContext:
    """Evidence for a typed yes or no: the question as she saw it (Telegram shows it as text)."""
    shown = html.unescape(re.sub(r"<[^>]+>", "", question)).strip()
    source = context.user_data.get("source") if context.user_data is not None else None
    method = f"typed:{'yes' if said else 'no'}"
    return consent_evidence(update, context, shown, method, source)


@_signed_up
async def optional_choice(update: Update, context: BotContext) -> int | None:
    """She answered one of the optional consents with a button."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, name, choice = query.data.split(":")
    evidence = _consent_context(update, context, f"button:{query.data}")
    return await _answer_optional(
        update, context, _PURPOSE_BY_NAME[name], choice == "yes", evidence
    )


@_signed_up
async def optional_text(update: Update, context: BotContext) -> int | None:
    """She typed her answer to the optional consent asked now: yes or no work like the buttons."""
    said = read_plain_yes_no(her_text(update))
    profile = await _load_profile(context, sender(update).id)
    if profile is None:
        raise NotSignedUp
    name = profile.step.value.removeprefix("consent_")
    if said is None or name not in _PURPOSE_BY_NAME:
        return await buttons_not_understood(update, context)
    evidence = _typed_evidence(update, context, texts_for(update, context)(f"consent.{name}"), said)
    return await _answer_optional(update, context, _PURPOSE_BY_NAME[name], said, evidence)


async def _answer_optional(
    update: Update,
    context: BotContext,
    purpose: ConsentPurpose,
    granted: bool,
    evidence: ConsentContext,
) -> int | None:
    query = update.callback_query
    async with context.session() as session, session.begin():
        profile = await residents.profile(session, sender(update).id)
        if profile is None:
            raise NotSignedUp
        asked_now = profile.step.value == f"consent_{purpose.value}"
        if asked_now:
            await residents.set_consent(session, sender(update).id, purpose, granted, evidence)
        # Her answer was recorded in sign-up, but what came after it may never have reached
        # her. (Once signed up, an old card's press stays stale: /profile may be under way.)
        replayed = (
            redelivered()
            and profile.step is not Step.DONE
            and profile.consents.get(purpose) is granted
        )
    if not asked_now and not replayed:
        # An earlier question's button: her answer to it stands; /privacy changes it. Whatever
        # she is doing now (a due date, a /profile change) stays where it was.
        if query is not None:
            await answer(query, texts_for(update, context)("general.stale_button"), alert=True)
        return None
    if query is not None:
        await answer(query)
    choice = "yes" if granted else "no"
    await note_answer(
        update, texts_for(update, context)(f"consent.answered_{purpose.value}_{choice}")
    )
    return await _advance(update, context)


async def _ask_due(update: Update, texts: Catalogue, key: str = "due.ask") -> None:
    await _ask_due_with(update, texts, texts(key))


async def _ask_due_with(update: Update, texts: Catalogue, question: Html) -> None:
    """The due-date question (or a re-ask) with its "I don't know yet" button."""
    await reply(
        update,
        question,
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton(texts("due.unknown_button"), callback_data="ob:due:unknown")]]
        ),
    )


async def _ask_confirm(update: Update, texts: Catalogue, question: Html, due: dt.date) -> None:
    # The date rides in the buttons so a yes on an older question can't confirm a newer date.
    code = due.isoformat()
    await reply(
        update,
        question,
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts("due.confirm_yes"), callback_data=f"ob:due:yes:{code}"
                    ),
                    InlineKeyboardButton(texts("due.confirm_no"), callback_data="ob:due:no"),
                ]
            ]
        ),
    )


def _confirm_question(texts: Catalogue, parsed: DueDate, today: dt.date) -> Html:
    """How her words were read, ending in the question: every form shows the date."""
    due = texts.date(parsed.value)
    if parsed.read_as is not None:
        why = "due.why_past" if parsed.read_as < today else "due.why_too_far"
        return texts(
            "due.did_you_mean", read_as=texts.date(parsed.read_as), why=texts(why), due=due
        )
    weeks, days = gestation(parsed.value, today)
    return texts(
        f"due.confirm_{parsed.basis}",
        due=due,
        count=parsed.count,
        weeks=weeks,
        days=days,
        month=texts.month_name(parsed.value),
    )


async def _take_due_answer(update: Update, context: BotContext, text: str) -> int:
    """Read a typed due-date answer; ask her to confirm what it gives, or say what went wrong."""
    texts = texts_for(update, context)
    today = context.today()
    parsed = parse_due_date(text, today)
    if isinstance(parsed, DueDateProblem):
        problem = texts(f"due.{parsed.reason}")
        if parsed.read_as is not None:
            problem = Html(f"{texts('due.read_as', read_as=texts.date(parsed.read_as))} {problem}")
        await _ask_due_with(update, texts, problem)
        return DUE_DATE
    if not isinstance(parsed, DueDate):
        return await _due_not_known(update, context)
    async with context.session() as session, session.begin():
        await residents.propose_due_date(session, sender(update).id, parsed.value, context.now())
    await _ask_confirm(update, texts, _confirm_question(texts, parsed, today), parsed.value)
    return DUE_CONFIRM


async def _due_not_known(update: Update, context: BotContext) -> int:
    """She doesn't know yet: sign-up carries on, and the question comes back in two weeks."""
    texts = texts_for(update, context)
    ask_at = context.settings.quiet_hours.next_send_time(
        context.now() + residents.ASK_DUE_DATE_AGAIN_AFTER
    )
    button = render.button("due.reminder_button", callback_data="ob:sum:due")
    button["text"] = texts.raw("due.reminder_button")
    async with context.session() as session, session.begin():
        noted = await residents.due_date_not_known(
            session,
            sender(update).id,
            context.now(),
            ask_at=ask_at,
            text=texts("due.reminder"),
            buttons=[[button]],
            template=render.message_template("due.reminder"),
        )
        profile = await residents.profile(session, sender(update).id)
    if noted:
        on = texts.date(ask_at.astimezone(context.settings.zone).date())
        await reply(update, texts("due.not_known", date=on))
    elif profile is not None and profile.due_date is not None:
        await reply(update, texts("due.kept", due=texts.date(profile.due_date)))
    return await _advance(update, context)


@_signed_up
async def due_date_text(update: Update, context: BotContext) -> int:
    """She typed her due date (or how far along she is, or that she doesn't know yet)."""
    return await _take_due_answer(update, context, her_text(update))


async def due_date_not_text(update: Update, context: BotContext) -> int:
    """Something other than text arrived while we wait for a due date."""
    await _ask_due(update, texts_for(update, context), "due.not_text")
    return DUE_DATE


@_signed_up
async def due_unknown(update: Update, context: BotContext) -> int:
    """She tapped "I don't know yet"."""
    query = update.callback_query
    assert query is not None
    await answer(query)
    await clear_buttons(query)
    return await _due_not_known(update, context)


async def _confirmed(update: Update, context: BotContext, shown: dt.date | None) -> int | None:
    texts = texts_for(update, context)
    async with context.session() as session, session.begin():
        stored = await residents.confirm_due_date(session, sender(update).id, shown, context.now())
    query = update.callback_query
    if stored is None and redelivered() and shown is not None:
        profile = await _load_profile(context, sender(update).id)
        in_sign_up = profile is not None and profile.step is not Step.DONE
        if in_sign_up and profile is not None and profile.due_date == shown:
            # This very answer was stored before; what came after it may never have reached her.
            stored = shown
    if stored is None and query is not None:
        # An older question's button (or a made-up one): whatever she is answering now, a
        # /profile change included, stays where it was.
        await answer(query, texts("general.stale_button"), alert=True)
        return None
    if stored is None:
        return await _advance(update, context)
    if query is not None:
        await answer(query)
    await note_answer(update, texts("due.saved", due=texts.date(stored)))
    return await _advance(update, context)


async def _rejected(update: Update, context: BotContext) -> int | None:
    async with context.session() as session, session.begin():
        waiting = await residents.reject_due_date(session, sender(update).id, context.now())
    query = update.callback_query
    if not waiting and query is not None:
        # No date is waiting for her yes or no: an old (or made-up) button changes nothing.
        await answer(query, texts_for(update, context)("general.stale_button"), alert=True)
        return None
    if query is not None:
        await answer(query)
        await clear_buttons(query)
    await _ask_due(update, texts_for(update, context), "due.ask_again")
    return DUE_DATE


@_signed_up
async def due_confirm_button(update: Update, context: BotContext) -> int | None:
    """She tapped Yes or No under the date we read."""
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    if parts[2] == "no":
        return await _rejected(update, context)
    try:
        shown = dt.date.fromisoformat(parts[3])
    except (IndexError, ValueError):
        await answer(query, texts_for(update, context)("general.bad_button"), alert=True)
        return None
    return await _confirmed(update, context, shown)


@_signed_up
async def due_confirm_text(update: Update, context: BotContext) -> int | None:
    """She typed her answer to "is that right?" (or simply a different date)."""
    text = her_text(update)
    said = read_yes_no(text)
    if said is True:
        return await _confirmed(update, context, None)
    if said is False:
        return await _rejected(update, context)
    if not isinstance(parse_due_date(text, context.today()), DueDateProblem):
        return await _take_due_answer(update, context, text)
    return await due_confirm_not_understood(update, context)


async def due_confirm_not_understood(update: Update, context: BotContext) -> int:
    """Neither yes, no nor a date: ask the same question again."""
    profile = await _load_profile(context, sender(update).id)
    if profile is None or profile.pending_due_date is None:
        return await _advance(update, context)
    texts = texts_for(update, context)
    question = texts("due.confirm_not_understood", due=texts.date(profile.pending_due_date))
    await _ask_confirm(update, texts, question, profile.pending_due_date)
    return DUE_CONFIRM


def _area_keyboard(texts: Catalogue) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(texts("area.share_location"), request_location=True)],
            [KeyboardButton(texts("area.choose_from_list"))],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


async def _ask_area(update: Update, context: BotContext, texts: Catalogue) -> None:
    _drop_area_card(context)
    await reply(update, texts("area.ask"), reply_markup=_area_keyboard(texts))


async def _area_card(
    update: Update,
    context: BotContext,
    text: Html,
    markup: InlineKeyboardMarkup,
    *,
    edit: bool = False,
) -> int:
    """Show area buttons to choose from, and note them so they can be shown again."""
    if context.user_data is not None:
        context.user_data[_AREA_CARD] = {"text": text, "markup": markup.to_dict()}
    if edit and update.callback_query is not None:
        await edit_message(update, text, markup)
    else:
        await reply(update, text, reply_markup=markup)
    return AREA


def _drop_area_card(context: BotContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(_AREA_CARD, None)


def _ward_rows(wards: list[Ward] | tuple[Ward, ...]) -> list[list[InlineKeyboardButton]]:
    buttons = [InlineKeyboardButton(w.name, callback_data=f"ob:ward:{w.code}") for w in wards]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


async def _suggested_district(context: BotContext) -> str | None:
    """The district her join link suggests, if she came through a live one that has one."""
    source = (context.user_data or {}).get("source")
    if not isinstance(source, str):
        return None
    async with context.session() as session:
        link = await join_links.live_link(session, source)
    return link.district_code if link else None


async def _show_districts(update: Update, context: BotContext, edit: bool) -> int:
    texts = texts_for(update, context)
    # A midwife's join link may suggest her clinic's district: it comes first, starred.
    suggested = await _suggested_district(context)
    star = texts.raw("joinlink.suggested_district")
    buttons = [
        InlineKeyboardButton(
            star.format(district=d.name) if d.code == suggested else d.name,
            callback_data=f"ob:dist:{d.code}",
        )
        for d in sorted(context.gazetteer.districts(), key=lambda d: d.code != suggested)
    ]
    markup = InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])
    return await _area_card(update, context, texts("area.choose_district"), markup, edit=edit)


async def area_list(update: Update, context: BotContext) -> int:
    """She wants to choose her area from a list."""
    if update.callback_query:
        await answer(update.callback_query)
        return await _show_districts(update, context, edit=True)
    return await _show_districts(update, context, edit=False)


async def area_district(update: Update, context: BotContext) -> int:
    """She picked a district: show its wards, a page at a time."""
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    district = context.gazetteer.district(parts[2])
    page = int(parts[3]) if len(parts) > 3 else 0
    wards = context.gazetteer.wards_in(parts[2]) if district else []
    texts = texts_for(update, context)
    if district is None or page * WARDS_PER_PAGE >= len(wards):
        await answer(query, texts("general.bad_button"), alert=True)
        return AREA
    await answer(query)
    return await _area_card(
        update,
        context,
        texts("area.choose_ward", district=district.name),
        _ward_page(texts, district, wards, page),
        edit=True,
    )


def _ward_page(
    texts: Catalogue, district: District, wards: list[Ward], page: int
) -> InlineKeyboardMarkup:
    """One page of a district's wards, with Back/More and "Choose another area"."""
    shown = wards[page * WARDS_PER_PAGE : (page + 1) * WARDS_PER_PAGE]
    rows = _ward_rows(shown)
    nav = []
    if page > 0:
        nav.append(
            InlineKeyboardButton(
                texts("area.back"), callback_data=f"ob:dist:{district.code}:{page - 1}"
            )
        )
    if (page + 1) * WARDS_PER_PAGE < len(wards):
        nav.append(
            InlineKeyboardButton(
                texts("area.more"), callback_data=f"ob:dist:{district.code}:{page + 1}"
            )
        )
    if nav:
        rows.append(nav)
    rows.append([InlineKeyboardButton(texts("area.other_area"), callback_data="ob:area:list")])
    return InlineKeyboardMarkup(rows)


async def _choose_place(update: Update, context: BotContext, found: ChoosePlace) -> int:
    """A place name that fits several wards, or a district: she picks with buttons."""
    texts = texts_for(update, context)
    district = found.district
    if not found.wards and district is not None:
        wards = context.gazetteer.wards_in(district.code)
        return await _area_card(
            update,
            context,
            texts("area.choose_ward", district=district.name),
            _ward_page(texts, district, wards, 0),
        )
    shown = found.wards[:20]
    # Names repeat across districts ("Trinity"), so the district tells them apart.
    spread = len({w.district_code for w in shown}) > 1
    buttons = [
        InlineKeyboardButton(
            (f"{w.name}, {w.district_name}" if spread else w.name)[:60],
            callback_data=f"ob:ward:{w.code}",
        )
        for w in shown
    ]
    rows = (
        [[b] for b in buttons]
        if spread
        else [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    )
    if district is not None:
        label = texts.raw("area.more_in_district").format(district=district.name)
        rows.append([InlineKeyboardButton(label[:60], callback_data=f"ob:dist:{district.code}")])
    rows.append([InlineKeyboardButton(texts("area.other_area"), callback_data="ob:area:list")])
    return await _area_card(
        update, context, texts("area.choose_place", place=found.place), InlineKeyboardMarkup(rows)
    )


async def _save_ward(update: Update, context: BotContext, ward: Ward) -> int:
    _drop_area_card(context)
    async with context.session() as session, session.begin():
        await residents.set_ward(
            session, sender(update).id, ward.code, ward.district_code, context.now()
        )
    if context.user_data is not None:
        context.user_data.pop("outcode", None)
    texts = texts_for(update, context)
    await reply(
        update,
        texts("area.saved", ward=ward.name, district=ward.district_name),
        reply_markup=ReplyKeyboardRemove(),
    )
    return await _advance(update, context)


@_signed_up
async def area_ward(update: Update, context: BotContext) -> int:
    """She picked a ward from the buttons."""
    query = update.callback_query
    assert query is not None and query.data is not None
    ward = context.gazetteer.ward(query.data.split(":")[2])
    if ward is None:
        await answer(query, texts_for(update, context)("general.bad_button"), alert=True)
        return AREA
    await answer(query)
    await clear_buttons(query)
    return await _save_ward(update, context, ward)


async def _handle_resolution(update: Update, context: BotContext, found: Resolution) -> int:
    texts = texts_for(update, context)
    if isinstance(found, WardFound):
        return await _save_ward(update, context, found.ward)
    if isinstance(found, ChoosePlace):
        return await _choose_place(update, context, found)
    if isinstance(found, ChooseWard):
        rows = _ward_rows(found.wards[:20])
        rows.append([InlineKeyboardButton(texts("area.other_area"), callback_data="ob:area:list")])
        return await _area_card(
            update,
            context,
            texts("area.choose_ward_for_outcode", outcode=found.outcode),
            InlineKeyboardMarkup(rows),
        )
    if isinstance(found, OutsideArea):
        ward = found.nearest
        return await _area_card(
            update,
            context,
            texts(
                "area.outside",
                miles=round(found.distance_km / KM_PER_MILE),
                ward=ward.name,
                district=ward.district_name,
            ),
            InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            texts("area.use_nearest", ward=ward.name)[:60],
                            callback_data=f"ob:ward:{ward.code}",
                        )
                    ],
                    [
                        InlineKeyboardButton(
                            texts("area.tell_me_later"), callback_data="ob:area:wait"
                        )
                    ],
                    [InlineKeyboardButton(texts("area.try_again"), callback_data="ob:area:retry")],
                ]
            ),
        )
    assert isinstance(found, NotRecognised)
    await reply(update, texts(f"area.{found.reason}"), reply_markup=_area_keyboard(texts))
    return AREA


@_signed_up
async def area_location(update: Update, context: BotContext) -> int:
    """She shared her location: resolve it offline and keep only the ward."""
    location = her_message(update).location
    if location is None:
        raise ApplicationHandlerStop
    _drop_area_card(context)
    if context.user_data is not None:
        context.user_data.pop("outcode", None)
    found = context.gazetteer.resolve_point(location.latitude, location.longitude)
    return await _handle_resolution(update, context, found)


@_signed_up
async def area_text(update: Update, context: BotContext) -> int:
    """She typed a postcode, a postcode district, or (if enabled) a place name."""
    text = her_text(update).strip()
    texts = texts_for(update, context)
    _drop_area_card(context)
    if text == texts("area.choose_from_list"):
        return await _show_districts(update, context, edit=False)
    found = context.gazetteer.resolve_text(text)
    if isinstance(found, NotRecognised) and found.reason == "format":
        # Not a postcode: a ward's or district's name is known offline, with no geocoder.
        found = context.gazetteer.resolve_place(text)
    place_search = context.place_search
    if isinstance(found, NotRecognised) and found.reason == "format" and place_search is not None:
        try:
            point = await place_search.locate(text)
        except Exception:
            logger.warning("place search failed")
            await reply(
                update, texts("area.lookup_unavailable"), reply_markup=_area_keyboard(texts)
            )
            return AREA
        if point is not None:
            found = context.gazetteer.resolve_point(*point)
            if isinstance(found, WardFound):
                found = WardFound(found.ward, via="place")
    if context.user_data is not None:
        outcode = text.upper().split()[0][:4] if isinstance(found, OutsideArea) else None
        context.user_data["outcode"] = outcode
    return await _handle_resolution(update, context, found)


@_signed_up
async def area_wait(update: Update, context: BotContext) -> int:
    """Outside the area: she'd like to hear when the service reaches her."""
    query = update.callback_query
    assert query is not None
    await answer(query)
    await clear_buttons(query)
    _drop_area_card(context)
    outcode = context.user_data.get("outcode") if context.user_data is not None else None
    async with context.session() as session, session.begin():
        await residents.wait_for_area(session, sender(update).id, outcode, context.now())
    await reply(
        update, texts_for(update, context)("area.waiting"), reply_markup=ReplyKeyboardRemove()
    )
    return END


async def area_retry(update: Update, context: BotContext) -> int:
    """Outside the area: she wants to try another postcode."""
    query = update.callback_query
    assert query is not None
    await answer(query)
    await clear_buttons(query)
    _drop_area_card(context)
    texts = texts_for(update, context)
    await reply(update, texts("area.try_again_prompt"), reply_markup=_area_keyboard(texts))
    return AREA


async def area_not_understood(update: Update, context: BotContext) -> int:
    """Neither text nor a location arrived while we wait for her area: the buttons she is
    choosing from again, or the question."""
    card = (context.user_data or {}).get(_AREA_CARD)
    if isinstance(card, dict) and isinstance(card.get("text"), str):
        markup = InlineKeyboardMarkup.de_json(card.get("markup") or {}, context.bot)
        if markup is not None:
            await reply(update, card["text"], reply_markup=markup)
            return AREA
    texts = texts_for(update, context)
    await reply(update, texts("area.not_understood"), reply_markup=_area_keyboard(texts))
    return AREA


async def _ask_name(update: Update, texts: Catalogue) -> None:
    first_name = sender(update).first_name
    if residents.clean_display_name(first_name) is None:
        await reply(update, texts("name.ask_no_default"))
        return
    await reply(
        update,
        texts("name.ask", first_name=first_name),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts("name.use_default", first_name=first_name)[:60],
                        callback_data="ob:name:default",
                    )
                ]
            ]
        ),
    )


async def _save_name(update: Update, context: BotContext, raw: str) -> int:
    name = residents.clean_display_name(raw)
    if name is None:
        await reply(
            update, texts_for(update, context)("name.invalid", max=residents.DISPLAY_NAME_MAX)
        )
        return NAME
    async with context.session() as session, session.begin():
        await residents.set_display_name(session, sender(update).id, name, context.now())
    return await _advance(update, context)


@_signed_up
async def name_default(update: Update, context: BotContext) -> int:
    """She'll use her Telegram first name."""
    query = update.callback_query
    assert query is not None
    await answer(query)
    await clear_buttons(query)
    return await _save_name(update, context, sender(update).first_name)


@_signed_up
async def name_text(update: Update, context: BotContext) -> int:
    """She typed the name she'd like to use."""
    return await _save_name(update, context, her_text(update))


async def name_not_text(update: Update, context: BotContext) -> int:
    """Something other than text arrived while we wait for a name: ask again, with its button."""
    texts = texts_for(update, context)
    await reply(update, texts("name.not_text"))
    await _ask_name(update, texts)
    return NAME


async def _matching_offer(update: Update, context: BotContext) -> InlineKeyboardMarkup | None:
    """Nearby members hear she joined, and she is offered her matches (if she is in the pool)."""
    rules = MatchRules.from_settings(context.settings)
    neighbours = ward_neighbours(context.gazetteer, rules.distance_km)
    async with context.session() as session, session.begin():
        welcomed = await matching_news.welcome_newcomer(
            session, sender(update).id, context.now(), rules, neighbours
        )
    if not welcomed:
        return None
    rows = matching_news.find_button(texts_for(update, context))
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
            for row in rows
        ]
    )


@_signed_up
async def summary_confirm(update: Update, context: BotContext) -> int:
    """She confirmed her details: she's signed up."""
    query = update.callback_query
    assert query is not None
    async with context.session() as session, session.begin():
        done = await residents.complete_signup(session, sender(update).id, context.now())
    await answer(query)
    await clear_buttons(query)
    if not done:
        return await _advance(update, context)
    profile = await _load_profile(context, sender(update).id)
    name = profile.display_name if profile and profile.display_name else sender(update).first_name
    matching_on = bool(profile and profile.consents.get(ConsentPurpose.MATCHING))
    texts = texts_for(update, context)
    if not matching_on:
        closing = texts("summary.closing_no_matching")
    elif profile is not None and profile.due_date is None:
        # Suggestions need a due date: say so rather than promise news that can't come yet.
        closing = texts("summary.closing_matching_needs_due_date")
    else:
        closing = texts("summary.closing_matching")
    # With matching consent, the message offers her matches and nearby members hear she joined.
    offer = await _matching_offer(update, context)
    await reply(update, texts("summary.all_set", name=name, closing=closing), reply_markup=offer)
    return END


async def summary_change(update: Update, context: BotContext) -> int:
    """A change button on the summary or /profile."""
    query = update.callback_query
    assert query is not None and query.data is not None
    texts = texts_for(update, context)
    item = query.data.rsplit(":", 1)[1]
    profile = await _load_profile(context, sender(update).id)
    # NAME too: turning matching on in /privacy offers "Choose my name", which lands here.
    if profile is None or profile.step not in (Step.SUMMARY, Step.DONE, Step.NAME):
        await answer(query, texts("general.stale_button"), alert=True)
        return END if profile is None else await _prompt(update, context, profile)
    if profile.pregnancy_ended_on is not None and item in ("due", "name"):
        # An old /profile message: there is no due date or name for other mums to change now.
        await answer(query, texts("life.profile_button_after_loss"), alert=True)
        return END
    await answer(query)
    await clear_buttons(query)
    if item == "due":
        await _ask_due(update, texts)
        return DUE_DATE
    if item == "area":
        await _ask_area(update, context, texts)
        return AREA
    await _ask_name(update, texts)
    return NAME


async def profile_done(update: Update, context: BotContext) -> int | None:
    """She's finished looking at /profile."""
    query = update.callback_query
    assert query is not None
    profile = await _load_profile(context, sender(update).id)
    if profile is None or profile.step is not Step.DONE:
        # Mid sign-up there is no /profile to close: an old or made-up Done leaves her there.
        await answer(query, texts_for(update, context)("general.stale_button"), alert=True)
        return None
    await answer(query, texts_for(update, context)("summary.closed"))
    await clear_buttons(query)
    return END


async def stale_button(update: Update, context: BotContext) -> None:
    """A sign-up button from an earlier step: say so and stay where we are."""
    if update.callback_query:
        await answer(
            update.callback_query, texts_for(update, context)("general.stale_button"), alert=True
        )


async def cancel(update: Update, context: BotContext) -> int:
    """/cancel: stop the conversation; everything saved so far is kept."""
    await reply(
        update, texts_for(update, context)("general.cancelled"), reply_markup=ReplyKeyboardRemove()
    )
    return END


async def not_signed_up(update: Update, context: BotContext) -> int:
    """A step found no record: she declined or was forgotten in the meantime."""
    await reply(
        update,
        texts_for(update, context)("general.not_signed_up"),
        reply_markup=ReplyKeyboardRemove(),
    )
    return END


async def resume_signup(update: Update, context: BotContext) -> None:
    """A message no conversation took: if her sign-up is unfinished, it answers the question.

    The conversation's place is stored (bot/ordered.py), but one ended by /cancel, or begun
    before it was, is not running: where she is then comes from her record, and the answer
    goes to the same handler.
    """
    message = update.effective_message
    profile = await _load_profile(context, sender(update).id)
    if message is None or profile is None or profile.step is Step.DONE:
        await fallback_message(update, context)
        return
    step = profile.step
    if step is Step.DUE_DATE and message.text:
        await due_date_text(update, context)
    elif step is Step.DUE_DATE_CONFIRM and message.text:
        await due_confirm_text(update, context)
    elif step in (Step.AREA, Step.WAITING_FOR_AREA) and message.location:
        await area_location(update, context)
    elif step in (Step.AREA, Step.WAITING_FOR_AREA) and message.text:
        await area_text(update, context)
    elif step is Step.NAME and message.text:
        await name_text(update, context)
    elif step in _OPTIONAL_STEPS and message.text and read_plain_yes_no(message.text) is not None:
        await optional_text(update, context)
    else:
        # A button is what she needs here (a consent, the summary): ask it again.
        await reply(update, texts_for(update, context)("general.use_buttons"))
        await _prompt(update, context, profile)


async def health_not_understood(update: Update, context: BotContext) -> int:
    """Anything but a button while we ask the required consent: ask it again."""
    texts = texts_for(update, context)
    await reply(update, texts("general.use_buttons"))
    await reply(
        update,
        texts("consent.health"),
        reply_markup=_yes_no(texts, "ob:health", yes_key="button.agree"),
    )
    return CONSENT_HEALTH


async def buttons_not_understood(update: Update, context: BotContext) -> int:
    """Anything but a button while a consent or the summary waits: ask it again."""
    await reply(update, texts_for(update, context)("general.use_buttons"))
    return await _advance(update, context)


_TEXT = filters.TEXT & ~filters.COMMAND
_OPTIONAL_STEPS = (Step.CONSENT_MATCHING, Step.CONSENT_LOCAL_INFO, Step.CONSENT_FEEDBACK)
_CHANGE = r"^ob:sum:(due|area|name)$"
_HEALTH = r"^ob:health:(yes|no)$"
_OPTIONAL = r"^ob:consent:(matching|local_info|feedback):(yes|no)$"
_DUE_CONFIRM = r"^ob:due:(yes:\d{4}-\d{2}-\d{2}|no)$"


def onboarding_conversation(show_choices: Callback) -> ConversationHandler[Any]:
    """Sign-up and /profile as one conversation whose states read like the flow.

    `show_choices` answers the summary's "your choices" button: the /privacy screen, which
    bot/app.py passes in (one handler module never imports another).
    """
    # Buttons are tracked per chat, not per message: stale ones are answered by stale_button.
    return conversation(
        name="onboarding",
        entry_points=[
            CommandHandler("start", start, filters=filters.ChatType.PRIVATE),
            CommandHandler("profile", show_profile, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(summary_change, pattern=_CHANGE),
            # /profile ends the conversation once shown, so its Done button must be an entry.
            CallbackQueryHandler(profile_done, pattern=r"^ob:sum:done$"),
            # These check her stored step themselves, so they also work after a restart.
            CallbackQueryHandler(health_choice, pattern=_HEALTH),
            CallbackQueryHandler(optional_choice, pattern=_OPTIONAL),
            CallbackQueryHandler(due_confirm_button, pattern=_DUE_CONFIRM),
            CallbackQueryHandler(due_unknown, pattern=r"^ob:due:unknown$"),
            CallbackQueryHandler(summary_confirm, pattern=r"^ob:sum:ok$"),
            CallbackQueryHandler(welcome_language, pattern=_WELCOME_LANGUAGE),
        ],
        states={
            CONSENT_HEALTH: [
                CallbackQueryHandler(welcome_language, pattern=_WELCOME_LANGUAGE),
                CallbackQueryHandler(health_choice, pattern=_HEALTH),
                MessageHandler(_TEXT, health_text),
                MessageHandler(~filters.COMMAND, health_not_understood),
            ],
            CONSENT_OPTIONAL: [
                CallbackQueryHandler(optional_choice, pattern=_OPTIONAL),
                MessageHandler(_TEXT, optional_text),
                MessageHandler(~filters.COMMAND, buttons_not_understood),
            ],
            DUE_DATE: [
                MessageHandler(_TEXT, due_date_text),
                MessageHandler(~filters.COMMAND, due_date_not_text),
            ],
            DUE_CONFIRM: [
                MessageHandler(_TEXT, due_confirm_text),
                MessageHandler(~filters.COMMAND, due_confirm_not_understood),
            ],
            AREA: [
                MessageHandler(filters.LOCATION, area_location),
                MessageHandler(_TEXT, area_text),
                CallbackQueryHandler(area_list, pattern=r"^ob:area:list$"),
                CallbackQueryHandler(area_district, pattern=r"^ob:dist:E\d{8}(:\d{1,2})?$"),
                CallbackQueryHandler(area_ward, pattern=r"^ob:ward:E\d{8}$"),
                CallbackQueryHandler(area_wait, pattern=r"^ob:area:wait$"),
                CallbackQueryHandler(area_retry, pattern=r"^ob:area:retry$"),
                MessageHandler(~filters.COMMAND, area_not_understood),
            ],
            NAME: [
                CallbackQueryHandler(name_default, pattern=r"^ob:name:default$"),
                MessageHandler(_TEXT, name_text),
                MessageHandler(~filters.COMMAND, name_not_text),
            ],
            SUMMARY: [
                CallbackQueryHandler(summary_confirm, pattern=r"^ob:sum:ok$"),
                MessageHandler(~filters.COMMAND, buttons_not_understood),
            ],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            CallbackQueryHandler(summary_change, pattern=_CHANGE),
            CallbackQueryHandler(profile_done, pattern=r"^ob:sum:done$"),
            CallbackQueryHandler(show_choices, pattern=r"^ob:sum:choices$"),
            CallbackQueryHandler(stale_button, pattern=r"^ob:"),
        ],
        allow_reentry=True,
    )
