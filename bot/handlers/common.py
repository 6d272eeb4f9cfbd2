"""Helpers every handler uses, and the handlers for what no other handler wanted."""

from __future__ import annotations

import html
import logging
import re
import traceback
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ApplicationHandlerStop, ConversationHandler
from telegram.warnings import PTBUserWarning

from bot.command_menus import show_her_menu_in
from bot.context import BotContext
from bot.db import note_database_failure
from bot.delivery import queue
from bot.delivery.queue import NewDelivery
from bot.languages import native_name, served, served_languages
from bot.services.conversations.answers import read_plain_yes_no
from bot.services.matching import news as matching_news
from bot.services.matching import outbox as matching_outbox
from bot.services.residents import profile as residents_profile
from bot.services.residents.consent import ConsentContext, Controller
from bot.services.residents.profile import find_resident
from bot.services.staff import accounts as staff
from bot.services.staff.accounts import Permission
from bot.texts import Catalogue, Html, catalogue
from models import OutboxKind, StaffMember

logger = logging.getLogger(__name__)


# Her choice of language before she has a profile (the welcome's switch, /language), kept
# with her flow notes (bot/ordered.py stores them; /forget erases them).
LANGUAGE_NOTE = "language"


def texts_for(update: object, context: BotContext) -> Catalogue:
    """The catalogue in the language of whoever sent the update (see note_language)."""
    if context.language is not None:
        return catalogue(context.language)
    user = update.effective_user if isinstance(update, Update) else None
    return catalogue(user.language_code if user else None)


async def note_language(update: object, context: BotContext) -> None:
    """Before any handler: her language for this update, through bot/languages.py's gate.

    Her profile's language, else the one she chose before signing up, else her Telegram app's
    (which picks the starting language when it is offered).
    """
    user = update.effective_user if isinstance(update, Update) else None
    if user is None:
        return
    async with context.session() as session:
        stored = await residents_profile.language_of(session, user.id)
    notes = context.user_data if context.user_data is not None else {}
    context.language = served(stored or notes.get(LANGUAGE_NOTE) or user.language_code)


async def keep_language(update: Update, context: BotContext, code: str) -> bool:
    """Keep the language she chose: on her profile, or with her flow notes until she has one.

    `code` comes from callback data, so only a language this process serves is taken.
    """
    if code not in served_languages():
        return False
    user_id = sender(update).id
    async with context.session() as session, session.begin():
        kept = await residents_profile.set_language(session, user_id, code, context.now())
        is_staff = await staff.active_staff(session, user_id) is not None
    if not kept and context.user_data is not None:
        context.user_data[LANGUAGE_NOTE] = code
    context.language = code
    if not is_staff and update.effective_chat is not None:
        # Telegram would show the menu of her app's language; she chose another.
        await show_her_menu_in(context.bot, update.effective_chat.id, code)
    return True


def language_buttons(current: str, prefix: str) -> InlineKeyboardMarkup | None:
    """One tap to another offered language ("Polski · Română · اردو · English"), or None when
    English is the only one. Callback data is `<prefix><code>`."""
    # English last: "Polski · Română · اردو · English".
    order = [*served_languages()[1:], served_languages()[0]]
    others = [code for code in order if code != current]
    if not others:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(native_name(code), callback_data=f"{prefix}{code}")
                for code in others
            ]
        ]
    )


def consent_evidence(
    update: Update, context: BotContext, shown_text: str, method: str, source: str | None
) -> ConsentContext:
    """Everything a consent receipt records about a choice she just made, besides the choice."""
    settings = context.settings
    return ConsentContext(
        notice_version=settings.privacy_notice_version,
        shown_text=shown_text,
        method=method[:64],
        source=source,
        now=context.now(),
        language=texts_for(update, context).language,
        controller=Controller(
            name=settings.council_name,
            contact=f"{settings.council_contact_email}, {settings.council_contact_phone}",
            notice_url=settings.privacy_notice_url,
        ),
    )


def sender(update: Update) -> User:
    """The person behind the update; every handler here runs only for updates that have one."""
    user = update.effective_user
    if user is None:
        raise ApplicationHandlerStop
    return user


def her_message(update: Update) -> Message:
    """The message a step answers: what she just sent, or her edit of an earlier message.

    An edit is taken as a new answer to the question pending now, as if she had typed it
    again; handlers read this instead of update.message, which is None for an edit.
    """
    message = update.effective_message
    if message is None:
        raise ApplicationHandlerStop
    return message


def her_text(update: Update) -> str:
    """The text of her message or edit (handlers that call this are filtered on text)."""
    text = her_message(update).text
    if text is None:
        raise ApplicationHandlerStop
    return text


async def reply(update: Update, text: Html, **kwargs: object) -> Message | None:
    """Send HTML text to the chat the update came from."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(text, parse_mode=ParseMode.HTML, **kwargs)  # type: ignore[arg-type]


def stored_buttons(markup: InlineKeyboardMarkup | None) -> list[list[dict[str, Any]]] | None:
    """Inline buttons as a delivery row keeps them; the engine rebuilds them when it sends."""
    if markup is None:
        return None
    return [[button.to_dict() for button in row] for row in markup.inline_keyboard]


async def queue_messages(context: BotContext, messages: Sequence[NewDelivery]) -> int:
    """Put messages she did not just ask for on the delivery queue, and wake the engine.

    The engine then applies every sending rule: Telegram's limits, quiet hours, unreachable
    residents, retries, and resuming after a crash. Returns how many were new.
    """
    if not messages:
        return 0
    async with context.session() as session, session.begin():
        queued = await queue.enqueue(session, messages, context.now())
    context.delivery.wake()
    return queued


async def retract_message(context: BotContext, chat_id: int, message_id: int, text: Html) -> None:
    """Replace an earlier message in her chat (and its buttons) at once: the one way to take
    something back. Editing makes no sound, so it need not wait for the engine."""
    try:
        await context.bot.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML
        )
    except Forbidden:
        # She blocked the bot: the same rule as the engine's, so nothing more is tried.
        async with context.session() as session, session.begin():
            await queue.mark_unreachable(session, chat_id, context.now())
    except TelegramError as error:
        # Deleted by her, or too old to edit: nothing of the other person is left to show.
        logger.debug("retraction skipped: %s", type(error).__name__)


_RETRACTED = {
    OutboxKind.RETRACT_CARD: "match.retracted_card",
    OutboxKind.RETRACT_REQUEST: "match.retracted_request",
    OutboxKind.RETRACT_INTRODUCTION: "match.retracted_introduction",
    OutboxKind.RETRACT_LIST: "match.retracted_list",
}


async def deliver_owed(context: BotContext) -> None:
    """Tidy other residents' chats after a change, and queue the kind words owed to them."""
    async with context.session() as session, session.begin():
        items = await matching_outbox.owed(
            session, (*matching_outbox.RETRACTIONS, OutboxKind.NOT_THIS_TIME)
        )
    queued = False
    for item in items:
        # Claimed before acting, so two drains at once never do the same thing twice; the kind
        # words are queued in that same unit of work, so a crash loses none.
        async with context.session() as session, session.begin():
            claimed = await matching_outbox.done(session, item.id)
            if claimed and item.kind is OutboxKind.NOT_THIS_TIME:
                told = await matching_news.queue_not_this_time(session, item, context.now())
                queued = queued or told
        if claimed and item.kind is not OutboxKind.NOT_THIS_TIME:
            assert item.message_id is not None
            texts = catalogue(item.language_code)
            await retract_message(
                context, item.telegram_user_id, item.message_id, texts(_RETRACTED[item.kind])
            )
    if queued:
        context.delivery.wake()


async def answer(query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
    """Answer a button press so the spinner stops; a failure to answer is not worth an error.

    A typed yes or no (see take_typed_yes_no) has no spinner: what a pop-up would say is sent
    to her chat instead, so a typed answer is never met with silence.
    """
    if typed(query):
        message = query.message
        if text and isinstance(message, Message):
            await message.chat.send_message(text, parse_mode=ParseMode.HTML)
        return
    try:
        await query.answer(text=text, show_alert=alert)
    except TelegramError:
        # The answer is cosmetic: an old query can no longer be answered and that is fine.
        logger.debug("callback query could not be answered")


def offered_here(query: CallbackQuery) -> bool:
    """Whether the message pressed carries this very button.

    Telegram sends the message as it is now, so data that none of its buttons carries was made
    up, or comes from a keyboard already replaced: a step whose record quotes the message she
    pressed (a consent receipt) must not act on it.
    """
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return False
    return any(b.callback_data == query.data for row in markup.inline_keyboard for b in row)


async def clear_buttons(query: CallbackQuery | None) -> None:
    """Take the buttons off the message pressed (if a button was pressed at all), so it can't be
    pressed again; a message that has none already is fine."""
    if query is None:
        return
    try:
        await query.edit_message_reply_markup(None)
    except BadRequest:
        # A double tap, or a forged press on a message without buttons: nothing to take off.
        logger.debug("buttons were already removed")


# Telegram's longest message; a card that would outgrow it with her answer gets a new message.
_MESSAGE_LIMIT = 4096


async def note_answer(update: Update, note: Html) -> None:
    """Note her answer under the question whose button she pressed, with its buttons taken off;
    a typed answer (nothing pressed to note it on) gets the note as a message of its own.

    Telegram allows one message a second in her chat and edits are free: a note sent as a
    message of its own would hold the next question back by a second.
    """
    query = update.callback_query
    card = query.message if query is not None else None
    if query is not None and not typed(query) and isinstance(card, Message) and card.text:
        plain_note = html.unescape(re.sub(r"<[^>]+>", "", note))
        if card.text.endswith(plain_note):
            # Noted already (a second tap, or the same press delivered again).
            await clear_buttons(query)
            return
        noted = f"{card.text_html}\n\n{note}"
        if len(card.text) + 2 + len(plain_note) <= _MESSAGE_LIMIT:
            try:
                await query.edit_message_text(noted, parse_mode=ParseMode.HTML, reply_markup=None)
                return
            except BadRequest as refused:
                if "not modified" in str(refused).lower():
                    # Noted already (the same press delivered again): nothing to add.
                    return
                logger.debug("the card could not take the note")
    await clear_buttons(query)
    await reply(update, note)


async def edit_message(
    update: Update, text: Html, markup: InlineKeyboardMarkup | None, *, or_send: bool = True
) -> Message | None:
    """Redraw the message whose button she pressed.

    Telegram refuses to edit a message that is too old, gone, or already shows exactly this:
    then the new state is sent as a new message, or, with `or_send=False` (a page she is
    already looking at), nothing happens.
    """
    query = update.callback_query
    assert query is not None
    try:
        edited = await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest:
        if or_send:
            return await reply(update, text, reply_markup=markup)
        logger.debug("message left as it was")
        return None
    return edited if isinstance(edited, Message) else None


def conversation(**kwargs: Any) -> ConversationHandler[Any]:
    """A ConversationHandler whose buttons are tracked per chat and user, not per message.

    That is the intent in every flow here: each checks a pressed button against what we hold
    and answers stale ones itself. PTB warns about it at construction, so this is the one place
    that silences that warning (warnings are errors in tests).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
        return ConversationHandler(**kwargs)


async def guard_button_owner(update: Update, context: BotContext) -> None:
    """Drop button presses on messages that are not this person's own chat with the bot."""
    query = update.callback_query
    if query is None:
        return
    message = query.message
    # Callback data is user-controlled: a press only counts inside her private chat with us,
    # so a button from someone else's conversation can never act for that person.
    if message is None or message.chat.id != query.from_user.id:
        await answer(query, texts_for(update, context)("general.not_your_button"), alert=True)
        raise ApplicationHandlerStop


AskAgain = Callable[[Update, BotContext, object], Awaitable[object]]


@dataclass(frozen=True)
class PendingQuestion:
    """A conversation, and how it asks the question it is waiting for in a given state."""

    conversation: ConversationHandler[Any]
    ask_again: AskAgain


def conversation_state(conversation: ConversationHandler[Any], update: Update) -> object | None:
    """The state this person's conversation is in, or None when it isn't running.

    Valid while an update is handled: bot/ordered.py loads the stored state into the handler
    for that update only."""
    # PTB offers no public getter for a conversation's state: this is the one place that reads
    # it, so a change in PTB breaks here (and in tests/test_urgent_flows.py), not in every flow.
    try:
        key = conversation._get_key(update)
    except RuntimeError:
        return None
    state = conversation._conversations.get(key)
    return state if isinstance(state, int | str) else None


async def ask_pending_again(
    update: Update, context: BotContext, pending: Sequence[PendingQuestion]
) -> bool:
    """Ask the question a running conversation is waiting for once more (e.g. after an
    interruption); False when she is in no conversation."""
    for question in pending:
        state = conversation_state(question.conversation, update)
        if state is not None:
            await question.ask_again(update, context, state)
            return True
    return False


def ask_again_or(
    waiting: Sequence[PendingQuestion], otherwise: Callable[[Update, BotContext], Awaitable[None]]
) -> Callable[[Update, BotContext], Coroutine[Any, Any, None]]:
    """A message no flow took: if a flow waits for a button, say so and ask its question again
    (never a dead end); otherwise `otherwise` answers it."""

    async def handle(update: Update, context: BotContext) -> None:
        await yes_no_asked_again(
            update, context, texts_for(update, context)("general.answer_yes_no")
        )
        for question in waiting:
            state = conversation_state(question.conversation, update)
            if state is not None:
                await reply(update, texts_for(update, context)("general.use_buttons"))
                await question.ask_again(update, context, state)
                return
        await otherwise(update, context)

    return handle


async def unknown_command(update: Update, context: BotContext) -> None:
    """Reply to a command we don't have."""
    await reply(update, texts_for(update, context)("general.unknown_command"))


def unknown_command_then_ask_again(
    pending: Sequence[PendingQuestion],
) -> Callable[[Update, BotContext], Coroutine[Any, Any, None]]:
    """A command we don't have, in the middle of a flow: say so, then ask its question again."""

    async def handle(update: Update, context: BotContext) -> None:
        await unknown_command(update, context)
        texts = texts_for(update, context)
        await yes_no_asked_again(update, context, texts("general.still_waiting"))
        for question in pending:
            state = conversation_state(question.conversation, update)
            if state is not None:
                await reply(update, texts("general.still_waiting"))
                await question.ask_again(update, context, state)
                return

    return handle


async def guard(
    update: Update, context: BotContext, permission: Permission, action: str
) -> StaffMember | None:
    """The member if she may do this; otherwise answer as for an unknown command and None.

    Every staff command and button asks this, so refusals look the same everywhere and a
    refusal of someone who is staff is audited (authorise() records it).
    """
    async with context.session() as session, session.begin():
        access = await staff.authorise(
            session, sender(update).id, permission, context.now(), action
        )
    if access.member is not None:
        return access.member
    query = update.callback_query
    if query is not None:
        await answer(query, texts_for(update, context)("general.expired_button"), alert=True)
    else:
        await unknown_command(update, context)
    return None


async def fallback_message(update: Update, context: BotContext) -> None:
    """Reply to a message no conversation was waiting for."""
    user = sender(update)
    async with context.session() as session, session.begin():
        known = await find_resident(session, user.id) or await staff.active_staff(session, user.id)
    # Staff are pointed to /help (their commands), never asked to sign up as a resident.
    key = "general.fallback" if known else "general.not_signed_up"
    await reply(update, texts_for(update, context)(key))


async def expired_button(update: Update, context: BotContext) -> None:
    """A button from a conversation that has ended (or from before a restart)."""
    if update.callback_query:
        await answer(
            update.callback_query, texts_for(update, context)("general.expired_button"), True
        )


async def show_help(update: Update, context: BotContext) -> None:
    """List what the bot can do."""
    await reply(update, texts_for(update, context)("general.help"))


def _safe_traceback(error: BaseException) -> str:
    # Only where it failed, never the exception message: messages can carry personal data
    # (SQL parameters, user text), and logs must hold none.
    frames = traceback.extract_tb(error.__traceback__)[-12:]
    where = " <- ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in frames[::-1]
    )
    return f"{type(error).__module__}.{type(error).__qualname__} at {where}"


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure without personal data and apologise to the person it happened to."""
    error = context.error
    if error is None:
        return
    if note_database_failure(error):
        # The webhook answers 503 and Telegram pushes the update again: no apology for a
        # message that will be answered properly moments later.
        logger.warning(
            "database unavailable: %s; the update is left for Telegram to push again",
            type(error).__qualname__,
        )
        # And no later handler group runs on a database that is not there.
        raise ApplicationHandlerStop
    logger.error("handler failed: %s", _safe_traceback(error))
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        if update.callback_query:
            await answer(update.callback_query)
        await reply(update, texts_for(update, context)("general.error"))
    except TelegramError:
        logger.warning("could not send the apology either")


# Where the Yes/No question she was asked last is noted in her flow notes (user_data, kept in
# the database per update by bot/ordered.py), so any worker reads her typed answer after it.
YES_NO_NOTE = "yes_no"
_TYPED = "typed:"


def typed(query: CallbackQuery) -> bool:
    """Whether this "press" is a typed yes or no standing in for the button."""
    return query.id.startswith(_TYPED)


def answer_method(query: CallbackQuery) -> str:
    """How she answered, as a consent receipt records it: the button, or typed yes/no."""
    if typed(query):
        return query.id.rsplit(":", 1)[0]
    return f"button:{query.data}"


async def ask_yes_no(
    update: Update,
    context: BotContext,
    text: Html,
    markup: InlineKeyboardMarkup,
    *,
    yes: str,
    no: str,
    redraw: bool = False,
) -> None:
    """Ask a question with Yes/No buttons (a new message, or, with `redraw`, the message whose
    button she pressed) and note it, so a typed yes or no answers it like its buttons."""
    if redraw and update.callback_query is not None:
        sent = await edit_message(update, text, markup)
    else:
        sent = await reply(update, text, reply_markup=markup)
    if sent is None or context.user_data is None:
        return
    context.user_data[YES_NO_NOTE] = {
        "message_id": sent.message_id,
        "text": sent.text or "",
        "html": text,
        "buttons": stored_buttons(markup),
        "yes": yes,
        "no": no,
        "asked_in": update.update_id,
    }


def _yes_no_note(context: BotContext) -> dict[str, Any] | None:
    note = context.user_data.get(YES_NO_NOTE) if context.user_data is not None else None
    return note if isinstance(note, dict) else None


async def take_typed_yes_no(update: Update, context: BotContext) -> None:
    """A typed yes or no to the Yes/No question asked last works exactly like its button.

    The press is made up from the note and handled in this update's turn, by the very handler
    the button would reach (checks, stale questions and all); its message is the question's.
    """
    note = _yes_no_note(context)
    message = update.message or update.edited_message
    if note is None or message is None or message.text is None:
        return
    said = read_plain_yes_no(message.text)
    if said is None:
        return
    assert context.user_data is not None
    context.user_data.pop(YES_NO_NOTE, None)
    chat, user = message.chat, sender(update)
    press = {
        "update_id": update.update_id,
        "callback_query": {
            "id": f"{_TYPED}{'yes' if said else 'no'}:{update.update_id}",
            "from": user.to_dict(),
            "chat_instance": _TYPED,
            "data": note["yes" if said else "no"],
            "message": {
                "message_id": note["message_id"],
                "date": int(message.date.timestamp()),
                "chat": chat.to_dict(),
                "text": note["text"],
                "reply_markup": {"inline_keyboard": note["buttons"]},
            },
        },
    }
    # Application's own process_update, not OrderedApplication's: this update already holds
    # the chat's turn, and the press belongs to it.
    application: Application[Any, Any, Any, Any, Any, Any] = context.application
    await Application.process_update(application, Update.de_json(press, context.bot))
    raise ApplicationHandlerStop


async def yes_no_asked_again(update: Update, context: BotContext, lead: Html) -> None:
    """If a Yes/No question waits, say `lead`, ask it again with its buttons, and stop."""
    note = _yes_no_note(context)
    if note is None:
        return
    await reply(update, lead)
    markup = InlineKeyboardMarkup.de_json({"inline_keyboard": note["buttons"]}, context.bot)
    await reply(update, Html(note["html"]), reply_markup=markup)
    # The note stays as it was (a typed answer still takes the question's first message off
    # its buttons), and this update stops here so it is not taken for her moving on.
    raise ApplicationHandlerStop


async def drop_unanswered_yes_no(update: Update, context: BotContext) -> None:
    """Anything else she did since the Yes/No question (a button, a command, another flow's
    answer) leaves it behind: a later "yes" must never answer a question she has moved on from."""
    note = _yes_no_note(context)
    query = update.callback_query
    if query is not None and not offered_here(query):
        return  # a made-up press is no answer to anything
    if note is not None and note.get("asked_in") != update.update_id:
        assert context.user_data is not None
        context.user_data.pop(YES_NO_NOTE, None)
