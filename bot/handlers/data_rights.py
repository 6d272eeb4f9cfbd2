"""/mydata and /forget: a copy of everything we hold, and erasure."""

from __future__ import annotations

import json

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update

from bot.context import BotContext
from bot.handlers.common import answer, reply, sender, texts_for
from bot.handlers.matching import deliver_owed
from bot.services.data_rights import export_personal_data, forget_resident
from bot.services.residents import find_resident


async def send_my_data(update: Update, context: BotContext) -> None:
    """/mydata: everything held about her, as a JSON document."""
    texts = texts_for(update)
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
    payload = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
    await chat.send_document(
        InputFile(payload, filename=texts.raw("mydata.filename")),
        caption=texts("mydata.caption"),
        parse_mode="HTML",
    )


async def ask_forget(update: Update, context: BotContext) -> None:
    """/forget: ask her to confirm before anything is erased."""
    texts = texts_for(update)
    async with context.session() as session, session.begin():
        resident = await find_resident(session, sender(update).id)
    if resident is None:
        await reply(update, texts("forget.nothing"))
        return
    await reply(
        update,
        texts("forget.confirm"),
        reply_markup=InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(texts("forget.yes"), callback_data="fg:yes")],
                [InlineKeyboardButton(texts("forget.no"), callback_data="fg:no")],
            ]
        ),
    )


async def confirm_forget(update: Update, context: BotContext) -> None:
    """She answered the /forget question."""
    query = update.callback_query
    assert query is not None and query.data is not None
    texts = texts_for(update)
    await answer(query)
    await query.edit_message_reply_markup(None)
    if query.data != "fg:yes":
        await reply(update, texts("forget.kept"))
        return
    async with context.session() as session, session.begin():
        erased = await forget_resident(
            session, sender(update).id, context.safeguarding_key, context.now()
        )
    if context.user_data is not None:
        context.user_data.clear()
    if erased:
        # Anything that showed her in other mums' chats is taken back straight away.
        await deliver_owed(context)
    await reply(update, texts("forget.done" if erased else "forget.nothing"))
