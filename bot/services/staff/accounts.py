"""Staff: who may do what, single-use invitations, and revocation."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.staff.audit import Actor, record
from models import StaffInvite, StaffMember, StaffRole

INVITE_PREFIX = "staff_"
INVITE_LIFETIME = dt.timedelta(hours=48)
# 32 bytes of randomness: well past the 128 bits asked for, and 43 characters of A-Za-z0-9_-,
# so "staff_" + token fits Telegram's 64-character /start payload.
_TOKEN_BYTES = 32


class Permission(enum.StrEnum):
    """Things staff do; each is allowed to some roles (an admin may do them all)."""

    MANAGE_STAFF = "manage_staff"
    JOIN_LINKS = "join_links"
    BROADCAST = "broadcast"
    MODERATE = "moderate"
    COHORTS = "cohorts"
    REPORTS = "reports"
    # Loading the council's content (the console's Content page; `content load` on the server).
    CONTENT = "content"


ALLOWED: dict[Permission, frozenset[StaffRole]] = {
    Permission.MANAGE_STAFF: frozenset({StaffRole.ADMIN}),
    Permission.JOIN_LINKS: frozenset({StaffRole.ADMIN, StaffRole.MIDWIFE}),
    Permission.BROADCAST: frozenset({StaffRole.ADMIN, StaffRole.BROADCASTER}),
    Permission.MODERATE: frozenset({StaffRole.ADMIN, StaffRole.MODERATOR}),
    # Cohort group chats need looking after, which is a moderator's work.
    Permission.COHORTS: frozenset({StaffRole.ADMIN, StaffRole.MODERATOR}),
    # Council reports and residents' comments are for admins only.
    Permission.REPORTS: frozenset({StaffRole.ADMIN}),
    # What every resident is told week by week and where /services sends her: admins only.
    Permission.CONTENT: frozenset({StaffRole.ADMIN}),
}


class InviteRefused(enum.StrEnum):
    """Why an invitation could not be used (said plainly to whoever tried it)."""

    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Access:
    """The outcome of an authorisation check: the member, if she may go ahead."""

    member: StaffMember | None
    # Staff who asked for something their role doesn't allow (or revoked staff): audited.
    refused_staff: StaffMember | None = None


def hash_token(token: str) -> str:
    """What is stored for an invitation: never the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def actor(member: StaffMember | None) -> Actor:
    """The audit trail's view of a member (None: the server's command line)."""
    if member is None:
        return Actor(None, "cli")
    return Actor(member.telegram_user_id, member.role.value)


async def find_staff(session: AsyncSession, telegram_user_id: int) -> StaffMember | None:
    """Her staff record, revoked or not."""
    return await session.scalar(
        select(StaffMember).where(StaffMember.telegram_user_id == telegram_user_id)
    )


async def active_staff(session: AsyncSession, telegram_user_id: int) -> StaffMember | None:
    """Her staff record if it has not been revoked."""
    member = await find_staff(session, telegram_user_id)
    return member if member is not None and member.revoked_at is None else None


async def authorise(
    session: AsyncSession,
    telegram_user_id: int,
    permission: Permission,
    now: dt.datetime,
    action: str,
) -> Access:
    """May this person do `permission`? Refusals of staff are audited; of others, not kept."""
    member = await find_staff(session, telegram_user_id)
    if member is None:
        # A resident or a stranger: nothing is stored about her attempt.
        return Access(None)
    if member.revoked_at is None and member.role in ALLOWED[permission]:
        return Access(member)
    reason = "revoked" if member.revoked_at is not None else f"role {member.role.value}"
    record(session, now, actor(member), action, None, "refused", reason)
    return Access(None, refused_staff=member)


async def add_staff(
    session: AsyncSession,
    telegram_user_id: int,
    role: StaffRole,
    now: dt.datetime,
    added_by: StaffMember | None = None,
) -> StaffMember:
    """Make (or reinstate) a member with this role; the command line's `staff add`."""
    member = await find_staff(session, telegram_user_id)
    if member is None:
        member = StaffMember(
            telegram_user_id=telegram_user_id,
            role=role,
            added_by_id=added_by.id if added_by else None,
            added_at=now,
        )
        session.add(member)
    else:
        member.role = role
        member.revoked_at = None
        member.added_by_id = added_by.id if added_by else member.added_by_id
    await session.flush()
    record(session, now, actor(added_by), "staff.add", f"staff:{member.id}", "ok", role.value)
    return member


async def create_invite(
    session: AsyncSession, admin: StaffMember, role: StaffRole, now: dt.datetime
) -> str:
    """A fresh invitation for `role`; returns the /start payload (shown once, stored hashed)."""
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    invite = StaffInvite(
        token_sha256=hash_token(token),
        role=role,
        created_by_id=admin.id,
        created_at=now,
        expires_at=now + INVITE_LIFETIME,
    )
    session.add(invite)
    await session.flush()
    record(session, now, actor(admin), "staff.invite", f"invite:{invite.id}", "ok", role.value)
    return INVITE_PREFIX + token


async def accept_invite(
    session: AsyncSession, payload: str, telegram_user_id: int, now: dt.datetime
) -> StaffMember | InviteRefused:
    """Use an invitation: once, before it expires; the person becomes staff with its role."""
    token = payload.removeprefix(INVITE_PREFIX)
    invite = await session.scalar(
        select(StaffInvite).where(StaffInvite.token_sha256 == hash_token(token))
    )
    existing = await find_staff(session, telegram_user_id)
    # Someone who is not staff yet stays anonymous in the trail until the invitation works.
    who = actor(existing) if existing is not None else Actor(None, "not staff")
    if invite is None:
        record(session, now, who, "staff.join", None, "refused", InviteRefused.UNKNOWN)
        return InviteRefused.UNKNOWN
    target = f"invite:{invite.id}"
    if invite.expires_at <= now:
        record(session, now, who, "staff.join", target, "refused", InviteRefused.EXPIRED)
        return InviteRefused.EXPIRED
    inviter = await session.get(StaffMember, invite.created_by_id)
    if inviter is None or inviter.revoked_at is not None or inviter.role is not StaffRole.ADMIN:
        # An admin who has since been removed can no longer bring people in.
        record(session, now, who, "staff.join", target, "refused", "inviter revoked")
        return InviteRefused.UNKNOWN
    # The claim is one conditional UPDATE, so of two people pressing at once exactly one wins,
    # on SQLite (where row locks do nothing) as on PostgreSQL.
    claimed = await session.scalar(
        update(StaffInvite)
        .where(StaffInvite.id == invite.id, StaffInvite.used_at.is_(None))
        .values(used_at=now)
        .returning(StaffInvite.id)
        .execution_options(synchronize_session=False)
    )
    if claimed is None:
        record(session, now, who, "staff.join", target, "refused", InviteRefused.USED)
        return InviteRefused.USED
    member = await add_staff(session, telegram_user_id, invite.role, now, added_by=inviter)
    await session.execute(
        update(StaffInvite)
        .where(StaffInvite.id == invite.id)
        .values(used_by_id=member.id)
        .execution_options(synchronize_session=False)
    )
    record(session, now, actor(member), "staff.join", target, "ok", invite.role.value)
    return member


async def list_staff(session: AsyncSession) -> list[StaffMember]:
    """Every member, current ones first."""
    result = await session.scalars(
        select(StaffMember).order_by(StaffMember.revoked_at.is_not(None), StaffMember.id)
    )
    return list(result)


async def revoke_staff(
    session: AsyncSession, admin: StaffMember, staff_id: int, now: dt.datetime
) -> StaffMember | None:
    """Take away someone's staff access at once; None if there is no such current member.

    Admins can't revoke themselves, so there is always someone left to manage staff.
    """
    member = await session.get(StaffMember, staff_id)
    if member is None or member.revoked_at is not None or member.id == admin.id:
        record(session, now, actor(admin), "staff.revoke", f"staff:{staff_id}", "refused", None)
        return None
    member.revoked_at = now
    record(session, now, actor(admin), "staff.revoke", f"staff:{member.id}", "ok", None)
    return member
