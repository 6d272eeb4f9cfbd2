"""/language: she chooses the language the bot writes to her in, at any time."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.context import BotApplication, BotContext
from bot.handlers.common import (
    answer,
    edit_message,
    keep_language,
    language_buttons,
    reply,
    texts_for,
)

CALLBACK_PREFIX = "lang:"


async def choose(update: Update, context: BotContext) -> None:
    """/language: a button for each other language offered, or why there is none."""
    texts = texts_for(update, context)
    markup = language_buttons(texts.language, CALLBACK_PREFIX)
    if markup is None:
        await reply(update, texts("language.only_one"))
        return
    await reply(update, texts("language.choose"), reply_markup=markup)


async def chosen(update: Update, context: BotContext) -> None:
    """She tapped a language: kept on her profile, and said in that language."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if not await keep_language(update, context, query.data.removeprefix(CALLBACK_PREFIX)):
        await answer(query, texts_for(update, context)("general.expired_button"), alert=True)
        return
    await answer(query)
    await edit_message(update, texts_for(update, context)("language.changed"), None)


def register(application: BotApplication) -> None:
    """/language and its buttons."""
    application.add_handler(CommandHandler("language", choose, filters=filters.ChatType.PRIVATE))
    application.add_handler(CallbackQueryHandler(chosen, pattern=r"^lang:[a-z]{2,3}$"))
