"""Registers local information: /services and its buttons, the daily plan, the content watch."""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.context import BotApplication
from bot.handlers.local_info import browse, jobs


def register(application: BotApplication) -> None:
    """/services and its pages, then the daily job and the watch for newly loaded content."""
    application.add_handler(
        CommandHandler("services", browse.show_services, filters=filters.ChatType.PRIVATE)
    )
    application.add_handler(
        CallbackQueryHandler(browse.show_category, pattern=browse.SERVICES_PATTERN)
    )
    application.add_handler(CallbackQueryHandler(browse.show_services, pattern=browse.HOME_PATTERN))
    jobs.schedule_daily(application)
    jobs.schedule_content_watch(application)
