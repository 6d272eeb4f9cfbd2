"""Builds the Telegram application: every handler, registered in one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.context import BotApplication, BotContext, BotData
from bot.db import create_engine, create_sessionmaker
from bot.handlers import common, data_rights, privacy
from bot.handlers.onboarding import onboarding_conversation
from bot.services.geo import default_gazetteer
from bot.services.place_search import create_place_search

logger = logging.getLogger(__name__)

COMMANDS = [
    ("start", "Sign up, or carry on signing up"),
    ("profile", "See or change your details"),
    ("privacy", "Your choices and our privacy notice"),
    ("mydata", "Get a copy of your data"),
    ("forget", "Delete your data"),
    ("help", "What I can do"),
]


async def post_init(application: BotApplication) -> None:
    """Create the long-lived things: database engine, gazetteer, optional geocoder."""
    data = application.bot_data
    assert data.settings is not None
    data.engine = create_engine(data.settings.database_url)
    data.sessionmaker = create_sessionmaker(data.engine)
    data.gazetteer = default_gazetteer()
    data.place_search = create_place_search(
        data.settings.geocoder, data.settings.geocoder_user_agent
    )
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])


async def post_shutdown(application: BotApplication) -> None:
    """Close what post_init opened."""
    data = application.bot_data
    if data.place_search is not None:
        await data.place_search.close()
    if data.engine is not None:
        await data.engine.dispose()


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limit: bool = True,
) -> BotApplication:
    """The bot with all its handlers; `request` lets tests plug in the fake Bot API."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is required to build the application")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .context_types(ContextTypes(context=BotContext, bot_data=BotData))
        .defaults(Defaults(tzinfo=settings.zone))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if settings.bot_api_base_url:
        builder = builder.base_url(settings.bot_api_base_url)
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
    application: BotApplication = builder.build()
    application.bot_data.settings = settings
    application.bot_data.clock = clock or SystemClock()

    private = filters.ChatType.PRIVATE
    # Group -1 runs before everything: a button pressed outside her own chat never acts.
    application.add_handler(TypeHandler(Update, common.guard_button_owner), group=-1)

    application.add_handler(onboarding_conversation())
    application.add_handler(CommandHandler("privacy", privacy.show_privacy, filters=private))
    application.add_handler(CallbackQueryHandler(privacy.change_choice, pattern=r"^pv:"))
    application.add_handler(CallbackQueryHandler(privacy.show_privacy, pattern=r"^ob:sum:choices$"))
    application.add_handler(CommandHandler("mydata", data_rights.send_my_data, filters=private))
    application.add_handler(CommandHandler("forget", data_rights.ask_forget, filters=private))
    application.add_handler(
        CallbackQueryHandler(data_rights.confirm_forget, pattern=r"^fg:(yes|no)$")
    )
    application.add_handler(CommandHandler("help", common.show_help))
    application.add_handler(CommandHandler("cancel", common.show_help))
    application.add_handler(MessageHandler(filters.COMMAND, common.unknown_command))
    application.add_handler(MessageHandler(private & ~filters.COMMAND, common.fallback_message))
    application.add_handler(CallbackQueryHandler(common.expired_button))
    application.add_error_handler(common.on_error)
    return application


@asynccontextmanager
async def running(application: BotApplication) -> AsyncIterator[BotApplication]:
    """Run the application's lifecycle (with post_init/post_shutdown) around a block."""
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        try:
            yield application
        finally:
            await application.stop()
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
