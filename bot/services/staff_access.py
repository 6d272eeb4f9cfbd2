"""Who may see staff-only things such as council reports."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.staff import active_staff
from models import StaffRole


async def is_admin(session: AsyncSession, telegram_user_id: int) -> bool:
    """Whether this Telegram user is a Bump Buddies admin, allowed /report and its exports.

    True only for a current (not revoked) member of staff with the admin role; everyone else is
    refused exactly as an unknown command would be, revealing nothing. Callers must not cache
    the answer: a role can be taken away at any time.
    """
    member = await active_staff(session, telegram_user_id)
    return member is not None and member.role is StaffRole.ADMIN
