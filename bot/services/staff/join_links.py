"""Midwives' join links: referral codes that sign-ups carry, counted per link over time."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.reports.protection import protect_count, protected_total
from bot.services.staff.audit import Actor, record
from models import JoinLink, Resident, StaffMember, StaffRole

CLINIC_MAX = 100
# Telegram's /start payload: at most 64 characters of A-Za-z0-9_-.
PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SLUG_MAX = 40
_MONTHS_SHOWN = 6


@dataclass(frozen=True)
class LinkCounts:
    """Sign-ups attributed to one link: numbers only, never who, rounded like every count staff
    see (`reports.protection`): each month's count is rounded and the total adds up all of them."""

    link: JoinLink
    total: int
    by_month: dict[str, int]


def clean_clinic(text: str) -> str | None:
    """The clinic or team name as stored, or None if empty or too long."""
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    name = " ".join(kept.split())
    return name if 0 < len(name) <= CLINIC_MAX else None


def _slug(clinic: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", clinic).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_only.lower())
    return "-".join(words)[:_SLUG_MAX].strip("-") or "clinic"


def new_code(clinic: str) -> str:
    """A readable, unguessable code: the clinic's name and 48 random bits."""
    code = f"{_slug(clinic)}-{secrets.token_urlsafe(6)}"
    assert PAYLOAD.fullmatch(code) and not code.startswith("staff_")
    return code


def deep_link(bot_username: str, code: str) -> str:
    """The t.me link that opens the bot with this code as the /start payload."""
    return f"https://t.me/{bot_username}?start={code}"


def _actor(member: StaffMember | None) -> Actor:
    return Actor(member.telegram_user_id, member.role.value) if member else Actor(None, "cli")


async def create_join_link(
    session: AsyncSession,
    clinic: str,
    district_code: str | None,
    now: dt.datetime,
    created_by: StaffMember | None = None,
) -> JoinLink:
    """A new link for a clinic or team, optionally pre-selecting a district at sign-up."""
    cleaned = clean_clinic(clinic)
    if cleaned is None:
        raise ValueError(f"a clinic name needs 1 to {CLINIC_MAX} characters")
    link = JoinLink(
        code=new_code(cleaned),
        clinic=cleaned,
        district_code=district_code,
        created_by_id=created_by.id if created_by else None,
        created_at=now,
    )
    session.add(link)
    await session.flush()
    record(session, now, _actor(created_by), "joinlink.create", f"joinlink:{link.id}", "ok")
    return link


async def known_code(session: AsyncSession, payload: str | None) -> str | None:
    """The payload when it is a join link we made (revoked ones included), else None.

    Only known codes are stored with a resident and her consent record: an unrecognised payload
    could be anything, including a staff invitation typed in a way we did not route.
    """
    if not payload or not PAYLOAD.fullmatch(payload):
        return None
    return await session.scalar(select(JoinLink.code).where(JoinLink.code == payload))


async def live_link(session: AsyncSession, payload: str | None) -> JoinLink | None:
    """The link a /start payload names, unless it was revoked."""
    if not payload or not PAYLOAD.fullmatch(payload):
        return None
    return await session.scalar(
        select(JoinLink).where(JoinLink.code == payload, JoinLink.revoked_at.is_(None))
    )


async def visible_links(session: AsyncSession, member: StaffMember | None) -> list[JoinLink]:
    """Links she may see: her own (a midwife), or all (an admin, the command line)."""
    statement = select(JoinLink).order_by(JoinLink.id)
    if member is not None and member.role is not StaffRole.ADMIN:
        statement = statement.where(JoinLink.created_by_id == member.id)
    return list(await session.scalars(statement))


async def revoke_join_link(
    session: AsyncSession, link_id: int, now: dt.datetime, member: StaffMember | None = None
) -> JoinLink | None:
    """Stop attributing sign-ups to a link (the link itself keeps working for mums)."""
    links = await visible_links(session, member)
    link = next((item for item in links if item.id == link_id), None)
    if link is None or link.revoked_at is not None:
        record(session, now, _actor(member), "joinlink.revoke", f"joinlink:{link_id}", "refused")
        return None
    link.revoked_at = now
    record(session, now, _actor(member), "joinlink.revoke", f"joinlink:{link.id}", "ok")
    return link


def attributed() -> ColumnElement[bool]:
    """Join condition: the resident's sign-up counts for this link.

    A sign-up counts for a link made before it and not revoked before it (a revoked link still
    starts sign-up, but no longer counts it). The council's report joins on this too, so its
    sign-ups by join link always agree with what midwives see.
    """
    return and_(
        Resident.signup_source == JoinLink.code,
        Resident.created_at >= JoinLink.created_at,
        or_(JoinLink.revoked_at.is_(None), Resident.created_at < JoinLink.revoked_at),
    )


async def link_counts(
    session: AsyncSession, links: list[JoinLink], today: dt.date, zone: dt.tzinfo, base: int
) -> list[LinkCounts]:
    """Sign-ups per link, in total and for each of the last six months (local calendar)."""
    if not links:
        return []
    rows = await session.execute(
        select(JoinLink.id, Resident.created_at)
        .join(Resident, attributed())
        .where(JoinLink.id.in_([link.id for link in links]))
    )
    by_month: dict[int, Counter[str]] = {link.id: Counter() for link in links}
    for link_id, created_at in rows:
        by_month[link_id][f"{created_at.astimezone(zone):%Y-%m}"] += 1
    shown = [f"{_month_start(today, back):%Y-%m}" for back in reversed(range(_MONTHS_SHOWN))]
    # The total is the sum of every month's rounded count, never the exact total: otherwise
    # the total asked before a sign-up and after it would give her away.
    return [
        LinkCounts(
            link,
            protected_total(by_month[link.id].values(), base),
            {m: protect_count(by_month[link.id][m], base) for m in shown},
        )
        for link in links
    ]


async def sign_ups_by_link(session: AsyncSession, *where: ColumnElement[bool]) -> dict[str, int]:
    """Attributed sign-ups per link code, of residents meeting `where` if given."""
    rows = await session.execute(
        select(JoinLink.code, func.count(Resident.id))
        .join(Resident, attributed())
        .where(*where)
        .group_by(JoinLink.code)
    )
    return {code: int(count) for code, count in rows}


def _month_start(today: dt.date, back: int) -> dt.date:
    month = today.year * 12 + today.month - 1 - back
    return dt.date(month // 12, month % 12 + 1, 1)
