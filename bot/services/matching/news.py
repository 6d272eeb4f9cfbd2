"""'New mums near you': newcomers are noted for nearby members and told once a day, by day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.delivery import kinds, queue, render
from bot.delivery.queue import NewDelivery
from bot.services.matching.introductions import by_telegram
from bot.services.matching.outbox import OutboxItem
from bot.services.matching.rules import MatchRules, WardNeighbours
from bot.services.matching.suggestions import (
    find_candidates,
    in_pool_clause,
    pool_member,
    shown_now,
    touch,
)
from bot.texts import Catalogue, catalogue
from models import NewcomerDigest, NewcomerNews, Resident

FIND_CALLBACK = "mt:find"


def find_button(texts: Catalogue) -> list[list[dict[str, str]]]:
    """'Show me mums near me': suggestions are worked out when she taps, never before."""
    button = render.button("match.offer_button", callback_data=FIND_CALLBACK)
    return [[button | {"text": str(texts("match.offer_button"))}]]


@dataclass(frozen=True)
class Digest:
    """A member with news noted; take_digest decides what, if anything, she is told."""

    resident_id: int
    telegram_user_id: int
    language_code: str
    # Newcomers noted for her; fewer may be told (only those /match would show her then).
    newcomers: int


async def note_newcomer(
    session: AsyncSession,
    resident_id: int,
    now: dt.datetime,
    rules: MatchRules,
    neighbours: WardNeighbours,
) -> int:
    """She just joined matching: the members she would be suggested to hear about her.

    Only the best-ranked few (rules.newcomer_fanout) are told, the ones she suits most. The
    message names nobody; she is shown only through the usual suggestions.
    """
    if rules.newcomer_fanout <= 0:
        return 0
    members = await find_candidates(
        session, resident_id, now, rules, neighbours, limit=rules.newcomer_fanout, fair=False
    )
    told = set(
        await session.scalars(
            select(NewcomerNews.recipient_id).where(NewcomerNews.newcomer_id == resident_id)
        )
    )
    fresh = [m.resident_id for m in members if m.resident_id not in told]
    session.add_all(
        NewcomerNews(recipient_id=member, newcomer_id=resident_id, created_at=now)
        for member in fresh
    )
    await session.flush()
    return len(fresh)


async def welcome_newcomer(
    session: AsyncSession,
    telegram_user_id: int,
    now: dt.datetime,
    rules: MatchRules,
    neighbours: WardNeighbours,
) -> bool:
    """At the end of sign-up: nearby members hear she joined; False if she is not in the pool."""
    me = await by_telegram(session, telegram_user_id)
    if me is None or not pool_member(me).in_pool:
        return False
    await note_newcomer(session, me.id, now, rules, neighbours)
    await touch(session, me.id, now)
    return True


async def digests_due(session: AsyncSession, today: dt.date, limit: int = 200) -> list[Digest]:
    """Members with news who have not had a digest today (a UK date)."""
    member, newcomer = aliased(Resident), aliased(Resident)
    rows = await session.execute(
        select(
            member.id,
            member.telegram_user_id,
            member.language_code,
            func.count(NewcomerNews.newcomer_id),
        )
        .join(member, member.id == NewcomerNews.recipient_id)
        .join(newcomer, newcomer.id == NewcomerNews.newcomer_id)
        .outerjoin(NewcomerDigest, NewcomerDigest.resident_id == member.id)
        .where(
            in_pool_clause(member),
            in_pool_clause(newcomer),
            or_(NewcomerDigest.sent_on.is_(None), NewcomerDigest.sent_on < today),
        )
        .group_by(member.id, member.telegram_user_id, member.language_code)
        .order_by(member.id)
        .limit(limit)
    )
    return [Digest(*row) for row in rows]


async def take_digest(
    session: AsyncSession,
    resident_id: int,
    today: dt.date,
    now: dt.datetime,
    rules: MatchRules,
    neighbours: WardNeighbours,
) -> int:
    """How many newcomers to tell her about today: only those /match would show her now.

    Her news is cleared either way (a newcomer she would not be shown now is not news later).
    Today counts as her digest day only when there is something to tell; 0 means send nothing.
    """
    sent = await session.get(NewcomerDigest, resident_id, populate_existing=True)
    if sent is not None and sent.sent_on >= today:
        return 0
    # Deleting is the claim: a second drain at the same moment waits here, then finds nothing.
    noted = set(
        await session.scalars(
            delete(NewcomerNews)
            .where(NewcomerNews.recipient_id == resident_id)
            .returning(NewcomerNews.newcomer_id)
        )
    )
    if not noted:
        return 0
    visible = {c.resident_id for c in await shown_now(session, resident_id, now, rules, neighbours)}
    told = len(noted & visible)
    if told:
        if sent is None:
            session.add(NewcomerDigest(resident_id=resident_id, sent_on=today))
        else:
            sent.sent_on = today
    await session.flush()
    return told


async def queue_digest(
    session: AsyncSession,
    digest: Digest,
    today: dt.date,
    now: dt.datetime,
    rules: MatchRules,
    neighbours: WardNeighbours,
) -> bool:
    """Take today's digest for her and queue it for the engine; False if there is nothing to tell.

    Both in the caller's unit of work, so a crash neither loses nor repeats it.
    """
    told = await take_digest(session, digest.resident_id, today, now, rules, neighbours)
    if not told:
        return False
    texts = catalogue(digest.language_code)
    text = texts("match.newcomers", count=told)
    key = f"{kinds.MATCH_DIGEST}:{today.isoformat()}"
    message = NewDelivery(
        digest.resident_id,
        key,
        key,
        kinds.MATCH_DIGEST,
        text,
        now,
        buttons=find_button(texts),
        template=render.message_template("match.newcomers"),
        params=render.encode_params(count=told),
    )
    await queue.enqueue(session, [message], now)
    return True


async def queue_not_this_time(session: AsyncSession, item: OutboxItem, now: dt.datetime) -> bool:
    """'It didn't work out', with a button for fresh suggestions; False if she left matching.

    The suggestions are not attached: the message may wait for the morning, and by then they
    would be stale, and no other resident's name waits in the queue.
    """
    me = await session.get(Resident, item.resident_id)
    if me is None or not pool_member(me).in_pool:
        return False
    texts = catalogue(item.language_code)
    message = NewDelivery(
        item.resident_id,
        f"{kinds.MATCH_NOT_THIS_TIME}:{item.id}",
        f"{kinds.MATCH_NOT_THIS_TIME}:{now.date().isoformat()}",
        kinds.MATCH_NOT_THIS_TIME,
        texts("match.not_this_time"),
        now,
        buttons=find_button(texts),
        template=render.message_template("match.not_this_time"),
    )
    return bool(await queue.enqueue(session, [message], now))
