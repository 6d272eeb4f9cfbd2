"""Builds the Telegram application: every handler, registered in one place."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import httpx
from telegram import Update
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import languages, metrics
from bot.clock import Clock, SystemClock
from bot.command_menus import set_command_menus
from bot.config import Settings
from bot.context import BotApplication, BotContext, BotData, safeguarding_key
from bot.db import create_engine, create_sessionmaker
from bot.db_roles import connection_risk
from bot.delivery.engine import DeliveryEngine
from bot.delivery.send_limits import Limits, SendLimits, create_send_limits
from bot.delivery.sender import BulkSender
from bot.handlers import (
    common,
    console,
    data_rights,
    feedback,
    language,
    life_events,
    matching,
    onboarding,
    privacy,
    reachability,
    urgent,
)
from bot.handlers.local_info import jobs
from bot.handlers.local_info import setup as local_info
from bot.handlers.staff import setup as staff
from bot.leader import Leadership
from bot.ordered import OrderedApplication
from bot.rate_limiter import SharedRateLimiter, TimedCalls
from bot.services.places.geo import default_gazetteer
from bot.services.places.search import create_place_search

logger = logging.getLogger(__name__)
JobCallback = Callable[[BotContext], Coroutine[Any, Any, Any]]

# Updates handled at once by one worker, unless the CONCURRENT_UPDATES setting says otherwise.
CONCURRENT_UPDATES: int = Settings.model_fields["concurrent_updates"].default


def connections_for(concurrent_updates: int) -> int:
    """A worker's pool: each update in flight holds its chat's turn and, for a moment, a
    handler's unit of work; three more for the leader's jobs, /readyz and the console."""
    return 2 * concurrent_updates + 3


async def post_init(application: BotApplication) -> None:
    """Create the long-lived things: database engine, gazetteer, optional geocoder."""
    data = application.bot_data
    assert data.settings is not None
    data.engine = create_engine(
        data.settings.database_url, connections=connections_for(data.settings.concurrent_updates)
    )
    data.sessionmaker = create_sessionmaker(data.engine)
    if risk := await connection_risk(data.engine):
        logger.warning(risk)
    data.gazetteer = default_gazetteer()
    data.place_search = create_place_search(
        data.settings.geocoder, data.settings.geocoder_user_agent
    )
    await set_command_menus(application.bot)
    await _make_delivery(application)
    await staff.staff_post_init(application)
    # Every worker reads the content; the leader's catch-up below reads it again, harmlessly.
    await jobs.refresh_content(application)
    data.leader = Leadership(
        data.engine,
        on_lead=lambda: _lead(application),
        on_step_down=lambda: _step_down(application),
    )
    await data.leader.start()
    if data.content_digest is None:
        # Said once here and in /staff; the content watch picks a later load up by itself.
        logger.warning(
            "No content is loaded: week-by-week messages, /services and the council's own "
            "helpline numbers wait for `bumpbuddies content load`."
        )


async def _lead(application: BotApplication) -> None:
    """This worker leads: it alone sends bulk messages and runs the missed daily plan."""
    data = application.bot_data
    assert data.delivery is not None
    metrics.LEADING.set(1)
    if data.delivery_worker:
        await data.delivery.start()
    # After the engine exists, so a missed daily run (the bot was down) can wake it.
    await jobs.catch_up(application)


async def _step_down(application: BotApplication) -> None:
    """Another worker leads from now: finish the sends in flight and stop sending."""
    metrics.LEADING.set(0)
    if application.bot_data.delivery is not None:
        await application.bot_data.delivery.stop()


async def _make_delivery(application: BotApplication) -> None:
    """The delivery engine, with a lean sender of its own (bot/delivery/sender.py).

    Every worker has one, so handlers can wake it; it sends only on the leader (_lead).

    Bulk sends bypass PTB and its rate limiter: the engine paces them itself and must see every
    429 to pause all sends in flight; the limiter would retry inside a send (holding a claimed
    row). Both take their slots from the same shared limits (bot/delivery/send_limits.py), so
    every worker's replies and bulk sends together stay within Telegram's, replies first.
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
        send_limits=data.send_limits,
    )


async def post_shutdown(application: BotApplication) -> None:
    """Close what post_init opened; the lead is released last, after the sends in flight."""
    data = application.bot_data
    if data.delivery is not None:
        await data.delivery.stop()
    if data.leader is not None:
        await data.leader.stop()
    if data.delivery_sender is not None:
        await data.delivery_sender.aclose()
    if data.send_limits is not None:
        await data.send_limits.aclose()
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
    updater: bool = True,
) -> BotApplication:
    """The bot with all its handlers; `request` lets tests plug in the fake Bot API.

    `delivery_transport` does the same for bulk sends, which bypass PTB (FakeTransport); a
    test's `request` needs one too, or bulk sends would go to the real Bot API. `sleep` replaces
    asyncio.sleep for the delivery engine (tests pass FixedClock.sleep), and
    `delivery_worker=False` leaves sending to explicit `run_until_idle()` calls.
    `updater=False` builds a worker of `bumpbuddies serve` (bot/web.py), which is handed the
    updates Telegram pushes instead of fetching them.
    """
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is required to build the application")
    # Fail at start-up, not at the first /forget.
    safeguarding_key(settings)
    # LANGUAGES: a draft is refused unless ALLOW_UNREVIEWED_LANGUAGES (SettingsError).
    languages.serve(settings)
    if request is not None and delivery_transport is None:
        raise ValueError("with a request of its own, bulk sends need a delivery_transport too")
    builder = (
        ApplicationBuilder()
        .application_class(OrderedApplication)
        .token(settings.telegram_bot_token.get_secret_value())
        .context_types(ContextTypes(context=BotContext, bot_data=BotData))
        .defaults(Defaults(tzinfo=settings.zone))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        # Different chats at once; one chat's updates still take turns (bot/ordered.py).
        .concurrent_updates(settings.concurrent_updates)
    )
    if settings.bot_api_base_url:
        builder = builder.base_url(settings.bot_api_base_url)
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if not updater:
        builder = builder.updater(None)
    chosen = clock or SystemClock()
    send_limits: SendLimits | None = None
    if rate_limit:
        send_limits = create_send_limits(settings.database_url, limits_of(settings))
        builder = builder.rate_limiter(
            SharedRateLimiter(send_limits, lambda: chosen.now().timestamp(), sleep or asyncio.sleep)
        )
    else:
        builder = builder.rate_limiter(TimedCalls())
    application: BotApplication = builder.build()
    application.bot_data.settings = settings
    application.bot_data.clock = chosen
    application.bot_data.send_limits = send_limits
    application.bot_data.sleep = sleep
    application.bot_data.delivery_worker = delivery_worker
    application.bot_data.delivery_transport = delivery_transport

    private = filters.ChatType.PRIVATE
    # Each feature registers its handlers and jobs. Within a group the first handler that
    # matches wins, so the order below is part of the behaviour; lower groups run first.
    # First of all: her language for this update (bot/languages.py decides what is served).
    application.add_handler(TypeHandler(Update, common.note_language), group=-100)
    # Group -1: a button pressed outside her own chat never acts.
    # Group -4, first of all: a typed yes or no to the Yes/No question asked last is its button.
    application.add_handler(TypeHandler(Update, common.take_typed_yes_no), group=-4)
    application.add_handler(TypeHandler(Update, common.guard_button_owner), group=-1)
    sign_up = onboarding.onboarding_conversation(show_choices=privacy.show_privacy)
    feedback_flow = feedback.feedback_conversation()
    # Group -2: a message mentioning urgent symptoms is answered at once, even mid-sign-up; then
    # the question a flow was waiting for is asked again and nothing else handles the message.
    life_handlers = life_events.life_event_handlers()
    life_flow = next(h for h in life_handlers if isinstance(h, ConversationHandler))
    # Flows that wait for a button: anything else she sends gets their question again.
    waiting = [
        common.PendingQuestion(feedback_flow, feedback.ask_again),
        common.PendingQuestion(life_flow, life_events.ask_again),
    ]
    urgent.register(
        application,
        pending=[common.PendingQuestion(sign_up, onboarding.ask_again), *waiting],
    )
    # Before sign-up, so an invitation never starts it; staff /help runs in group -3.
    staff.register_invitations(application)
    application.add_handler(sign_up)
    privacy.register(application)
    data_rights.register(application)
    language.register(application)
    feedback.register(application, feedback_flow)
    life_events.register(application, life_handlers)
    local_info.register(application)
    matching.register(application)  # and the bot's rights in groups, in group 1
    staff.register(application)
    console.register(application)
    reachability.register(application)  # group 2
    # What no feature claimed.
    application.add_handler(CommandHandler("help", urgent.show_help))
    application.add_handler(CommandHandler("cancel", common.show_help))
    flows = [common.PendingQuestion(sign_up, onboarding.ask_again), *waiting]
    application.add_handler(
        MessageHandler(filters.COMMAND, common.unknown_command_then_ask_again(flows))
    )
    # Last: a flow waiting for a button asks its question again; an unfinished sign-up with no
    # conversation running (after /cancel) takes the message as her answer; anything else gets
    # common.fallback_message.
    application.add_handler(
        MessageHandler(
            private & ~filters.COMMAND, common.ask_again_or(waiting, onboarding.resume_signup)
        )
    )
    application.add_handler(CallbackQueryHandler(common.expired_button))
    # Group 3, after everything: a Yes/No question she has moved on from is no longer waiting.
    application.add_handler(TypeHandler(Update, common.drop_unanswered_yes_no), group=3)
    application.add_error_handler(common.on_error)
    _leader_only_jobs(application)
    return application


def limits_of(settings: Settings) -> Limits:
    """Telegram's limits as configured: places a second, those kept for replies, the chat gap."""
    return Limits(
        overall=max(1, int(settings.delivery_max_per_second)),
        reserve=settings.delivery_reply_reserve,
        chat_gap=settings.delivery_per_chat_interval_seconds,
    )


# Jobs every worker runs; all others are background work and run on the leader only, so a new
# job is safe by default (it runs once, whatever the number of workers).
EVERY_WORKER_JOBS = frozenset({jobs.CONTENT_WATCH_JOB})


def _leader_only_jobs(application: BotApplication) -> None:
    """Wrap every recurring job: counted in the metrics, skipped on workers that do not lead."""
    assert application.job_queue is not None
    for job in application.job_queue.jobs():
        job.callback = _gated(job.callback, job.name or "job", job.name in EVERY_WORKER_JOBS)


def _gated(callback: JobCallback, name: str, everywhere: bool) -> JobCallback:
    async def run(context: BotContext) -> None:
        leader = context.bot_data.leader
        if not everywhere and leader is not None and not leader.leading:
            return
        await callback(context)
        metrics.JOBS_RUN.labels(job=name).inc()

    return run


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
