"""Factories: residents made through the real conversation, or straight into the database."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import textwrap
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.services.residents.consent import ConsentContext, Controller, record_consent
from bot.services.residents.safeguarding import SafeguardingKey
from bot.services.staff.accounts import add_staff
from models import (
    OPTIONAL_PURPOSES,
    ConsentPurpose,
    Resident,
    ResidentStatus,
    StaffMember,
    StaffRole,
)
from tests.harness import TEST_SAFEGUARDING_SECRET, BotHarness

# The safeguarding key the test bot uses, for services called directly.
TEST_KEY = SafeguardingKey(TEST_SAFEGUARDING_SECRET)

# Real Essex postcodes from the shipped data, with the ward they fall in.
CHELMSFORD_POSTCODE = "CM1 1AA"
CHELMSFORD_WARD = "Moulsham and Central"
COLCHESTER_POSTCODE = "CO1 1AA"

_telegram_ids = itertools.count(9_100_000)


def new_resident_user(fake: FakeTelegram, first_name: str = "Amira", **kwargs: Any) -> FakeUser:
    """A Telegram user who is about to talk to the bot."""
    return fake.new_user(first_name, **kwargs)


async def give_consents(bot: BotHarness, user: FakeUser, start: str = "/start") -> None:
    """Start sign-up and agree to everything, leaving her at the due-date question."""
    await bot.send(user, start)
    await bot.press(user, "Yes, I agree")
    for _ in range(3):
        await bot.press(user, "Yes please")


async def give_due_date(bot: BotHarness, user: FakeUser, due: str = "14/03/2027") -> None:
    """She types her due date and confirms the date the bot read from it."""
    sent = await bot.send(user, due)
    if sent and "Yes, that's right" in sent[-1].button_texts():
        await bot.press(user, "Yes, that's right")


async def at_area_step(bot: BotHarness, fake: FakeTelegram, name: str = "Amira") -> FakeUser:
    """A new resident who has answered everything up to her neighbourhood."""
    user = new_resident_user(fake, name)
    await give_consents(bot, user)
    await give_due_date(bot, user)
    return user


async def onboard(
    bot: BotHarness,
    user: FakeUser,
    *,
    start: str = "/start",
    optional: tuple[bool, bool, bool] = (True, True, True),
    due: str = "14/03/2027",
    area: str = CHELMSFORD_POSTCODE,
    name: str | None = None,
    confirm: bool = True,
) -> None:
    """Take her through sign-up, answering every question the way the arguments say."""
    await bot.send(user, start)
    await bot.press(user, "Yes, I agree")
    for choice in optional:
        await bot.press(user, "Yes please" if choice else "No thanks")
    await give_due_date(bot, user, due)
    await bot.send(user, area)
    # Only someone who wants to meet other mums is asked for the name they would see.
    if optional[0] and name is None:
        await bot.press(user, 0)
    elif optional[0] and name is not None:
        await bot.send(user, name)
    if confirm:
        await bot.press(user, "✅ That's right")


TEST_CONTROLLER = Controller("Test Council", "privacy@example.org", "https://example.org/privacy")


def consent_evidence(
    now: dt.datetime, method: str = "factory", source: str | None = None
) -> ConsentContext:
    """Consent context for records made outside the conversation."""
    return ConsentContext(
        notice_version="test",
        shown_text="factory",
        method=method,
        source=source,
        now=now,
        language="en",
        controller=TEST_CONTROLLER,
    )


async def make_resident(
    session: AsyncSession,
    now: dt.datetime,
    *,
    consents: bool = True,
    **fields: Any,
) -> Resident:
    """An active resident written straight to the database, for service-level tests."""
    values: dict[str, Any] = {
        "person_ref": str(uuid.uuid4()),
        "telegram_user_id": next(_telegram_ids),
        "status": ResidentStatus.ACTIVE,
        "display_name": "Test Mum",
        "due_date": now.date() + dt.timedelta(weeks=20),
        "ward_code": "E05015473",
        "district_code": "E07000070",
        "language_code": "en",
        "created_at": now,
        "updated_at": now,
        "onboarded_at": now,
        # Mirrors the matching choice recorded below, as residents.set_consent keeps it.
        "matching_consent": consents,
        "local_info_consent": consents,
    }
    values.update(fields)
    resident = Resident(**values)
    session.add(resident)
    evidence = consent_evidence(now)
    await record_consent(session, resident.person_ref, ConsentPurpose.HEALTH_DATA, True, evidence)
    for purpose in OPTIONAL_PURPOSES:
        await record_consent(session, resident.person_ref, purpose, consents, evidence)
    await session.flush()
    return resident


async def make_staff(
    session: AsyncSession, now: dt.datetime, role: StaffRole, telegram_user_id: int
) -> StaffMember:
    """A current member of staff, as `bumpbuddies staff add` makes one."""
    return await add_staff(session, telegram_user_id, role, now)


def english_content(tmp_path: Path) -> Path:
    """A copy of the shipped English content only (no translations), to add translations to."""
    source = Path(__file__).resolve().parents[1] / "content"
    folder = tmp_path / "content"
    folder.mkdir()
    for path in source.iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    return folder


def translate_content(folder: Path, language: str, files: dict[str, str]) -> Path:
    """Write a small translation, content/<language>/<file>, one file per entry of `files`."""
    target = folder / language
    target.mkdir(exist_ok=True)
    for name, text in files.items():
        (target / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return target
