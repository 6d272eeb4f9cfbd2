"""/myid: her own Telegram user id, which an admin needs to make her staff."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.handlers.common import reply, sender, texts_for


async def show_my_id(update: Update, context: BotContext) -> None:
    """Tell the sender her own Telegram user id (only ever her own; nothing is stored)."""
    await reply(update, texts_for(update, context)("staff.my_id", user_id=sender(update).id))
