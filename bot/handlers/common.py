"""Helpers every handler uses, and the handlers for what no other handler wanted."""

from __future__ import annotations

import logging
import traceback

from telegram import CallbackQuery, Message, Update, User
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.context import BotContext
from bot.services.consent import ConsentContext, Controller
from bot.services.residents import find_resident
from bot.texts import Catalogue, Html, catalogue

logger = logging.getLogger(__name__)


def texts_for(update: object) -> Catalogue:
    """The catalogue in the language of whoever sent the update."""
    user = update.effective_user if isinstance(update, Update) else None
    return catalogue(user.language_code if user else None)


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
        language=texts_for(update).language,
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


async def reply(update: Update, text: Html, **kwargs: object) -> Message | None:
    """Send HTML text to the chat the update came from."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(text, parse_mode=ParseMode.HTML, **kwargs)  # type: ignore[arg-type]


async def answer(query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
    """Answer a button press so the spinner stops; a failure to answer is not worth an error."""
    try:
        await query.answer(text=text, show_alert=alert)
    except TelegramError:
        # The answer is cosmetic: an old query can no longer be answered and that is fine.
        logger.debug("callback query could not be answered")


async def guard_button_owner(update: Update, context: BotContext) -> None:
    """Drop button presses on messages that are not this person's own chat with the bot."""
    query = update.callback_query
    if query is None:
        return
    message = query.message
    # Callback data is user-controlled: a press only counts inside her private chat with us,
    # so a button from someone else's conversation can never act for that person.
    if message is None or message.chat.id != query.from_user.id:
        await answer(query, texts_for(update)("general.not_your_button"), alert=True)
        raise ApplicationHandlerStop


async def unknown_command(update: Update, context: BotContext) -> None:
    """Reply to a command we don't have."""
    await reply(update, texts_for(update)("general.unknown_command"))


async def fallback_message(update: Update, context: BotContext) -> None:
    """Reply to a message no conversation was waiting for."""
    user = sender(update)
    async with context.session() as session, session.begin():
        resident = await find_resident(session, user.id)
    key = "general.fallback" if resident else "general.not_signed_up"
    await reply(update, texts_for(update)(key))


async def expired_button(update: Update, context: BotContext) -> None:
    """A button from a conversation that has ended (or from before a restart)."""
    if update.callback_query:
        await answer(update.callback_query, texts_for(update)("general.expired_button"), True)


async def show_help(update: Update, context: BotContext) -> None:
    """List what the bot can do."""
    await reply(update, texts_for(update)("general.help"))


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
    logger.error("handler failed: %s", _safe_traceback(error))
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        if update.callback_query:
            await answer(update.callback_query)
        await reply(update, texts_for(update)("general.error"))
    except TelegramError:
        logger.warning("could not send the apology either")
