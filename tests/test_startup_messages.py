"""What `bumpbuddies run` says when it cannot start, or starts short of something: one line each.

These drive the real process against the HTTP fake Bot API, which answers a wrong token with 401
and a wrong address with 404, as Telegram does.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.error import InvalidToken

from bot.db import create_engine, latest_revision, schema_state, upgrade_database
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.sandbox.fake_http import FakeTelegramServer
from bot.startup import RedactingFormatter, mask_token, refused_token_line
from models import StaffRole
from tests.conftest import DEFAULT_NOW
from tests.content_support import load_sample
from tests.database import app_role, postgres_url
from tests.factories import make_staff
from tests.harness import TEST_SAFEGUARDING_SECRET
from tests.scratch_database import as_bot_role, scratch_database

STEP_TIMEOUT = 30.0
# A well-formed token Telegram never issued; these tests stop before any call is made.
UNUSED_TOKEN = "123456:" + "x" * 30


@pytest.fixture
async def server(fake: FakeTelegram) -> AsyncIterator[FakeTelegramServer]:
    """The fake Bot API served over HTTP on loopback."""
    async with FakeTelegramServer(fake) as served:
        yield served


def _environment(database_url: str, **settings: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "BOT_", "MIGRATION_", "DATABASE_", "CONTENT_"))
    }
    env.update(
        DATABASE_URL=database_url,
        SAFEGUARDING_SECRET=TEST_SAFEGUARDING_SECRET,
        PYTHONUNBUFFERED="1",
        # Wide enough that no line of output is wrapped: a wrapped line would hide a token.
        COLUMNS="400",
    )
    env.update(settings)
    return env


async def _run_to_exit(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """`bumpbuddies run …` until it exits by itself; its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", *args,
        cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), STEP_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    "token",
    ["123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "987654321:ZZZ-refused_token_made_up_here_xyz"],
)
def test_a_token_is_masked_to_its_bot_id_and_last_four_characters(token: str) -> None:
    bot_id, _, secret = token.partition(":")

    masked = mask_token(token)

    assert masked == f"{bot_id}:…{secret[-4:]}"
    assert secret[:-4] not in masked


@pytest.mark.parametrize("token", ["", "short", "no-colon-but-quite-long-anyway-1234", "12:ab"])
def test_something_not_shaped_like_a_token_is_masked_completely(token: str) -> None:
    assert mask_token(token) == "…"


def test_logs_mask_the_token_in_messages_arguments_and_tracebacks() -> None:
    token = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s", [token]))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("calling %s/getMe", f"https://bot-api.example.invalid/bot{token}")
        try:
            raise RuntimeError(f"The token `{token}` was rejected by the server.")
        except RuntimeError:
            logger.exception("start-up failed")
    finally:
        logger.removeHandler(handler)

    written = stream.getvalue()
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PAL" not in written
    assert "https://bot-api.example.invalid/bot123456:…Dsaw/getMe" in written
    assert "RuntimeError: The token `123456:…Dsaw` was rejected by the server." in written


def test_a_refusal_that_is_neither_401_nor_404_is_one_line_with_the_servers_words_cut_short() -> (
    None
):
    token = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    refusal = InvalidToken(f"Teapot at /bot{token}/getMe " + "x" * 200 + "\nsecond line")

    line = refused_token_line(refusal, token, "http://127.0.0.1:8081/bot")

    assert "\n" not in line
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PAL" not in line
    assert line.startswith(
        "The Bot API at http://127.0.0.1:8081/bot refused the bot token 123456:…Dsaw "
        "(Teapot at /bot123456:…Dsaw/getMe xxx"
    )
    assert line.endswith("): check TELEGRAM_BOT_TOKEN and BOT_API_BASE_URL.")
    # Where the cut falls inside the token, no part of its secret shows either.
    straddling = InvalidToken("y" * 65 + token)
    assert "AAHdq" not in refused_token_line(straddling, token, None)


async def test_a_refused_token_stops_start_up_with_one_line_that_never_shows_it(
    server: FakeTelegramServer, database_url: str, tmp_path: Path
) -> None:
    wrong = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    env = _environment(database_url, TELEGRAM_BOT_TOKEN=wrong, BOT_API_BASE_URL=server.base_url)

    code, out, err = await _run_to_exit(tmp_path, env)

    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"The Bot API at {server.base_url} refused the bot token 123456:…Dsaw (401 "
        "Unauthorized): check TELEGRAM_BOT_TOKEN against the one BotFather gave you (/mybots, "
        "then API Token)."
    ]
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PAL" not in out + err


async def test_a_wrong_bot_api_address_stops_start_up_with_one_line_that_never_shows_the_token(
    fake: FakeTelegram, server: FakeTelegramServer, database_url: str, tmp_path: Path
) -> None:
    # A path the server does not have answers 404, as a mistyped BOT_API_BASE_URL would.
    wrong_address = server.base_url.replace("/bot", "/telegram/bot")
    env = _environment(database_url, TELEGRAM_BOT_TOKEN=fake.token, BOT_API_BASE_URL=wrong_address)

    code, out, err = await _run_to_exit(tmp_path, env)

    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"The Bot API at {wrong_address} answered 404 Not Found for the bot token "
        f"{mask_token(fake.token)}: check TELEGRAM_BOT_TOKEN, and BOT_API_BASE_URL (unset, it "
        "is Telegram's own)."
    ]
    secret = fake.token.partition(":")[2]
    assert secret[:-4] not in out + err


def _bot_role() -> str | None:
    owner = postgres_url()
    return app_role(owner) if owner else None


async def _migrate(owner_url: str, revision: str) -> None:
    # Alembic's env.py runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(upgrade_database, owner_url, revision, app_role=_bot_role())


async def test_run_on_a_database_without_tables_stops_with_one_line_naming_db_upgrade(
    database_url: str, tmp_path: Path
) -> None:
    async with scratch_database(tmp_path) as owner_url:
        env = _environment(as_bot_role(owner_url), TELEGRAM_BOT_TOKEN=UNUSED_TOKEN)

        code, out, err = await _run_to_exit(tmp_path, env)

    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "The database has no tables yet: run `bumpbuddies db upgrade` first "
        "(or start with `bumpbuddies run --migrate`)."
    ]


async def test_run_on_a_database_a_migration_behind_stops_with_one_line_naming_db_upgrade(
    database_url: str, tmp_path: Path
) -> None:
    async with scratch_database(tmp_path) as owner_url:
        await _migrate(owner_url, "0017")
        env = _environment(as_bot_role(owner_url), TELEGRAM_BOT_TOKEN=UNUSED_TOKEN)

        code, out, err = await _run_to_exit(tmp_path, env)

    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"The database is at migration 0017, not {latest_revision()}: run "
        "`bumpbuddies db upgrade` first (or start with `bumpbuddies run --migrate`)."
    ]


async def test_run_on_a_database_a_newer_version_migrated_asks_for_that_version(
    database_url: str, tmp_path: Path
) -> None:
    async with scratch_database(tmp_path) as owner_url:
        await _migrate(owner_url, "head")
        owner = create_engine(owner_url)
        async with owner.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        await owner.dispose()
        env = _environment(as_bot_role(owner_url), TELEGRAM_BOT_TOKEN=UNUSED_TOKEN)

        code, _, err = await _run_to_exit(tmp_path, env)

    assert code == 2
    assert err.splitlines() == [
        f"The database is at migration 9999, which this version of Bump Buddies does not know "
        f"(its latest is {latest_revision()}): a newer version migrated it, so run that version "
        "(or a newer one)."
    ]
    assert "db upgrade" not in err


async def test_a_database_that_cannot_be_read_stops_start_up_with_one_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "bot.sqlite3").write_bytes(b"not a database, only words " * 100)
    env = _environment(
        f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}", TELEGRAM_BOT_TOKEN=UNUSED_TOKEN
    )

    code, out, err = await _run_to_exit(tmp_path, env)

    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "Could not read the database's migration as DATABASE_URL's user (file is not a "
        "database): check DATABASE_URL, and that `bumpbuddies db upgrade` has been run."
    ]


async def test_run_with_migrate_that_cannot_reach_the_owners_connection_stops_with_one_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "owner.sqlite3").write_bytes(b"not a database, only words " * 100)
    env = _environment(
        f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        MIGRATION_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'owner.sqlite3'}",
        TELEGRAM_BOT_TOKEN=UNUSED_TOKEN,
    )

    code, out, err = await _run_to_exit(tmp_path, env, "--migrate")

    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "Could not migrate the database as MIGRATION_DATABASE_URL's user (file is not a "
        "database): check MIGRATION_DATABASE_URL."
    ]


@asynccontextmanager
async def _running(
    cwd: Path, env: dict[str, str], *args: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`bumpbuddies run …` in the background (stdout and stderr together); SIGTERM afterwards."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", *args,
        cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STEP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """SIGTERM; its exit code and everything it printed."""
    process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(process.wait(), STEP_TIMEOUT)
    assert process.stdout is not None
    return code, (await process.stdout.read()).decode()


async def _agree(fake: FakeTelegram, user: FakeUser) -> None:
    """/start and the required consent: the bot reads and writes as its own role."""
    fake.send_message(user, "/start")
    question = await fake.wait_for_message(
        user.id, contains="Are you happy for us to keep these details?", timeout=STEP_TIMEOUT
    )
    after = len(fake.messages(user.id))
    fake.press_button(user, question, "Yes, I agree")
    await fake.wait_for_message(
        user.id, contains="Meeting other mums-to-be", after=after, timeout=STEP_TIMEOUT
    )


async def test_run_with_migrate_migrates_as_the_owner_grants_the_bot_and_starts(
    fake: FakeTelegram, server: FakeTelegramServer, database_url: str, tmp_path: Path
) -> None:
    async with scratch_database(tmp_path) as owner_url:
        await _migrate(owner_url, "0017")
        env = _environment(
            as_bot_role(owner_url),
            MIGRATION_DATABASE_URL=owner_url,
            TELEGRAM_BOT_TOKEN=fake.token,
            BOT_API_BASE_URL=server.base_url,
        )
        async with _running(tmp_path, env, "--migrate") as process:
            await _agree(fake, fake.new_user("Harriet"))
            code, output = await _stop(process)
        engine = create_engine(owner_url)
        state = await schema_state(engine)
        await engine.dispose()

    assert code == 0
    assert state.up_to_date
    assert output.startswith("Database is at revision head.\n")
    if _bot_role():
        assert f"Role {_bot_role()} may read and write" in output
    assert fake.token.partition(":")[2] not in output


NO_CONTENT = "bumpbuddies content load"


async def _line_containing(process: asyncio.subprocess.Process, wanted: str) -> list[str]:
    """Read its output up to and including the first line containing `wanted`."""
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or wanted not in lines[-1]:
        line = await asyncio.wait_for(process.stdout.readline(), STEP_TIMEOUT)
        assert line, f"it stopped before saying {wanted!r}: {lines}"
        lines.append(line.decode())
    return lines


async def test_without_content_start_up_and_staff_say_so_once_until_content_is_loaded(
    fake: FakeTelegram,
    server: FakeTelegramServer,
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    admin = fake.new_user("Staff admin", started=True)
    async with sessions() as session, session.begin():
        await make_staff(session, DEFAULT_NOW, StaffRole.ADMIN, admin.id)
    env = _environment(
        database_url, TELEGRAM_BOT_TOKEN=fake.token, BOT_API_BASE_URL=server.base_url
    )
    async with _running(tmp_path, env) as process:
        start_up = await _line_containing(process, NO_CONTENT)
        fake.send_message(admin, "/staff")
        before = await fake.wait_for_message(admin.id, contains="Staff", timeout=STEP_TIMEOUT)
        await load_sample(sessions, DEFAULT_NOW)
        after = len(fake.messages(admin.id))
        fake.send_message(admin, "/staff")
        loaded = await fake.wait_for_message(
            admin.id, contains="Staff", after=after, timeout=STEP_TIMEOUT
        )
        code, rest = await _stop(process)

    assert code == 0
    assert (
        start_up[-1]
        .rstrip()
        .endswith(
            "WARNING bot.app: No content is loaded: week-by-week messages, /services and the "
            "council's own helpline numbers wait for `bumpbuddies content load`."
        )
    )
    assert [line for line in [*start_up, *rest.splitlines()] if NO_CONTENT in line] == [
        start_up[-1]
    ]
    assert before.plain_text.startswith("Staff")
    assert before.plain_text.endswith(
        "\n\n⚠️ No content is loaded yet: week-by-week messages, /services and the council's own "
        "helpline numbers wait for bumpbuddies content load."
    )
    assert NO_CONTENT not in loaded.plain_text
    assert loaded.plain_text.startswith("Staff")
