"""/forget leaves nothing of her: not in any table, and not in the SQLite file's bytes."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.handlers.local_info import jobs
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from models import StaffRole
from tests.content_support import load_sample_into_bot
from tests.factories import TEST_KEY, make_staff, onboard
from tests.harness import BotHarness
from tests.test_matching_support import card_for, join, requests
from tests.test_privacy_and_data_rights import _all_rows_as_text

# A Telegram id as they are nowadays (beyond 32 bits), so its stored integer is 6 bytes long.
HER_ID = 7_412_345_678
# In her ward (Moulsham and Central), and in none of the council's sample content.
HER_POSTCODE = "CM1 1AR"
HER_DUE = dt.date(2027, 3, 21)
HER_REASON = "Tangerine umbrella incident"
HER_COMMENT = "Quillfeather thanks the team"


@pytest.fixture
def sqlite_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every SQLite connection starts as on a build whose default keeps deleted text in the file.

    This machine's SQLite defaults secure_delete on; many builds do not, and the bot must not
    depend on which one it runs on.
    """
    real: Callable[..., sqlite3.Connection] = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = real(*args, **kwargs)
        connection.execute("PRAGMA secure_delete = OFF")
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect)


async def _a_full_life(bot: BotHarness, fake: FakeTelegram) -> FakeUser:
    """She signs up, is introduced, reports someone, gives feedback, gets every kind of message."""
    await load_sample_into_bot(bot)
    bea = await join(bot, fake, "Bea")
    cat = await join(bot, fake, "Cat")
    her = fake.new_user("Zephyrine", username="zephy_mum", last_name="Quill", user_id=HER_ID)
    await onboard(
        bot,
        her,
        start="/start clinic_9",
        name="Zephy Q the Brave",
        due=HER_DUE.strftime("%d/%m/%Y"),
        area=HER_POSTCODE,
    )
    await bot.send(her, "/match")
    await bot.press(her, "👋 Say hello", message=card_for(fake, her, "Bea"))
    await bot.press(bea, "✅ Yes, introduce us", message=requests(fake, bea)[-1])
    await bot.send(bea, "/mymatches")
    await bot.press(her, "⚠️ Report", message=card_for(fake, her, "Cat"))
    await bot.send(her, HER_REASON)
    # Cat erases herself: the report is kept for safeguarding, with her reason, until she goes.
    await bot.send(cat, "/forget")
    await bot.press(cat, "Yes, delete everything")
    await bot.send(her, "/feedback")
    await bot.press(her, "4")
    await bot.press(her, "Occasionally")
    await bot.send(her, HER_COMMENT)

    sender = fake.new_user("Bo", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), StaffRole.BROADCASTER, sender.id)
    await bot.send(sender, "/broadcast")
    await bot.send(sender, "We've updated our privacy notice.")
    await bot.press(sender, "Make it a service announcement")
    await bot.press(sender, "Send now")
    await bot.press(sender, "Yes, confirm")
    await jobs.run_daily(bot.app)
    assert bot.app.bot_data.delivery is not None
    await bot.app.bot_data.delivery.run_until_idle()
    received = [m.plain_text for m in fake.messages(her)]
    assert any("updated our privacy notice" in m for m in received)
    assert any("weeks pregnant" in m for m in received)
    return her


def _traces(her: FakeUser) -> list[str]:
    assert her.username is not None and her.last_name is not None
    return [
        str(her.id),
        her.first_name,
        her.last_name,
        her.username,
        "Zephy Q",
        HER_POSTCODE,
        HER_POSTCODE.replace(" ", ""),
        HER_DUE.isoformat(),
        repr(HER_DUE),
        HER_REASON,
        HER_COMMENT,
        # Her keyed hash: her side of the safeguarding record goes with her.
        TEST_KEY.of(her.id),
    ]


def _database_files(database_url: str) -> list[Path]:
    path = Path(database_url.removeprefix("sqlite+aiosqlite:///"))
    found = [Path(f"{path}{suffix}") for suffix in ("", "-journal", "-wal", "-shm")]
    return [file for file in found if file.exists()]


async def test_after_forget_no_table_and_no_byte_of_the_database_holds_her(
    sqlite_without_secure_delete: None, bot: BotHarness, fake: FakeTelegram, database_url: str
) -> None:
    her = await _a_full_life(bot, fake)

    await bot.send(her, "/forget")
    await bot.press(her, "Yes, delete everything")

    engine = bot.app.bot_data.engine
    assert engine is not None
    async with engine.connect() as connection:
        everything = await _all_rows_as_text(connection)
    for trace in _traces(her):
        assert trace not in everything, trace
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as connection:
        await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    files = _database_files(database_url)
    assert files
    patterns = {
        f"{trace!r} ({encoding})": trace.encode(encoding)
        for trace in _traces(her)
        for encoding in ("utf-8", "utf-16-le", "utf-16-be")
    }
    # SQLite keeps an integer in as few big-endian bytes as it fits: 6 for her id.
    patterns["her id as a stored integer"] = her.id.to_bytes(6, "big")
    for file in files:
        content = file.read_bytes()
        for name, pattern in patterns.items():
            assert pattern not in content, f"{name} in {file.name}"


async def test_every_connection_turns_secure_delete_on(
    sqlite_without_secure_delete: None, bot: BotHarness
) -> None:
    engine = bot.app.bot_data.engine
    assert engine is not None
    if engine.dialect.name != "sqlite":
        pytest.skip("secure_delete is SQLite's (PostgreSQL's dead rows are VACUUM's business)")
    async with engine.connect() as connection:
        assert await connection.scalar(text("PRAGMA secure_delete")) == 1
