"""What `bumpbuddies run` says when it cannot start, or starts short of something: one line each.

These drive the real process against the HTTP fake Bot API, which answers a wrong token with 401
and a wrong address with 404, as Telegram does.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox.fake_api import FakeTelegram
from bot.sandbox.fake_http import FakeTelegramServer
from bot.startup import mask_token
from tests.harness import TEST_SAFEGUARDING_SECRET

STEP_TIMEOUT = 30.0


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
