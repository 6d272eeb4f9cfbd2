"""/console: sign in to the staff web console, by a one-time link or by approving a desk's code.

Also the bot's side of the console's upkeep: the leader's heartbeat (the overview's "bot running")
and an hourly purge of sign-ins nobody can use any more. Both are leader-only jobs (bot/app.py).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.ext import CommandHandler, filters

from bot.console import housekeeping
from bot.console.sessions import approve_code, create_link, link_url
from bot.context import BotApplication, BotContext
from bot.handlers.common import reply, sender, texts_for, unknown_command
from bot.services.staff.accounts import active_staff

logger = logging.getLogger(__name__)

HEARTBEAT_JOB = "console_heartbeat"
PURGE_JOB = "console_purge"


def console_url(context: BotContext) -> str:
    """Where the console is, as staff reach it."""
    settings = context.settings
    return settings.console_public_url or (
        f"http://{settings.console_host}:{settings.console_port}"
    )


async def sign_in(update: Update, context: BotContext) -> None:
    """/console [CODE]: any current member of staff; anyone else sees an unknown command."""
    texts = texts_for(update, context)
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


async def heartbeat(context: BotContext) -> None:
    """The leader is alive: the console's overview shows when it last said so."""
    job = context.job
    assert job is not None and isinstance(job.data, dict)
    now = context.now()
    started = job.data.setdefault("started_at", now)
    async with context.session() as session, session.begin():
        await housekeeping.beat(session, now, started, context.bot_data.content_digest)


async def purge(context: BotContext) -> None:
    """Delete ended or expired console sessions, unapproved codes and spent sign-in links."""
    async with context.session() as session, session.begin():
        sessions, links = await housekeeping.purge_expired(session, context.now())
    logger.info("console purge: %d sessions and %d sign-in links removed", sessions, links)


def register(application: BotApplication) -> None:
    """/console, and the console's upkeep jobs (leader only, like all recurring jobs)."""
    application.add_handler(console_handler())
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("python-telegram-bot's job-queue extra is required")
    job_queue.run_repeating(
        heartbeat,
        interval=housekeeping.HEARTBEAT_INTERVAL,
        # Soon after start-up, not at once: post_init and the first updates come first.
        first=10,
        name=HEARTBEAT_JOB,
        data={},
    )
    job_queue.run_repeating(purge, interval=housekeeping.PURGE_INTERVAL, first=60, name=PURGE_JOB)
