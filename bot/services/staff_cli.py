"""What the `bumpbuddies staff …` and `joinlink …` commands do, each as one unit of work."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.db import create_engine, create_sessionmaker
from bot.services import join_links, staff
from bot.services.staff_audit import audit_csv, audit_events
from models import StaffRole


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
