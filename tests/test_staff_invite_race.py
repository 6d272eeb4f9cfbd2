"""A staff invitation works once, even when two people press it at the same moment."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.staff.accounts import InviteRefused, accept_invite, create_invite
from models import StaffMember, StaffRole
from tests.conftest import DEFAULT_NOW
from tests.factories import make_staff

NOW = DEFAULT_NOW
ROUNDS = 6


async def _accept(
    sessions: async_sessionmaker[AsyncSession], payload: str, telegram_user_id: int
) -> StaffMember | InviteRefused:
    async with sessions() as session, session.begin():
        return await accept_invite(session, payload, telegram_user_id, NOW)


async def test_two_people_redeeming_one_invitation_at_once_make_one_member_of_staff(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        admin = await make_staff(session, NOW, StaffRole.ADMIN, 1000)
    for round_ in range(ROUNDS):
        async with sessions() as session, session.begin():
            admin = await session.get_one(StaffMember, admin.id)
            payload = await create_invite(session, admin, StaffRole.MIDWIFE, NOW)
        first, second = 2000 + 2 * round_, 2001 + 2 * round_

        outcomes = await asyncio.gather(
            _accept(sessions, payload, first), _accept(sessions, payload, second)
        )

        assert sum(isinstance(o, StaffMember) for o in outcomes) == 1, outcomes
        assert InviteRefused.USED in outcomes
        async with sessions() as session:
            joined = await session.scalar(
                select(func.count())
                .select_from(StaffMember)
                .where(StaffMember.telegram_user_id.in_([first, second]))
            )
        assert joined == 1
