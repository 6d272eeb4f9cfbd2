"""Whether bulk messages can reach her: Telegram tells us when she blocks or unblocks the bot."""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.ext import ChatMemberHandler

from bot.context import BotApplication, BotContext
from bot.delivery import queue

# Its own group: matching follows my_chat_member too (the bot's rights in groups).
REACHABILITY_GROUP = 2


async def track_private_membership(update: Update, context: BotContext) -> None:
    """She blocked the bot (stop bulk sends now) or unblocked it (start again)."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    status = change.new_chat_member.status
    async with context.session() as session, session.begin():
        if status in (ChatMember.BANNED, ChatMember.LEFT):
            await queue.mark_unreachable(session, change.chat.id, context.now())
        elif status == ChatMember.MEMBER:
            await queue.mark_reachable(session, change.chat.id)


def reachability_handler() -> ChatMemberHandler[BotContext, None]:
    """Register in a group of its own: other features follow my_chat_member too."""
    return ChatMemberHandler(track_private_membership, ChatMemberHandler.MY_CHAT_MEMBER)


def register(application: BotApplication) -> None:
    """Blocking and unblocking the bot, for bulk sends."""
    application.add_handler(reachability_handler(), group=REACHABILITY_GROUP)
