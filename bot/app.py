"""Builds the Telegram application: every handler, registered in one place."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
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

from bot import jobs
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.context import BotApplication, BotContext, BotData, safeguarding_key
from bot.db import create_engine, create_sessionmaker
from bot.db_roles import connection_risk
from bot.delivery.engine import DeliveryEngine
from bot.delivery.sender import BulkSender
from bot.handlers import (
    common,
    console,
    data_rights,
    feedback,
    life_events,
    matching,
    onboarding,
    privacy,
    reports,
    services_browse,
    staff_setup,
    urgent,
)
from bot.handlers.onboarding import onboarding_conversation, resume_signup
from bot.services.geo import default_gazetteer
from bot.services.place_search import create_place_search

logger = logging.getLogger(__name__)

COMMANDS = [
    ("start", "Sign up, or carry on signing up"),
    ("profile", "See or change your details"),
    ("privacy", "Your choices and our privacy notice"),
    ("match", "Meet mums-to-be near you"),
    ("mymatches", "Your introductions"),
    ("mydata", "Get a copy of your data"),
    ("feedback", "Tell us what you think"),
    ("services", "Local services near you"),
    ("baby", "Tell us your baby has arrived"),
    ("forget", "Delete your data"),
    ("help", "What I can do"),
]


async def post_init(application: BotApplication) -> None:
    """Create the long-lived things: database engine, gazetteer, optional geocoder."""
    data = application.bot_data
    assert data.settings is not None
    data.engine = create_engine(data.settings.database_url)
    data.sessionmaker = create_sessionmaker(data.engine)
    if risk := await connection_risk(data.engine):
        logger.warning(risk)
    data.gazetteer = default_gazetteer()
    data.place_search = create_place_search(
        data.settings.geocoder, data.settings.geocoder_user_agent
    )
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])
    await _start_delivery(application)
    await staff_setup.staff_post_init(application)
    # After the engine exists, so a missed daily run (the bot was down) can wake it.
    await jobs.catch_up(application)


async def _start_delivery(application: BotApplication) -> None:
    """The delivery engine, with a lean sender of its own (bot/delivery/sender.py).

    Bulk sends bypass PTB and its AIORateLimiter: the engine paces them itself and must see every
    429 to pause all sends in flight; the limiter would retry inside a send (holding a claimed
    row) and throttle a second time. Interactive replies keep PTB and the AIORateLimiter.
    """
    data = application.bot_data
    assert data.settings is not None and data.sessionmaker is not None and data.clock is not None
    settings = data.settings
    # PTB's base URL (BOT_API_BASE_URL, else the real Bot API), with the token in its path.
    data.delivery_sender = BulkSender(
        application.bot.base_url,
        settings.delivery_max_in_flight,
        transport=data.delivery_transport,
    )
    data.delivery = DeliveryEngine(
        data.sessionmaker,
        data.delivery_sender,
        data.clock,
        settings,
        sleep=data.sleep or asyncio.sleep,
    )
    if data.delivery_worker:
        await data.delivery.start()


async def post_shutdown(application: BotApplication) -> None:
    """Close what post_init opened."""
    data = application.bot_data
    if data.delivery is not None:
        await data.delivery.stop()
    if data.delivery_sender is not None:
        await data.delivery_sender.aclose()
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
    sleep: Callable[[float], Awaitable[None]] | None = None,
    delivery_worker: bool = True,
    delivery_transport: httpx.AsyncBaseTransport | None = None,
) -> BotApplication:
    """The bot with all its handlers; `request` lets tests plug in the fake Bot API.

    `delivery_transport` does the same for bulk sends, which bypass PTB (FakeTransport); a
    test's `request` needs one too, or bulk sends would go to the real Bot API. `sleep` replaces
    asyncio.sleep for the delivery engine (tests pass FixedClock.sleep), and
    `delivery_worker=False` leaves sending to explicit `run_until_idle()` calls.
    """
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is required to build the application")
    # Fail at start-up, not at the first /forget.
    safeguarding_key(settings)
    if request is not None and delivery_transport is None:
        raise ValueError("with a request of its own, bulk sends need a delivery_transport too")
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
    application.bot_data.sleep = sleep
    application.bot_data.delivery_worker = delivery_worker
    application.bot_data.delivery_transport = delivery_transport

    private = filters.ChatType.PRIVATE
    # Group -1 runs before everything: a button pressed outside her own chat never acts.
    application.add_handler(TypeHandler(Update, common.guard_button_owner), group=-1)
    sign_up = onboarding_conversation()
    feedback_flow = feedback.feedback_conversation()
    # Group -2: a message mentioning urgent symptoms is answered at once, even mid-sign-up; then
    # the question a flow was waiting for is asked again and nothing else handles the message.
    urgent.register(
        application,
        pending=[
            common.PendingQuestion(sign_up, onboarding.ask_again),
            common.PendingQuestion(feedback_flow, feedback.ask_again),
        ],
    )

    application.add_handler(staff_setup.staff_join_handler())
    application.add_handler(staff_setup.staff_help_handler(), group=staff_setup.STAFF_HELP_GROUP)
    application.add_handler(sign_up)
    application.add_handler(CommandHandler("privacy", privacy.show_privacy, filters=private))
    application.add_handler(CallbackQueryHandler(privacy.change_choice, pattern=r"^pv:"))
    application.add_handler(CallbackQueryHandler(privacy.show_privacy, pattern=r"^ob:sum:choices$"))
    application.add_handler(CommandHandler("mydata", data_rights.send_my_data, filters=private))
    application.add_handler(CommandHandler("forget", data_rights.ask_forget, filters=private))
    application.add_handler(CallbackQueryHandler(data_rights.confirm_forget, pattern=r"^fg:"))
    application.add_handler(feedback_flow)
    application.add_handlers(feedback.prompt_handlers())
    application.add_handler(CommandHandler("report", reports.send_report, filters=private))
    feedback.schedule_feedback_prompts(application)
    application.add_handlers(life_events.life_event_handlers())
    application.add_handler(
        CommandHandler("services", services_browse.show_services, filters=private)
    )
    application.add_handler(
        CallbackQueryHandler(
            services_browse.show_category, pattern=services_browse.SERVICES_PATTERN
        )
    )
    application.add_handler(
        CallbackQueryHandler(services_browse.show_services, pattern=services_browse.HOME_PATTERN)
    )
    application.add_handlers(matching.matching_handlers())
    # A group of its own: other features may also follow my_chat_member (e.g. blocked bots).
    application.add_handler(matching.bot_rights_handler(), group=1)
    matching.schedule_matching_jobs(application)
    jobs.schedule_daily(application)
    jobs.schedule_content_watch(application)
    application.add_handlers(staff_setup.staff_handlers())
    application.add_handler(console.console_handler())
    application.add_handler(staff_setup.reachability_handler(), group=2)
    staff_setup.schedule_staff_jobs(application)
    application.add_handler(CommandHandler("help", urgent.show_help))
    application.add_handler(CommandHandler("cancel", common.show_help))
    application.add_handler(MessageHandler(filters.COMMAND, common.unknown_command))
    # Last: an unfinished sign-up takes the message as her answer (after a restart the
    # conversation has forgotten her place); anything else gets common.fallback_message.
    application.add_handler(MessageHandler(private & ~filters.COMMAND, resume_signup))
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
