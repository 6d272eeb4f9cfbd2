"""`bumpbuddies sandbox`: chat with the real bot in a terminal, through a pretend Telegram.

The bot is built exactly as in production and long-polls over HTTP, but the Bot API it talks
to is a FakeTelegram on 127.0.0.1, so a newcomer needs no token and nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import signal
import sys
import threading
import unicodedata
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from pydantic import SecretStr
from sqlalchemy import select
from telegram import Update

from bot.app import build_application, running
from bot.config import Settings
from bot.context import BotApplication
from bot.handlers.local_info import jobs
from bot.handlers.staff.accounts import sync_commands
from bot.services.local_info.content import store_content
from bot.services.local_info.content_files import ContentInvalid, read_content
from bot.services.places.geo import default_gazetteer
from bot.services.staff import accounts as staff_service
from bot.services.staff.cli import revoke_as_operator
from models import StaffMember, StaffRole, UpdateInbox

from .fake_api import FakeTelegram, FakeUser, SentMessage
from .fake_http import FakeTelegramServer

__all__ = ["run_sandbox"]

CHELMSFORD = (51.7356, 0.4685)
DOWNLOADS = Path("data") / "sandbox-downloads"
# Wait this long for the bot to start answering, then until it has been quiet this long.
REPLY_TIMEOUT = 5.0
QUIET = 0.3
# Between looks at whether the bot has finished with her update.
HANDLED_POLL = 0.05
MAX_TEXT = 4096  # Telegram's limit on a message's length; real clients split longer ones.
_MAX_LINE_BYTES = 64 * 1024
_CHUNK = 64 * 1024
_NUMBER = re.compile(r"\d{1,9}")
_HELP = """\
Type a message and press Enter to send it to the bot as {name}. Commands like /start go as commands.
  1, 2, …           press that button on the newest message with buttons (:press N does the same)
  button text       type a keyboard button's text to tap it; L taps [L] (share location)
  :location LAT LON share a location (:loc; no numbers = central Chelmsford)
  :say TEXT         send TEXT exactly, even if it looks like a number or a :command
  :user NAME        become another resident (created if new); :users lists them; :whoami
  :staff [ROLE]     make the current resident staff: admin (the default), broadcaster, midwife
                    or moderator; :staff off takes it away
  :content          load the council's content (content/, SAMPLE allowed) into the sandbox
  :help             this help;  :quit (or Ctrl-D, Ctrl-C) to leave
Files the bot sends are saved under {downloads}/."""


class _Lines:
    """Lines from a byte source; over-long lines are cut, never allowed to exhaust memory."""

    def __init__(self, read: Callable[[], Awaitable[bytes]]) -> None:
        self._read = read
        self._buffer = bytearray()
        self._skipping = False  # dropping the rest of a line that was already cut
        self._eof = False

    async def next(self) -> str | None:
        """The next line without its newline, or None at end of input."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                if self._skipping:
                    self._skipping = False
                    continue
                return line.decode("utf-8", errors="replace")
            if self._eof:
                rest, self._buffer = bytes(self._buffer), bytearray()
                return rest.decode("utf-8", errors="replace") if rest else None
            if len(self._buffer) > _MAX_LINE_BYTES and not self._skipping:
                head = bytes(self._buffer[:_MAX_LINE_BYTES])
                self._buffer.clear()
                self._skipping = True
                return head.decode("utf-8", errors="replace")
            if self._skipping:
                self._buffer.clear()
            chunk = await self._read()
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _read_fd(fd: int) -> bytes:
    """One chunk from a file descriptor without blocking the event loop.

    add_reader keeps stdin blocking; connect_read_pipe would switch a terminal's shared file
    description to non-blocking, which can break prints to stdout and the shell afterwards.
    """
    loop = asyncio.get_running_loop()
    while True:
        ready: asyncio.Future[None] = loop.create_future()
        try:
            loop.add_reader(fd, _resolve, ready)
        except (OSError, ValueError, NotImplementedError):
            # Regular files and /dev/null can't be watched, but reading them returns at once.
            return await asyncio.to_thread(os.read, fd, _CHUNK)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        try:
            return os.read(fd, _CHUNK)
        except BlockingIOError:
            continue
        except OSError:
            return b""  # the terminal went away: treat it as end of input


def _clean(line: str) -> str:
    # Control characters can't be typed in a Telegram client; tabs and emoji joiners stay.
    kept = "".join(c for c in line if c == "\t" or unicodedata.category(c) != "Cc")
    return kept.strip()


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._")
    return cleaned or "file"


class _Chat:
    """The terminal conversation: reads commands, drives the fake, prints what the bot does."""

    def __init__(self, fake: FakeTelegram, lines: _Lines, out: TextIO, interactive: bool) -> None:
        self.fake = fake
        self.lines = lines
        self.out = out
        self.interactive = interactive
        self.bot_name = str(fake.bot_user["first_name"])
        self.users: dict[str, FakeUser] = {}
        self.me = self._user("Amira")
        self.keyboards: dict[int, list[list[dict[str, Any]]]] = {}
        self.shown: list[tuple[str, str, bool]] = []  # what each sent message looked like
        self.answers_shown = 0
        self.violations_shown = 0
        self.application: BotApplication | None = None  # set once the bot is running
        self.at_prompt = False  # waiting for her to type, so a late answer may be printed

    # --- output ----------------------------------------------------------------------------

    def write(self, text: str = "", end: str = "\n") -> None:
        try:
            self.out.write(text + end)
        except UnicodeEncodeError:
            encoding = getattr(self.out, "encoding", None) or "ascii"
            self.out.write((text + end).encode(encoding, "replace").decode(encoding))
        self.out.flush()

    def _block(self, label: str, lines: list[str]) -> None:
        first, *rest = lines or [""]
        self.write(f"{label} › {first}")
        for line in rest:
            self.write(f"    {line}" if line else "")

    def _buttons(self, message: SentMessage) -> list[str]:
        markup = message.reply_markup or {}
        rows: list[str] = []
        if "inline_keyboard" in markup:
            number = 0
            for row in message.buttons():
                cells = []
                for button in row:
                    number += 1
                    link = f" ({button['url']})" if "url" in button else ""
                    cells.append(f"[{number}] {button.get('text', '')}{link}")
                rows.append("  ".join(cells))
        elif "keyboard" in markup:
            for row in message.buttons():
                cells = [
                    f"[L] {b['text']}" if b.get("request_location") else f"⌨ {b['text']}"
                    for b in row
                ]
                rows.append("  ".join(cells))
        return rows

    def _show_new(self, message: SentMessage) -> None:
        label = self.bot_name
        if message.chat_id != self.me.id:
            label += f" (to {message.chat.get('first_name', message.chat_id)})"
        lines = message.plain_text.splitlines()
        if message.document is not None:
            lines.append(f"📎 saved to {self._save(*message.document)}")
        if message.photo is not None:
            lines.append("🖼 (a photo)")
        self._block(label, lines + self._buttons(message))
        markup = message.reply_markup or {}
        if "keyboard" in markup:
            self.keyboards[message.chat_id] = message.buttons()
        elif markup.get("remove_keyboard") and self.keyboards.pop(message.chat_id, None):
            self.write("    (the keyboard buttons went away)")

    def _show_change(self, message: SentMessage, before: tuple[str, str, bool]) -> None:
        first_line = (before[0].splitlines() or [""])[0]
        quoted = f"“{first_line[:40]}{'…' if len(first_line) > 40 else ''}”"
        if message.deleted:
            self.write(f"    ({self.bot_name} deleted {quoted})")
        elif message.plain_text != before[0]:
            self._block(f"{self.bot_name} (edited)", [*message.plain_text.splitlines()])
            for row in self._buttons(message):
                self.write(f"    {row}")
        elif message.has_inline_keyboard:
            self.write(f"    (new buttons under {quoted})")
            for row in self._buttons(message):
                self.write(f"    {row}")
        else:
            self.write(f"    (the buttons under {quoted} went away)")

    def _save(self, filename: str, content: bytes) -> str:
        name = _safe_name(filename)
        stem, suffix = os.path.splitext(name)
        try:
            DOWNLOADS.mkdir(parents=True, exist_ok=True)
            path = DOWNLOADS / name
            number = 1
            while path.exists():  # keep earlier downloads: she may want to compare them
                number += 1
                path = DOWNLOADS / f"{stem}-{number}{suffix}"
            path.write_bytes(content)
        except OSError as exc:
            return f"nowhere: could not save {name} ({exc.strerror})"
        return str(path)

    def _state(self, message: SentMessage) -> tuple[str, str, bool]:
        markup = json.dumps(message.reply_markup, sort_keys=True)
        return message.plain_text, markup, message.deleted

    def flush(self) -> None:
        """Print every message, edit, pop-up and API violation not printed yet."""
        sent = self.fake.sent
        for index, before in enumerate(self.shown):
            now = self._state(sent[index])
            if now != before:
                self._show_change(sent[index], before)
                self.shown[index] = now
        for message in sent[len(self.shown) :]:
            self._show_new(message)
            self.shown.append(self._state(message))
        for answer in self.fake.callback_answers[self.answers_shown :]:
            if answer.get("text"):
                kind = "alert" if answer.get("show_alert") else "pop-up"
                self.write(f"    ({kind}: {answer['text']})")
        self.answers_shown = len(self.fake.callback_answers)
        for problem in self.fake.violations[self.violations_shown :]:
            self.write(f"    (⚠ the bot broke a Bot API rule: {problem})")
        self.violations_shown = len(self.fake.violations)

    def _activity(self) -> tuple[int, ...]:
        sent = self.fake.sent
        return (
            len(sent),
            sum(m.edits for m in sent),
            sum(m.deleted for m in sent),
            len(self.fake.callback_answers),
            len(self.fake.violations),
        )

    def _changed_since(self, snapshot: tuple[int, ...]) -> Callable[[], bool]:
        return lambda: self._activity() != snapshot

    async def _settle(self, before: tuple[int, ...], update: dict[str, Any] | None = None) -> None:
        """Wait for the bot to answer, printing as it goes, until it has handled `update` and
        gone quiet."""
        try:
            await self.fake.wait_for(self._changed_since(before), REPLY_TIMEOUT)
        except TimeoutError:
            late = " (a late answer, like a big /report, shows as soon as it comes)"
            self.write(f"    (no answer from the bot within {REPLY_TIMEOUT:g} seconds{late})")
            return
        if update is not None:
            await self._handled(int(update["update_id"]))
        while True:
            self.flush()
            seen = self._activity()
            try:
                await self.fake.wait_for(self._changed_since(seen), QUIET)
            except TimeoutError:
                return

    async def _handled(self, update_id: int) -> None:
        """Until the bot has marked the update handled (bot/ordered.py), printing as it goes.

        Its first answer (an edit, say) can come well before the next question on a busy
        machine: a pause after the first is not the end of the answer, and the next line of a
        script must not go before the question it answers.
        """
        data = self.application.bot_data if self.application is not None else None
        if data is None or data.sessionmaker is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REPLY_TIMEOUT
        while loop.time() < deadline:
            self.flush()
            async with data.sessionmaker() as session:
                done = await session.scalar(
                    select(UpdateInbox.handled_at).where(UpdateInbox.update_id == update_id)
                )
            if done is not None:
                return
            await asyncio.sleep(HANDLED_POLL)

    # --- input -----------------------------------------------------------------------------

    def _user(self, name: str) -> FakeUser:
        key = name.casefold()
        if key not in self.users:
            self.users[key] = self.fake.new_user(name)
        return self.users[key]

    def banner(self) -> None:
        self.write(
            f"{self.bot_name} sandbox: the real bot, talking to a pretend Telegram on this "
            "computer; nothing leaves this machine."
        )
        self.write(f"You are {self.me.first_name}. Send /start to begin, or :help for help.")

    def _help(self) -> None:
        self.write(_HELP.format(name=self.me.first_name, downloads=DOWNLOADS))
        # What her own Telegram menu would show: a chat's own list (staff) wins over the default.
        commands = self.fake.commands_for({"type": "chat", "chat_id": self.me.id})
        commands = commands or self.fake.commands_for()
        if commands:
            listed = ", ".join(f"/{c['command']}" for c in commands)
            self.write(f"The bot's own commands: {listed}")

    async def show_late_answers(self) -> None:
        """While she is at the prompt, print what the bot sends after the wait gave up."""
        while True:
            seen = self._activity()
            with contextlib.suppress(TimeoutError):
                await self.fake.wait_for(self._changed_since(seen), 3600)
            if self._activity() != seen and self.at_prompt:
                self.write()
                self.flush()
                self.write(f"\n{self.me.first_name} › ", end="")

    async def run(self) -> None:
        """Read a line, act on it, print the answer; until :quit or end of input."""
        self.banner()
        late = asyncio.create_task(self.show_late_answers()) if self.interactive else None
        try:
            await self._conversation()
        finally:
            if late is not None:
                late.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await late

    async def _conversation(self) -> None:
        while True:
            if self.interactive:
                self.write(f"\n{self.me.first_name} › ", end="")
            self.at_prompt = True
            line = await self.lines.next()
            self.at_prompt = False
            if line is None:
                if self.interactive:
                    self.write()
                return
            text = _clean(line)
            if not self.interactive:  # echo piped input so the transcript reads as a chat
                echo = text if len(text) <= 200 else f"{text[:200]}…"
                self.write(f"\n{self.me.first_name} › {echo}")
            if len(line.encode()) >= _MAX_LINE_BYTES or len(text) > MAX_TEXT:
                text = text[:MAX_TEXT]
                self.write(f"    (cut to Telegram's limit of {MAX_TEXT} characters)")
            if text and not await self.handle(text):
                return

    async def handle(self, text: str) -> bool:
        """Act on one line; False means quit."""
        self.flush()
        if text.startswith(":"):
            return await self._command(text)
        if _NUMBER.fullmatch(text):
            await self._press(int(text))
            return True
        keyboard = [b for row in self.keyboards.get(self.me.id, []) for b in row]
        # Tapping a location button shares a location; typing its label would only send text.
        wanted = [b for b in keyboard if b.get("request_location")]
        if any(b.get("text") == text for b in wanted) or (wanted and text in ("L", "l")):
            await self._location(*CHELMSFORD)
        else:
            await self._send(text)
        return True

    async def _command(self, text: str) -> bool:
        name, _, rest = text[1:].partition(" ")
        name, rest = name.lower(), rest.strip()
        if name in ("quit", "q", "exit"):
            return False
        if name in ("help", "h", "?"):
            self._help()
        elif name in ("press", "p") and _NUMBER.fullmatch(rest):
            await self._press(int(rest))
        elif name in ("location", "loc"):
            await self._location_command(rest)
        elif name == "say" and rest:
            await self._send(rest)
        elif name == "user" and rest:
            self.me = self._user(rest[:64])  # Telegram's first-name limit
            self.write(f"    You are now {self.me.first_name}.")
        elif name == "users":
            for user in self.users.values():
                marker = "*" if user is self.me else " "
                self.write(f"  {marker} {user.first_name}")
        elif name == "whoami":
            self.write(f"    You are {self.me.first_name} (Telegram user id {self.me.id}).")
        elif name == "staff":
            await self._staff_command(rest.lower())
        elif name == "content":
            await self.load_content()
        else:
            self.write("    Unknown or incomplete command. Type :help to see what works.")
        return True

    def _running(self) -> BotApplication:
        assert self.application is not None, "the bot is not running yet"
        return self.application

    async def _staff_command(self, rest: str) -> None:
        if rest in ("off", "remove", "none"):
            await self.make_staff(None)
            return
        try:
            role = StaffRole(rest or "admin")
        except ValueError:
            roles = ", ".join(r.value for r in StaffRole)
            self.write(f"    Usage: :staff ROLE, with ROLE one of {roles} (or off)")
            return
        await self.make_staff(role)

    async def make_staff(self, role: StaffRole | None) -> None:
        """Make the current pretend resident staff with `role` (None: take it away)."""
        data = self._running().bot_data
        assert data.sessionmaker is not None and data.clock is not None
        now = data.clock.now()
        member: StaffMember | None
        async with data.sessionmaker() as session, session.begin():
            if role is not None:
                member = await staff_service.add_staff(session, self.me.id, role, now)
            else:
                member = await revoke_as_operator(session, self.me.id, now)
        if member is None:
            self.write(f"    {self.me.first_name} isn't staff, so nothing changed.")
            return
        await sync_commands(self._running().bot, member)
        if role is None:
            self.write(f"    {self.me.first_name} is no longer staff.")
        else:
            self.write(
                f"    {self.me.first_name} is now staff ({role.value}). Try /staff, /broadcast, "
                "/report or /joinlink; :help lists the bot's commands for you."
            )

    async def load_content(self) -> None:
        """Load the council's content files into the sandbox's database, SAMPLE or not."""
        application = self._running()
        data = application.bot_data
        assert data.settings is not None and data.sessionmaker is not None
        assert data.clock is not None
        gazetteer = default_gazetteer()
        try:
            content = read_content(data.settings.content_dir, gazetteer)
        except ContentInvalid as exc:
            self.write(
                f"    The content in {data.settings.content_dir} has {len(exc.problems)} "
                "problem(s); `bumpbuddies content check` lists them. Nothing was loaded."
            )
            return
        async with data.sessionmaker() as session, session.begin():
            await store_content(session, content, gazetteer, data.clock.now())
        await jobs.refresh_content(application)
        sample = " (SAMPLE content)" if content.sample else ""
        self.write(
            f"    Loaded {len(content.weeks)} week messages and {len(content.services)} "
            f"services{sample} into the sandbox; the bot uses them now."
        )

    async def _send(self, text: str) -> None:
        before = self._activity()
        update = self.fake.send_message(self.me, text)
        await self._settle(before, update)

    async def _location_command(self, rest: str) -> None:
        if not rest:
            await self._location(*CHELMSFORD)
            return
        try:
            latitude, longitude = (float(part) for part in rest.replace(",", " ").split())
        except ValueError:
            latitude = longitude = math.nan
        if not (abs(latitude) <= 90 and abs(longitude) <= 180):
            self.write("    Usage: :location LAT LON, e.g. :location 51.7356 0.4685")
            return
        await self._location(latitude, longitude)

    async def _location(self, latitude: float, longitude: float) -> None:
        self.write(f"    (sharing the location {latitude}, {longitude})")
        before = self._activity()
        update = self.fake.send_location(self.me, latitude, longitude)
        await self._settle(before, update)

    async def _press(self, number: int) -> None:
        mine = self.fake.messages(self.me)
        target = next((m for m in reversed(mine) if m.has_inline_keyboard and not m.deleted), None)
        if target is None:
            self.write(
                f"    There are no buttons to press. To send {number} as text: :say {number}"
            )
            return
        count = len(target.button_texts())
        if not 1 <= number <= count:
            self.write(
                f"    The newest buttons are numbered 1 to {count}. (:say {number} sends text)"
            )
            return
        before = self._activity()
        try:
            update = self.fake.press_button(self.me, target, number - 1)
        except (LookupError, ValueError) as exc:
            self.write(f"    Can't press that: {exc}")
            return
        self.write(f"    (pressed “{target.button_texts()[number - 1]}”)")
        await self._settle(before, update)


async def run_sandbox(
    settings: Settings,
    *,
    stdin: asyncio.StreamReader | None = None,
    out: TextIO | None = None,
    staff_role: StaffRole | None = None,
) -> None:
    """Run the real bot against a pretend Telegram and chat with it on stdin/stdout.

    With `staff_role`, the resident she starts as (the same pretend user id every time) is
    made staff with that role before the chat begins.
    """
    output = out if out is not None else sys.stdout
    if stdin is not None:
        injected = stdin
        lines = _Lines(lambda: injected.read(_CHUNK))
        interactive = False
    else:
        fd = sys.stdin.fileno()
        lines = _Lines(lambda: _read_fd(fd))
        interactive = sys.stdin.isatty()

    fake = FakeTelegram()
    server = FakeTelegramServer(fake)
    await server.start()
    chat = _Chat(fake, lines, output, interactive)
    try:
        application = build_application(
            settings.model_copy(
                update={
                    "telegram_bot_token": SecretStr(fake.token),
                    "bot_api_base_url": server.base_url,
                }
            ),
            # The pretend Telegram has no flood limits: replies come at once, as they used to.
            rate_limit=False,
        )
        async with running(application):
            updater = application.updater
            assert updater is not None
            await updater.start_polling(timeout=1, allowed_updates=Update.ALL_TYPES)
            chat.application = application
            if staff_role is not None:
                await chat.make_staff(staff_role)
            try:
                await _until_interrupted(chat.run())
            finally:
                await updater.stop()
    finally:
        await server.stop()
        chat.write("\nGoodbye – the sandbox has stopped. 💛")


async def _until_interrupted(work: Awaitable[None]) -> None:
    """Run `work`, ending it quietly on Ctrl-C instead of with a traceback."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    handled = threading.current_thread() is threading.main_thread()
    if handled:
        try:
            loop.add_signal_handler(signal.SIGINT, task.cancel)
        except (NotImplementedError, RuntimeError, ValueError):
            handled = False
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise asyncio.CancelledError  # we were cancelled from outside, not by Ctrl-C
    finally:
        task.cancel()
        if handled:
            loop.remove_signal_handler(signal.SIGINT)
