"""Cohort group chats: staff register a group for an area and due months; members get a link."""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.matching.rules import first_of_month
from bot.services.matching.suggestions import pool_member
from bot.services.places.geo import Gazetteer
from models import CohortGroup, CohortInvite, Resident

_MONTH = re.compile(r"(\d{4})-(\d{2})")
TITLE_MAX = 128


class Registration(enum.StrEnum):
    """What registering a group did."""

    REGISTERED = "registered"
    NOT_ADMIN = "not_admin"
    UNKNOWN_AREA = "unknown_area"
    BAD_MONTHS = "bad_months"


@dataclass(frozen=True)
class CohortOffer:
    """A group she may join."""

    group_id: int
    chat_id: int
    title: str


def parse_month(text: str) -> dt.date | None:
    """'2027-03' as the first of that month, or None."""
    found = _MONTH.fullmatch(text.strip())
    if found is None or not 1 <= int(found[2]) <= 12:
        return None
    return dt.date(int(found[1]), int(found[2]), 1)


async def _group(session: AsyncSession, chat_id: int) -> CohortGroup | None:
    result = await session.scalars(select(CohortGroup).where(CohortGroup.chat_id == chat_id))
    return result.one_or_none()


async def note_bot_rights(
    session: AsyncSession, chat_id: int, title: str, can_invite: bool, now: dt.datetime
) -> None:
    """Telegram told us what the bot may do in a group: invite links need 'invite users'."""
    group = await _group(session, chat_id)
    if group is None:
        session.add(
            CohortGroup(
                chat_id=chat_id,
                title=title[:TITLE_MAX],
                bot_can_invite=can_invite,
                updated_at=now,
            )
        )
    else:
        group.title = title[:TITLE_MAX]
        group.bot_can_invite = can_invite
        group.updated_at = now
    await session.flush()


async def register_group(
    session: AsyncSession,
    chat_id: int,
    area_code: str,
    first_month: dt.date,
    last_month: dt.date,
    staff_user_id: int,
    now: dt.datetime,
    gazetteer: Gazetteer,
) -> Registration:
    """Staff name the ward or district and the due months a group is for."""
    group = await _group(session, chat_id)
    if group is None or not group.bot_can_invite:
        return Registration.NOT_ADMIN
    ward = gazetteer.ward(area_code)
    district = gazetteer.district(area_code)
    if ward is None and district is None:
        return Registration.UNKNOWN_AREA
    if first_month > last_month:
        return Registration.BAD_MONTHS
    group.ward_code = ward.code if ward else None
    group.district_code = None if ward else area_code
    group.first_due_month = first_of_month(first_month)
    group.last_due_month = first_of_month(last_month)
    group.registered_by = staff_user_id
    group.registered_at = now
    group.updated_at = now
    await session.flush()
    return Registration.REGISTERED


async def unregister_group(session: AsyncSession, chat_id: int, now: dt.datetime) -> bool:
    """Staff stop offering a group; False if it was not registered."""
    group = await _group(session, chat_id)
    if group is None or group.registered_at is None:
        return False
    group.registered_at = None
    group.updated_at = now
    return True


async def offers_for(session: AsyncSession, resident_id: int) -> list[CohortOffer]:
    """Groups for her neighbourhood and due month, while she takes part in matching."""
    me = await session.get(Resident, resident_id)
    if me is None or not pool_member(me).in_pool:
        return []
    assert me.due_date is not None
    month = first_of_month(me.due_date)
    rows = await session.execute(
        select(CohortGroup.id, CohortGroup.chat_id, CohortGroup.title)
        .where(
            CohortGroup.bot_can_invite.is_(True),
            CohortGroup.registered_at.is_not(None),
            CohortGroup.first_due_month <= month,
            CohortGroup.last_due_month >= month,
            or_(
                CohortGroup.ward_code == me.ward_code,
                CohortGroup.district_code == me.district_code,
            ),
        )
        .order_by(CohortGroup.ward_code.is_(None), CohortGroup.id)
    )
    return [CohortOffer(*row) for row in rows]


async def live_invite(
    session: AsyncSession, resident_id: int, group_id: int, now: dt.datetime
) -> str | None:
    """Her link for this group that has not expired yet, so a second tap makes no new one."""
    result = await session.scalars(
        select(CohortInvite.invite_link)
        .where(
            CohortInvite.resident_id == resident_id,
            CohortInvite.group_id == group_id,
            CohortInvite.expires_at > now,
        )
        .order_by(CohortInvite.id.desc())
        .limit(1)
    )
    return result.first()


async def save_invite(
    session: AsyncSession,
    resident_id: int,
    group_id: int,
    link: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> None:
    """Keep the link made for her (it is in /mydata, and goes with /forget)."""
    session.add(
        CohortInvite(
            resident_id=resident_id,
            group_id=group_id,
            invite_link=link,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def lose_invite_rights(session: AsyncSession, group_id: int, now: dt.datetime) -> None:
    """Telegram refused a link: stop offering the group until the bot is an admin again."""
    group = await session.get(CohortGroup, group_id)
    if group is not None:
        group.bot_can_invite = False
        group.updated_at = now
