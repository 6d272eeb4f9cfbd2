"""Console sign-in and sessions: the rules, with a session in and data out (no web, no telegram).

Two ways in, both through the bot, so the console has no passwords of its own:
- a desk shows a short code and the member sends `/console CODE` from her phone (`approve_code`);
- `/console` alone sends her a link that works once within ten minutes (`create_link`), whose page
  signs in only on a click (`use_link`), so a link preview cannot use it up.
Every lookup is by the SHA-256 of a token; the tokens themselves live only in the browser's cookie
and in the message the bot sent.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.staff.accounts import actor, hash_token
from bot.services.staff.audit import record
from models import ConsoleLink, ConsoleSession, StaffMember

LINK_LIFETIME = dt.timedelta(minutes=10)
CODE_LIFETIME = dt.timedelta(minutes=10)
IDLE_TIMEOUT = dt.timedelta(minutes=30)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=8)
# 32 bytes: 256 bits, as asked of every bearer token here.
_TOKEN_BYTES = 32
# No 0/O, 1/I/L, 5/S or 2/Z: the code is read off a screen and typed on a phone.
CODE_ALPHABET = "346789ABCDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 8
LINK_PATH = "/signin/link/"


class LinkRefused(enum.StrEnum):
    """Why a sign-in link did not work."""

    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    NOT_STAFF = "not staff"


@dataclass(frozen=True)
class NewSession:
    """A session just made: the cookie value (never stored) and its row."""

    token: str
    row: ConsoleSession


@dataclass(frozen=True)
class Current:
    """The session a request belongs to, and the member it is signed in as (if any)."""

    row: ConsoleSession
    member: StaffMember | None


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """A code as typed: any case, spaces or dashes."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def show_code(code: str) -> str:
    """Easier to read aloud in two halves."""
    return f"{code[:4]}-{code[4:]}"


async def start_session(
    session: AsyncSession, now: dt.datetime, member: StaffMember | None = None
) -> NewSession:
    """A new browser session: signed in as `member`, or waiting with a fresh pairing code."""
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    row = ConsoleSession(
        token_sha256=hash_token(token),
        csrf_token=secrets.token_urlsafe(_TOKEN_BYTES),
        pair_code=None if member is not None else _new_code(),
        staff_id=member.id if member is not None else None,
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    await session.flush()
    if member is not None:
        record(session, now, actor(member), "console.signin", f"session:{row.id}", "ok")
    return NewSession(token, row)


def _expired(row: ConsoleSession, now: dt.datetime) -> bool:
    if row.staff_id is None:
        return now - row.created_at >= CODE_LIFETIME
    return now - row.last_seen_at >= IDLE_TIMEOUT or now - row.created_at >= ABSOLUTE_TIMEOUT


async def current(session: AsyncSession, token: str | None, now: dt.datetime) -> Current | None:
    """The live session for a cookie, its idle clock restarted; None if there is none.

    The member is read afresh each time, so a changed role applies at the next page and a
    removed member's sessions end at once.
    """
    if not token:
        return None
    row = await session.scalar(
        select(ConsoleSession).where(ConsoleSession.token_sha256 == hash_token(token))
    )
    if row is None or row.ended_at is not None:
        return None
    if _expired(row, now):
        row.ended_at = now
        return None
    member = None
    if row.staff_id is not None:
        member = await session.get(StaffMember, row.staff_id)
        if member is None or member.revoked_at is not None:
            row.ended_at = now
            return None
    row.last_seen_at = now
    return Current(row, member)


async def end_session(session: AsyncSession, row: ConsoleSession, now: dt.datetime) -> None:
    """Sign out."""
    row.ended_at = now
    if row.staff_id is not None:
        member = await session.get(StaffMember, row.staff_id)
        record(session, now, actor(member), "console.signout", f"session:{row.id}", "ok")


async def end_sessions_of(session: AsyncSession, staff_id: int, now: dt.datetime) -> int:
    """End every live session of a member (her role was taken away); how many there were."""
    result = await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.staff_id == staff_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def approve_code(
    session: AsyncSession, member: StaffMember, code: str, now: dt.datetime
) -> bool:
    """`/console CODE`: the waiting desk session showing this code is approved for her."""
    wanted = normalise_code(code)
    # One conditional UPDATE: a code approves one session, once, while it is fresh.
    approved = await session.scalar(
        update(ConsoleSession)
        .where(
            ConsoleSession.pair_code == wanted,
            ConsoleSession.staff_id.is_(None),
            ConsoleSession.approved_staff_id.is_(None),
            ConsoleSession.ended_at.is_(None),
            ConsoleSession.created_at > now - CODE_LIFETIME,
        )
        .values(approved_staff_id=member.id)
        .returning(ConsoleSession.id)
        .execution_options(synchronize_session=False)
    )
    outcome = "ok" if approved is not None else "refused"
    target = f"session:{approved}" if approved is not None else None
    record(session, now, actor(member), "console.approve", target, outcome)
    return approved is not None


async def take_approval(
    session: AsyncSession, waiting: ConsoleSession, now: dt.datetime
) -> NewSession | None:
    """The desk's next look after approval: the waiting session ends, a signed-in one starts.

    A new cookie, not the waiting one promoted: whatever knew the old cookie gains nothing.
    """
    if waiting.approved_staff_id is None or waiting.staff_id is not None:
        return None
    member = await session.get(StaffMember, waiting.approved_staff_id)
    waiting.ended_at = now
    if member is None or member.revoked_at is not None:
        return None
    return await start_session(session, now, member)


async def create_link(session: AsyncSession, member: StaffMember, now: dt.datetime) -> str:
    """A one-time sign-in token for her (the link's last part); only its digest is kept."""
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    link = ConsoleLink(
        token_sha256=hash_token(token),
        staff_id=member.id,
        created_at=now,
        expires_at=now + LINK_LIFETIME,
    )
    session.add(link)
    await session.flush()
    record(session, now, actor(member), "console.link", f"consolelink:{link.id}", "ok")
    return token


def link_url(base_url: str, token: str) -> str:
    """The address the bot sends."""
    return base_url.rstrip("/") + LINK_PATH + token


async def check_link(session: AsyncSession, token: str, now: dt.datetime) -> LinkRefused | None:
    """Would this link work (without using it)? For the page that asks for the click."""
    link = await session.scalar(
        select(ConsoleLink).where(ConsoleLink.token_sha256 == hash_token(token))
    )
    if link is None:
        return LinkRefused.UNKNOWN
    if link.used_at is not None:
        return LinkRefused.USED
    if link.expires_at <= now:
        return LinkRefused.EXPIRED
    return None


async def use_link(session: AsyncSession, token: str, now: dt.datetime) -> NewSession | LinkRefused:
    """Sign in with a link: once, within its ten minutes, while she is still staff."""
    link = await session.scalar(
        select(ConsoleLink).where(ConsoleLink.token_sha256 == hash_token(token))
    )
    if link is None:
        return LinkRefused.UNKNOWN
    member = await session.get(StaffMember, link.staff_id)
    target = f"consolelink:{link.id}"
    if link.expires_at <= now:
        record(session, now, actor(member), "console.signin", target, "refused", "expired")
        return LinkRefused.EXPIRED
    # Claimed by one conditional UPDATE, so two clicks at once sign in only one browser.
    claimed = await session.scalar(
        update(ConsoleLink)
        .where(ConsoleLink.id == link.id, ConsoleLink.used_at.is_(None))
        .values(used_at=now)
        .returning(ConsoleLink.id)
        .execution_options(synchronize_session=False)
    )
    if claimed is None:
        record(session, now, actor(member), "console.signin", target, "refused", "used")
        return LinkRefused.USED
    if member is None or member.revoked_at is not None:
        record(session, now, actor(member), "console.signin", target, "refused", "revoked")
        return LinkRefused.NOT_STAFF
    return await start_session(session, now, member)
