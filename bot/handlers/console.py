"""/console: sign in to the staff web console, by a one-time link or by approving a desk's code."""

from __future__ import annotations

from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.ext import CommandHandler, filters

from bot.console.sessions import approve_code, create_link, link_url
from bot.context import BotContext
from bot.handlers.common import reply, sender, texts_for, unknown_command
from bot.services.staff.accounts import active_staff


def console_url(context: BotContext) -> str:
    """Where the console is, as staff reach it."""
    settings = context.settings
    return settings.console_public_url or (
        f"http://{settings.console_host}:{settings.console_port}"
    )


async def sign_in(update: Update, context: BotContext) -> None:
    """/console [CODE]: any current member of staff; anyone else sees an unknown command."""
    texts = texts_for(update)
    code = " ".join(context.args or [])
    async with context.session() as session, session.begin():
        member = await active_staff(session, sender(update).id)
        if member is None:
            approved = None
        elif code:
            approved = await approve_code(session, member, code, context.now())
        else:
            token = await create_link(session, member, context.now())
    if member is None:
        await unknown_command(update, context)
    elif code:
        await reply(update, texts("console.approved" if approved else "console.code_unknown"))
    else:
        # No preview: the link works once and the page asks for a click, but a preview
        # fetching it would still be one more request nobody asked for.
        await reply(
            update,
            texts("console.link", url=link_url(console_url(context), token)),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )


def console_handler() -> CommandHandler[Any, None]:
    """The /console command, private chats only."""
    return CommandHandler("console", sign_in, filters=filters.ChatType.PRIVATE)
