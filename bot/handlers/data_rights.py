"""/mydata and /forget: a copy of everything we hold, and erasure."""

from __future__ import annotations

import json
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.command_menus import forget_her_menu
from bot.context import BotApplication, BotContext
from bot.handlers.common import (
    answer,
    ask_yes_no,
    clear_buttons,
    deliver_owed,
    reply,
    sender,
    texts_for,
)
from bot.services.residents import data_rights
from bot.services.residents.data_rights import export_personal_data
from bot.services.residents.data_summary import code_meanings, summarise
from bot.services.staff.accounts import active_staff

_ANSWER = re.compile(r"fg:(yes|no):([A-Za-z0-9_-]{1,32})")


async def send_my_data(update: Update, context: BotContext) -> None:
    """/mydata: everything held about her, in words in the chat and as a JSON document."""
    texts = texts_for(update, context)
    async with context.session() as session, session.begin():
        document = await export_personal_data(session, sender(update).id, context.now())
    chat = update.effective_chat
    if document is None or chat is None:
        await reply(update, texts("mydata.nothing"))
        return
    profile = document["profile"]
    ward = context.gazetteer.ward(profile["ward_code"]) if profile["ward_code"] else None
    if ward is not None:
        profile["ward_name"] = ward.name
        profile["district_name"] = ward.district_name
    area = f"{ward.name}, {ward.district_name}" if ward else None
    document["what_the_codes_mean"] = code_meanings(
        texts, profile, ward.name if ward else None, ward.district_name if ward else None
    )
    await reply(update, summarise(document, texts, area))
    payload = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
    await chat.send_document(
        InputFile(payload, filename=texts.raw("mydata.filename")),
        caption=texts("mydata.caption"),
        parse_mode="HTML",
    )


async def ask_forget(update: Update, context: BotContext) -> None:
    """/forget: ask her to confirm before anything is erased."""
    texts = texts_for(update, context)
    async with context.session() as session, session.begin():
        nonce = await data_rights.ask_to_forget(session, sender(update).id)
    if nonce is None:
        await reply(update, texts("forget.nothing"))
        return
    yes, no = f"fg:yes:{nonce}", f"fg:no:{nonce}"
    await ask_yes_no(
        update,
        context,
        texts("forget.confirm"),
        InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(texts("forget.yes"), callback_data=yes)],
                [InlineKeyboardButton(texts("forget.no"), callback_data=no)],
            ]
        ),
        yes=yes,
        no=no,
    )


async def confirm_forget(update: Update, context: BotContext) -> None:
    """She answered the /forget question; only the question she was last shown counts."""
    query = update.callback_query
    assert query is not None and query.data is not None
    texts = texts_for(update, context)
    match = _ANSWER.fullmatch(query.data)
    if match is None:
        await answer(query, texts("general.expired_button"), alert=True)
        return
    choice, nonce = match[1], match[2]
    user_id = sender(update).id
    async with context.session() as session, session.begin():
        if choice == "no":
            done = await data_rights.call_off_forget(session, user_id, nonce)
        else:
            done = await data_rights.confirm_forget(
                session, user_id, nonce, context.safeguarding_key, context.now()
            )
        # Staff keep the menu staff sync gives them; a resident's own menu goes with her.
        is_staff = await active_staff(session, user_id) is not None
    if not done:
        await answer(query, texts("general.expired_button"), alert=True)
        return
    await answer(query)
    await clear_buttons(query)
    if choice == "no":
        await reply(update, texts("forget.kept"))
        return
    if context.user_data is not None:
        context.user_data.clear()
    if not is_staff and update.effective_chat is not None:
        await forget_her_menu(context.bot, update.effective_chat.id)
    # Anything that showed her in other mums' chats is taken back straight away.
    await deliver_owed(context)
    await reply(update, texts("forget.done"))


async def delete_everything(update: Update, context: BotContext) -> None:
    """After a loss (the button under life_events' message): she'd like everything deleted; the
    usual /forget confirmation follows."""
    query = update.callback_query
    assert query is not None
    await answer(query)
    await clear_buttons(query)
    await ask_forget(update, context)


def register(application: BotApplication) -> None:
    """/mydata, /forget and its confirmation, and the after-loss "delete everything" button."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("mydata", send_my_data, filters=private))
    application.add_handler(CommandHandler("forget", ask_forget, filters=private))
    application.add_handler(CallbackQueryHandler(confirm_forget, pattern=r"^fg:"))
    application.add_handler(CallbackQueryHandler(delete_everything, pattern=r"^le:delete$"))
