"""The terminal sandbox: the real bot over HTTP to a pretend Telegram, driven by scripted input."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import terminal
from bot.sandbox.fake_api import FakeTelegram
from bot.sandbox.terminal import _Chat, _Lines, run_sandbox
from models import StaffRole
from tests.harness import settings_for_test

CONTENT = Path(__file__).resolve().parents[1] / "content"

NOTICE = "No TELEGRAM_BOT_TOKEN set, so starting the local sandbox instead of Telegram."


async def chat(database_url: str, script: str | bytes, **options: Any) -> str:
    """Run the sandbox on a scripted stdin (then end of input) and return its transcript."""
    stdin = asyncio.StreamReader()
    stdin.feed_data(script.encode() if isinstance(script, str) else script)
    stdin.feed_eof()
    out = io.StringIO()
    settings = settings_for_test("1:unused", database_url, content_dir=CONTENT)
    await asyncio.wait_for(run_sandbox(settings, stdin=stdin, out=out, **options), 60)
    return out.getvalue()


async def test_starting_as_staff_admin_opens_the_staff_tools(database_url: str) -> None:
    transcript = await chat(database_url, "/staff\n:help\n", staff_role=StaffRole.ADMIN)

    assert "Amira is now staff (admin)" in transcript
    assert "Bump Buddies › Staff" in transcript
    assert "#1 · admin · current" in transcript
    assert "/broadcast" in transcript.split("The bot's own commands:")[1]


async def test_staff_command_gives_and_takes_away_a_role(database_url: str) -> None:
    script = "\n".join([":staff midwife", "/mystats", ":staff off", "/mystats", ":staff chef"])
    transcript = await chat(database_url, script)

    assert "Amira is now staff (midwife)" in transcript
    assert "You haven't made any join links yet" in transcript
    assert "Amira is no longer staff." in transcript
    assert "Sorry, I don't know that command" in transcript.split("no longer staff")[1]
    assert "Usage: :staff ROLE, with ROLE one of admin, broadcaster, midwife" in transcript


async def test_content_command_loads_the_content_into_the_running_sandbox(
    database_url: str,
) -> None:
    transcript = await chat(database_url, ":content\n/help\n")

    assert "services (SAMPLE content) into the sandbox; the bot uses them now." in transcript
    after = transcript.split("the bot uses them now.")[1]
    assert "Maternity triage lines in Essex" in after


async def test_sign_up_with_buttons_keyboard_location_and_my_data(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # downloads land under ./data/sandbox-downloads/
    script = "\n".join(
        [
            "/start",
            "1",  # Yes, I agree
            "1",  # meeting other mums: yes please
            "2",  # local information: no thanks
            "2",  # feedback: no thanks
            "20 weeks",
            "1",  # "Yes, that's right" to the due date read from it
            "Choose from a list",  # a reply-keyboard button, typed
            "5",  # Chelmsford: the message is edited into its neighbourhoods
            "L",  # the keyboard's location button: central Chelmsford
            "/mydata",
            ":quit",
            "/never-sent",
        ]
    )
    transcript = await chat(database_url, script)

    assert "the real bot, talking to a pretend Telegram" in transcript
    assert "You are Amira." in transcript and ":help" in transcript
    assert "Bump Buddies › Hello Amira, and welcome to Bump Buddies 💛" in transcript
    assert "<b>" not in transcript
    assert "[1] Yes, I agree  [2] No thanks" in transcript
    assert "(pressed “Yes, I agree”)" in transcript
    assert "[L] 📍 Share my location" in transcript
    assert "Bump Buddies (edited) › Which neighbourhood in Chelmsford?" in transcript
    assert "(sharing the location 51.7356, 0.4685)" in transcript
    assert "Lovely – Moulsham and Central, Chelmsford." in transcript
    assert "(the keyboard buttons went away)" in transcript
    saved = tmp_path / "data" / "sandbox-downloads" / "bump-buddies-my-data.json"
    assert f"📎 saved to {saved.relative_to(tmp_path)}" in transcript
    assert json.loads(saved.read_bytes())["profile"]["ward_name"] == "Moulsham and Central"
    assert "/never-sent" not in transcript
    assert transcript.rstrip().endswith("Goodbye – the sandbox has stopped. 💛")


async def test_switching_residents_and_odd_input_never_crash(database_url: str) -> None:
    script = b"\n".join(
        [
            b"7",  # no buttons yet: a hint, nothing sent
            b":user Bea",
            b"/start",
            b"2",  # No thanks
            b":users",
            b":whoami",
            b":teleport",
            b":location 91 0",
            b"x" * 200_000,
            b"junk\x00\x01\xff\xfe here",
            b"   ",
            b":help",
        ]
    )
    transcript = await chat(database_url, script)  # ends at end of input, no :quit

    assert "There are no buttons to press. To send 7 as text: :say 7" in transcript
    assert "You are now Bea." in transcript
    assert "Hello Bea, and welcome" in transcript
    assert "We haven't kept any of your details." in transcript
    assert "    Amira\n  * Bea\n" in transcript
    assert "You are Bea (Telegram user id" in transcript
    assert "Unknown or incomplete command. Type :help" in transcript
    assert "Usage: :location LAT LON" in transcript
    assert "(cut to Telegram's limit of 4096 characters)" in transcript
    assert "junk\ufffd\ufffd here" in transcript
    assert (
        transcript.count("I'm not sure what to do with that")
        + transcript.count("Send /start to sign up")
        == 2
    )
    assert "The bot's own commands: /start, /profile" in transcript
    assert "Goodbye" in transcript


class WatchedOutput(io.StringIO):
    """Output that tells the test when a given text has been printed."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.seen = asyncio.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if self.marker in self.getvalue():
            self.seen.set()
        return written


async def test_ctrl_c_shuts_down_cleanly(database_url: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("only the main thread can take signals")
    stdin = asyncio.StreamReader()
    stdin.feed_data(b":whoami\n")  # and then nothing: she is sitting at the prompt
    out = WatchedOutput("You are Amira (Telegram user id")
    settings = settings_for_test("1:unused", database_url)
    sandbox = asyncio.create_task(run_sandbox(settings, stdin=stdin, out=out))
    await asyncio.wait_for(out.seen.wait(), 30)

    signal.raise_signal(signal.SIGINT)
    await asyncio.wait_for(sandbox, 30)  # returns normally: no KeyboardInterrupt, no traceback

    assert out.getvalue().rstrip().endswith("Goodbye – the sandbox has stopped. 💛")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def run_command(tmp_path: Path, *args: str, script: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` with no token, a fresh SQLite file and no developer .env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    env.update(
        SANDBOX_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.sqlite3'}",
        PYTHONUNBUFFERED="1",
    )
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        input=script,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def test_sandbox_command_chats_over_a_pipe(tmp_path: Path) -> None:
    result = run_command(tmp_path, "sandbox", script="/start\n1\n:quit\n")

    assert result.returncode == 0, result.stderr
    assert "Hello Amira, and welcome to Bump Buddies" in result.stdout
    assert "Meeting other mums-to-be" in result.stdout
    assert "Goodbye" in result.stdout
    assert "Traceback" not in result.stderr


def test_run_without_a_token_opens_the_sandbox(tmp_path: Path) -> None:
    result = run_command(tmp_path, "run", script=":quit\n")

    assert result.returncode == 0, result.stderr
    notice, banner = result.stdout.splitlines()[:2]
    assert notice == NOTICE
    assert banner.startswith("Bump Buddies sandbox: the real bot")
    assert "Goodbye" in result.stdout


async def test_an_answer_that_comes_after_the_wait_is_shown_at_the_prompt(
    fake: FakeTelegram,
) -> None:
    stdin = asyncio.StreamReader()
    out = WatchedOutput("Your report is ready")
    chat = _Chat(fake, _Lines(lambda: stdin.read(1024)), out, interactive=True)
    conversation = asyncio.create_task(chat.run())
    await fake.wait_for(lambda: chat.at_prompt, 5)
    fake.send_message(chat.me, "/report")  # as if the wait for its answer had given up

    await fake.call("sendMessage", {"chat_id": chat.me.id, "text": "Your report is ready"})
    await asyncio.wait_for(out.seen.wait(), 5)
    stdin.feed_eof()
    await asyncio.wait_for(conversation, 5)

    assert out.getvalue().rstrip().endswith("Bump Buddies › Your report is ready\n\nAmira ›")


async def test_each_scripted_line_waits_for_the_whole_answer_to_the_last_one(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No quiet time at all: what holds the next line back is the bot having finished with the
    # last one. (A pressed answer's note is an edit, and the next question comes after it; on a
    # busy machine that gap outlasted the quiet time, and "1" pressed the wrong message.)
    monkeypatch.setattr(terminal, "QUIET", 0.0)
    script = "\n".join(["/start", "1", "1", "2", "2"])

    transcript = await chat(database_url, script)

    presses = ["Yes, I agree", "Yes please", "No thanks", "No thanks"]
    assert all(f"(pressed “{p}”)" in transcript for p in presses), transcript[-600:]
    assert "When is your baby due?" in transcript
