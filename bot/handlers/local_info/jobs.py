"""The daily job: plan local information, apply retention, wake the delivery engine.

One recurring job at the configured local time (09:30 UK time by default; the JobQueue follows
the council's time zone, so it is 09:30 GMT in winter and 08:30 UTC in summer). If the bot was
down at that time, today's run happens once at start-up; planning is idempotent, so a run that
did happen and is repeated queues nothing new.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import cast

from bot.context import BotApplication, BotContext, safeguarding_key
from bot.services.conversations import store as conversation_store
from bot.services.local_info import planning
from bot.services.local_info.content import load_content, loaded_digest
from bot.services.residents import retention, safeguarding

logger = logging.getLogger(__name__)

JOB_NAME = "local_information_daily"
CONTENT_WATCH_JOB = "content_watch"
# Well inside the minute in which a `content load` must reach every running bot.
CONTENT_WATCH_INTERVAL = dt.timedelta(seconds=30)


async def refresh_content(application: BotApplication) -> None:
    """Read the loaded content into memory."""
    data = application.bot_data
    assert data.sessionmaker is not None
    async with data.sessionmaker() as session, session.begin():
        data.content_digest = await loaded_digest(session)
        data.content = await load_content(session)


async def reload_if_changed(application: BotApplication) -> bool:
    """Re-read the content if `bumpbuddies content load` stored a new version since."""
    data = application.bot_data
    assert data.sessionmaker is not None
    async with data.sessionmaker() as session:
        digest = await loaded_digest(session)
    if digest == data.content_digest:
        return False
    await refresh_content(application)
    logger.info("content reloaded: a new version was loaded")
    return True


async def content_watch_job(context: BotContext) -> None:
    """The JobQueue callback: every process checks for itself, so every worker catches up."""
    await reload_if_changed(cast(BotApplication, context.application))


def schedule_content_watch(application: BotApplication) -> None:
    """Check for newly loaded content every 30 seconds."""
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("python-telegram-bot's job-queue extra is required")
    job_queue.run_repeating(
        content_watch_job,
        interval=CONTENT_WATCH_INTERVAL,
        first=CONTENT_WATCH_INTERVAL,
        name=CONTENT_WATCH_JOB,
    )


async def run_daily(application: BotApplication) -> None:
    """Plan today's local information, then apply retention, each in one unit of work."""
    data = application.bot_data
    assert data.sessionmaker is not None and data.settings is not None and data.clock is not None
    settings = data.settings
    await refresh_content(application)
    now = data.clock.now()
    async with data.sessionmaker() as session, session.begin():
        plan = await planning.plan_day(session, now, settings.zone, settings.quiet_hours)
    async with data.sessionmaker() as session, session.begin():
        kept = await retention.apply_retention(
            session,
            now,
            settings.zone,
            months=settings.retention_months,
            notice_days=settings.retention_notice_days,
            not_before=settings.quiet_hours.next_send_time(now),
            safeguarding=safeguarding_key(settings),
        )
        purged = await safeguarding.purge_expired(
            session, now, settings.safeguarding_retention_months
        )
        # Handled updates are kept a day (to skip one delivered again), timed-out flows not at all.
        await conversation_store.prune(session, now)
    # Counts only: nothing here can identify anyone.
    logger.info(
        "daily plan %s: %d week, %d services, %d check-ins queued; "
        "retention: %d notices, %d erased, %d safeguarding records purged",
        plan.local_date,
        plan.weeks,
        plan.services,
        plan.checkins,
        kept.notices,
        kept.erased,
        purged,
    )
    if data.delivery is not None:
        data.delivery.wake()


async def daily_job(context: BotContext) -> None:
    """The JobQueue callback."""
    await run_daily(cast(BotApplication, context.application))


def schedule_daily(application: BotApplication) -> None:
    """Register the one recurring job at the configured local time."""
    settings = application.bot_data.settings
    job_queue = application.job_queue
    assert settings is not None
    if job_queue is None:
        raise RuntimeError("python-telegram-bot's job-queue extra is required")
    job_queue.run_daily(
        daily_job, time=settings.local_info_time.replace(tzinfo=settings.zone), name=JOB_NAME
    )


async def catch_up(application: BotApplication) -> bool:
    """At start-up: run today's plan once if its time has passed and it hasn't run."""
    data = application.bot_data
    assert data.sessionmaker is not None and data.settings is not None and data.clock is not None
    await refresh_content(application)
    now = data.clock.now()
    if not planning.is_past(now, data.settings.zone, data.settings.local_info_time):
        return False
    async with data.sessionmaker() as session:
        done = await planning.has_run(session, planning.local_today(now, data.settings.zone))
    if done:
        return False
    logger.info("the daily plan was missed (the bot was down): running it now")
    await run_daily(application)
    return True
