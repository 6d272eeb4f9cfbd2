"""Retention: personal data goes a set time after the due date or birth, with a week's notice.

Erasure is the very same as /forget (data_rights.forget_resident), so the consent history stays,
pseudonymised, a safeguarding record is kept if she was suspended, blocked or reported, and
everything else linked to her goes with her row. (Safeguarding records have their own limit,
purged by the daily job: safeguarding.purge_expired.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import queue, render
from bot.delivery.queue import NewDelivery
from bot.services.residents.data_rights import forget_resident
from bot.services.residents.safeguarding import SafeguardingKey
from bot.texts import catalogue, long_date
from models import Delivery, LifeEvent, Resident

NOTICE = "retention"
_CHUNK = 500


@dataclass(frozen=True)
class RetentionResult:
    """What one daily run did."""

    notices: int
    erased: int


@dataclass(frozen=True)
class _Candidate:
    resident_id: int
    telegram_user_id: int
    erase_on: dt.date


def notice_key(erase_on: dt.date) -> str:
    """One notice per erasure date: if the date moves later, she is told again."""
    return f"{NOTICE}:{erase_on.isoformat()}"


async def _candidates(
    session: AsyncSession, today: dt.date, months: int, notice_days: int, zone: ZoneInfo
) -> list[_Candidate]:
    """Everyone whose erasure date is within the notice period (or past), from one query."""
    cutoff = today + dt.timedelta(days=notice_days) - relativedelta(months=months)
    basis = func.coalesce(LifeEvent.baby_born_on, LifeEvent.ended_on, Resident.due_date)
    # Someone who never gave a due date (an abandoned sign-up) is counted from when she began.
    cutoff_start = dt.datetime.combine(cutoff + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    rows = await session.execute(
        select(
            Resident.id,
            Resident.telegram_user_id,
            basis.label("basis"),
            Resident.created_at,
        )
        .outerjoin(LifeEvent, LifeEvent.resident_id == Resident.id)
        .where(
            or_(
                basis <= cutoff,
                and_(basis.is_(None), Resident.created_at < cutoff_start),
            )
        )
    )
    found = []
    for resident_id, telegram_user_id, basis_value, created_at in rows:
        start = basis_value or created_at.astimezone(zone).date()
        if isinstance(start, str):
            start = dt.date.fromisoformat(start)
        found.append(
            _Candidate(resident_id, telegram_user_id, start + relativedelta(months=months))
        )
    return found


async def _notices_sent(
    session: AsyncSession, ids: list[int]
) -> dict[tuple[int, str], dt.datetime]:
    sent: dict[tuple[int, str], dt.datetime] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = await session.execute(
            select(Delivery.resident_id, Delivery.content_key, Delivery.created_at).where(
                Delivery.resident_id.in_(ids[start : start + _CHUNK]),
                Delivery.kind == NOTICE,
            )
        )
        for resident_id, key, created_at in rows:
            sent[(resident_id, key)] = created_at
    return sent


async def apply_retention(
    session: AsyncSession,
    now: dt.datetime,
    zone: ZoneInfo,
    *,
    months: int,
    notice_days: int,
    not_before: dt.datetime,
    safeguarding: SafeguardingKey,
) -> RetentionResult:
    """Queue notices for those due to be erased soon; erase those whose notice has run out."""
    today = now.astimezone(zone).date()
    candidates = await _candidates(session, today, months, notice_days, zone)
    sent = await _notices_sent(session, [c.resident_id for c in candidates])
    texts = catalogue()
    notices: list[NewDelivery] = []
    erased = 0
    for candidate in candidates:
        key = notice_key(candidate.erase_on)
        noticed_at = sent.get((candidate.resident_id, key))
        if noticed_at is None:
            # Never erased without a full notice period, even when the date is already past.
            erase_on = max(candidate.erase_on, today + dt.timedelta(days=notice_days))
            notices.append(
                NewDelivery(
                    candidate.resident_id,
                    key,
                    f"{NOTICE}:{today.isoformat()}",
                    NOTICE,
                    texts("retention.notice", months=months, date=long_date(erase_on)),
                    not_before,
                    template=render.message_template("retention.notice"),
                    params=render.encode_params(months=months, date=erase_on),
                )
            )
            continue
        notice_day = noticed_at.astimezone(zone).date()
        if candidate.erase_on <= today and (today - notice_day).days >= notice_days:
            erased += int(
                await forget_resident(session, candidate.telegram_user_id, safeguarding, now)
            )
    queued = await queue.enqueue(session, notices, now)
    return RetentionResult(queued, erased)
