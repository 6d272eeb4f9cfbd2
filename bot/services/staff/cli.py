"""What the `bumpbuddies staff …` and `joinlink …` commands do, each as one unit of work."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import create_engine, create_sessionmaker
from bot.services.places.geo import District, Gazetteer
from bot.services.staff import accounts as staff
from bot.services.staff import join_links
from bot.services.staff.audit import audit_csv, audit_events, record
from models import StaffMember, StaffRole


@dataclass(frozen=True)
class NewLink:
    """A join link made on the command line."""

    code: str
    clinic: str


async def add_staff_member(database_url: str, telegram_user_id: int, role: StaffRole) -> int:
    """Make (or reinstate) a member; returns her staff number."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            member = await staff.add_staff(session, telegram_user_id, role, dt.datetime.now(dt.UTC))
            return member.id
    finally:
        await engine.dispose()


async def staff_lines(database_url: str) -> list[str]:
    """One line per member, current ones first: number, Telegram user id, role, state."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            members = await staff.list_staff(session)
    finally:
        await engine.dispose()
    return [
        f"#{m.id}  telegram id {m.telegram_user_id}  {m.role.value}  "
        + (f"removed {m.revoked_at:%Y-%m-%d}" if m.revoked_at else "current")
        for m in members
    ]


async def revoke_as_operator(
    session: AsyncSession, telegram_user_id: int, now: dt.datetime
) -> StaffMember | None:
    """The server's operator takes a current member's access away (audited); None if not staff.

    Unlike an admin in /staff, the operator may remove the last admin: `staff add` makes another.
    """
    member = await staff.active_staff(session, telegram_user_id)
    if member is None:
        return None
    member.revoked_at = now
    record(session, now, staff.actor(None), "staff.revoke", f"staff:{member.id}", "ok", None)
    return member


async def remove_staff_member(database_url: str, telegram_user_id: int) -> int | None:
    """`staff remove`: her staff number, or None if she was not current staff."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            member = await revoke_as_operator(session, telegram_user_id, dt.datetime.now(dt.UTC))
            return None if member is None else member.id
    finally:
        await engine.dispose()


def find_district(gazetteer: Gazetteer, name_or_code: str) -> District | None:
    """A district by its code or its name, whatever the case ("chelmsford", "E07000070")."""
    wanted = " ".join(name_or_code.split()).casefold()
    for district in gazetteer.districts():
        if wanted in (district.code.casefold(), district.name.casefold()):
            return district
    return None


async def create_link(database_url: str, clinic: str, district_code: str | None) -> NewLink:
    """A new join link, made by the server's operator (audited as the command line)."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            link = await join_links.create_join_link(
                session, clinic, district_code, dt.datetime.now(dt.UTC)
            )
            return NewLink(link.code, link.clinic)
    finally:
        await engine.dispose()


async def export_audit(database_url: str) -> str:
    """The whole audit trail as CSV."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return audit_csv(await audit_events(session))
    finally:
        await engine.dispose()
