"""Wiring for the staff features: their handlers, start-up work and jobs, for bot/app.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from telegram import Message
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotApplication
from bot.handlers.staff import accounts as staff
from bot.handlers.staff import broadcast, moderation, my_id, reports
from bot.handlers.staff import links as staff_links
from bot.services.residents.start_payload import start_payload
from bot.services.staff.accounts import INVITE_PREFIX, list_staff


class _InvitationStart(filters.MessageFilter):
    """/start with a staff invitation, however /start was typed (spaces, @BotName, capitals)."""

    def filter(self, message: Message) -> bool:
        payload = start_payload(message.text or "")
        return payload is not None and payload.startswith(INVITE_PREFIX)


def staff_join_handler() -> CommandHandler[Any, None]:
    """/start staff_<token>; registered before sign-up so an invitation never starts it."""
    return CommandHandler(
        "start", staff.join_as_staff, filters=filters.ChatType.PRIVATE & _InvitationStart()
    )


# Runs before the usual /help (group 0), which follows it for staff and residents alike.
STAFF_HELP_GROUP = -3


def staff_help_handler() -> CommandHandler[Any, None]:
    """/help from staff: their own commands, then (in group 0) what everyone gets."""
    return CommandHandler("help", staff.show_staff_help, filters=filters.ChatType.PRIVATE)


def staff_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Every staff command and button."""
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("report", reports.send_report, filters=private),
        staff_links.joinlink_conversation(),
        broadcast.broadcast_conversation(),
        CommandHandler("staff", staff.show_staff, filters=private),
        CommandHandler("audit", staff.send_audit, filters=private),
        CommandHandler("scheduled", broadcast.list_scheduled, filters=private),
        CommandHandler("mystats", staff_links.show_stats, filters=private),
        CommandHandler("moderation", moderation.show_reports, filters=private),
        # Anyone may ask: it shows only her own id, which the council needs to make her staff.
        CommandHandler("myid", my_id.show_my_id, filters=private),
        CallbackQueryHandler(staff.invite, pattern=r"^st:inv:"),
        CallbackQueryHandler(staff.ask_revoke, pattern=r"^st:rv:\d{1,9}$"),
        CallbackQueryHandler(staff.revoke, pattern=r"^st:(rvy:\d{1,9}|rvn)$"),
        CallbackQueryHandler(staff_links.revoke_link, pattern=r"^jl:rv:"),
        CallbackQueryHandler(moderation.decide, pattern=r"^md:"),
    ]


async def staff_post_init(application: BotApplication) -> None:
    """Staff menus match the staff table; broadcasts that were going carry on being watched."""
    data = application.bot_data
    assert data.sessionmaker is not None
    async with data.sessionmaker() as session:
        members = await list_staff(session)
    await staff.sync_all_commands(application.bot, members)
    await broadcast.resume(application)


def schedule_staff_jobs(application: BotApplication) -> None:
    """Scheduled broadcasts are released by a job (only with the background worker running)."""
    settings = application.bot_data.settings
    if application.bot_data.delivery_worker and application.job_queue is not None and settings:
        every = dt.timedelta(seconds=settings.broadcast_release_seconds)
        application.job_queue.run_repeating(
            broadcast.release_scheduled, interval=every, first=every
        )


def register_invitations(application: BotApplication) -> None:
    """Ahead of sign-up: /start with a staff invitation; and staff's own /help (group -3)."""
    application.add_handler(staff_join_handler())
    application.add_handler(staff_help_handler(), group=STAFF_HELP_GROUP)


def register(application: BotApplication) -> None:
    """Every staff command and button, and the job that releases scheduled broadcasts."""
    application.add_handlers(staff_handlers())
    schedule_staff_jobs(application)
