"""What the running bot does for the console: its heartbeat, and clearing out old sign-ins.

No web and no telegram here: the bot's console handler runs these as leader-only jobs, and the
console's overview reads the heartbeat.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.sessions import ABSOLUTE_TIMEOUT, CODE_LIFETIME, IDLE_TIMEOUT
from bot.services.local_info.content import loaded_digest
from models import BotHeartbeat, ConsoleLink, ConsoleSession, ContentLibrary

LEADER = "leader"
HEARTBEAT_INTERVAL = dt.timedelta(seconds=30)
# Missing three beats in a row means the bot is not running (or cannot reach the database).
STALE_AFTER = 3 * HEARTBEAT_INTERVAL
PURGE_INTERVAL = dt.timedelta(hours=1)


async def beat(
    session: AsyncSession, now: dt.datetime, started_at: dt.datetime, digest: str | None
) -> None:
    """The leader is alive now, with this content in memory."""
    row = await session.get(BotHeartbeat, LEADER)
    if row is None:
        session.add(
            BotHeartbeat(name=LEADER, started_at=started_at, seen_at=now, content_digest=digest)
        )
        return
    row.started_at, row.seen_at, row.content_digest = started_at, now, digest


@dataclass(frozen=True)
class BotHealth:
    """What the overview says about the bot and its content."""

    running: bool
    seen_ago: dt.timedelta | None
    content_loaded: dt.datetime | None
    # The bot has the content loaded last in memory (None: nothing loaded, or bot not seen).
    content_current: bool | None


async def bot_health(session: AsyncSession, now: dt.datetime) -> BotHealth:
    """Whether the bot's leader beat lately, and whether it uses the latest content."""
    row = await session.get(BotHeartbeat, LEADER)
    loaded_at = await session.scalar(select(ContentLibrary.loaded_at).where(ContentLibrary.id == 1))
    digest = await loaded_digest(session)
    if row is None:
        return BotHealth(False, None, loaded_at, None)
    ago = max(now - row.seen_at, dt.timedelta(0))
    current = None if digest is None else row.content_digest == digest
    return BotHealth(ago <= STALE_AFTER, ago, loaded_at, current)


async def purge_expired(session: AsyncSession, now: dt.datetime) -> tuple[int, int]:
    """Delete console sessions and sign-in links nobody can use any more: (sessions, links)."""
    sessions = await session.execute(
        delete(ConsoleSession)
        .where(
            or_(
                ConsoleSession.ended_at.is_not(None),
                # A desk's code that was never approved in time.
                (ConsoleSession.staff_id.is_(None))
                & (ConsoleSession.created_at <= now - CODE_LIFETIME),
                (ConsoleSession.staff_id.is_not(None))
                & (
                    (ConsoleSession.last_seen_at <= now - IDLE_TIMEOUT)
                    | (ConsoleSession.created_at <= now - ABSOLUTE_TIMEOUT)
                ),
            )
        )
        .execution_options(synchronize_session=False)
    )
    links = await session.execute(
        delete(ConsoleLink)
        .where(or_(ConsoleLink.used_at.is_not(None), ConsoleLink.expires_at <= now))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(sessions, "rowcount", 0) or 0), int(getattr(links, "rowcount", 0) or 0)
