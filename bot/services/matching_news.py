"""'New mums near you': newcomers are noted for nearby members and told once a day, by day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.services.matching import find_candidates, in_pool_clause, shown_now
from bot.services.matching_rules import MatchRules, WardNeighbours
from models import NewcomerDigest, NewcomerNews, Resident


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
