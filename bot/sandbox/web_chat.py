"""The console's "Try it" page: the terminal sandbox's web twin.

The real bot, built as in production, talks to a pretend Telegram (FakeTelegram) in this process
and keeps its data in the sandbox's own database (SANDBOX_DATABASE_URL), never the one real
residents live in. Each member of staff chats as a pretend resident of her own. Updates are
handed to the bot directly (as `bumpbuddies serve` hands it pushed ones), one at a time, and the
answer is complete when the handler returns, so the page shows it at once, with no polling.

The chats live in this process's memory: the console (`bumpbuddies console`) is one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr
from telegram import Update

from bot.app import build_application, running
from bot.clock import Clock
from bot.config import Settings
from bot.context import BotApplication
from bot.db import upgrade_database

from .fake_api import FakeTelegram, FakeUser, SentMessage
from .fake_request import FakeRequest
from .fake_transport import FakeTransport

__all__ = ["ChatLine", "ChatView", "WebSandbox", "entities_html"]

CHELMSFORD = (51.7356, 0.4685)
MAX_TEXT = 4096  # Telegram's limit on a message's length.

# Telegram's formatting entities as HTML, built from the plain text and its entities only, so
# nothing the bot sent is ever pasted into the page as markup.
_SIMPLE_TAGS = {
    "bold": "strong",
    "italic": "em",
    "underline": "u",
    "strikethrough": "s",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "expandable_blockquote": "blockquote",
    "spoiler": "span",
}


def _safe_url(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("https", "http", "tg") and (parts.netloc or parts.scheme == "tg"):
        return url
    return None


def _tags(entity: dict[str, Any], text: str) -> tuple[str, str] | None:
    kind = str(entity.get("type", ""))
    if kind in _SIMPLE_TAGS:
        tag = _SIMPLE_TAGS[kind]
        return f"<{tag}>", f"</{tag}>"
    if kind in ("text_link", "url"):
        url = _safe_url(str(entity.get("url") or text))
        if url is None:
            return None
        href = html.escape(url, quote=True)
        return f'<a href="{href}" rel="noopener noreferrer" target="_blank">', "</a>"
    return None


def entities_html(text: str, entities: list[dict[str, Any]]) -> str:
    """A message's text with its entities as HTML; everything else escaped."""
    units = text.encode("utf-16-le")
    length = len(units) // 2
    opens: dict[int, list[str]] = defaultdict(list)
    closes: dict[int, list[str]] = defaultdict(list)
    # Outer entities first (earlier start, then longer), so tags nest as Telegram's do.
    for entity in sorted(entities, key=lambda e: (int(e["offset"]), -int(e["length"]))):
        start = max(0, min(int(entity["offset"]), length))
        end = max(start, min(start + int(entity["length"]), length))
        inner = units[2 * start : 2 * end].decode("utf-16-le", "replace")
        tags = _tags(entity, inner)
        if tags is None or end == start:
            continue
        opens[start].append(tags[0])
        closes[end].insert(0, tags[1])
    out: list[str] = []
    cuts = sorted({0, length, *opens, *closes})
    for here, following in zip(cuts, [*cuts[1:], length], strict=True):
        out.extend(closes.get(here, []))
        out.extend(opens.get(here, []))
        if following > here:
            out.append(html.escape(units[2 * here : 2 * following].decode("utf-16-le", "replace")))
    return "".join(out)


@dataclass(frozen=True)
class Button:
    """An inline button under a message: pressed by its position, or a link."""

    index: int
    text: str
    url: str | None


@dataclass(frozen=True)
class ChatLine:
    """One line of the chat window: hers, the bot's, or a note (a pop-up, a shared place)."""

    who: str  # "me", "bot" or "note"
    html: str
    message_id: int | None = None
    buttons: list[list[Button]] = field(default_factory=list)
    file_name: str | None = None
    edited: bool = False


@dataclass(frozen=True)
class ChatView:
    """What the page shows: the chat so far and her reply keyboard, if the bot showed one."""

    lines: list[ChatLine]
    keyboard: list[list[dict[str, Any]]]
    resident: str


@dataclass
class _Person:
    """A member of staff's pretend resident, and what she said (the fake keeps the bot's side)."""

    user: FakeUser
    # (how many of the bot's messages came before it, what it was): hers, in the chat's order.
    said: list[tuple[int, str, str]] = field(default_factory=list)


Upgrade = Callable[[str], Awaitable[None]]


async def _upgrade(database_url: str) -> None:
    await asyncio.to_thread(upgrade_database, database_url)


class WebSandbox:
    """The sandbox bot, started on first use, shared by the console's signed-in staff."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        database_url: str | None = None,
        upgrade: Upgrade = _upgrade,
    ) -> None:
        self.fake = FakeTelegram()
        secret = settings.safeguarding_secret or SecretStr(secrets.token_hex(32))
        self._settings = settings.model_copy(
            update={
                "database_url": database_url or settings.sandbox_database_url,
                "telegram_bot_token": SecretStr(self.fake.token),
                "bot_api_base_url": None,
                # Pretend residents need no lasting key (as in the terminal sandbox).
                "safeguarding_secret": secret,
                # A demonstration answers at any hour: nothing waits for the morning.
                "quiet_hours_start": 0,
                "quiet_hours_end": 0,
            }
        )
        self._clock = clock
        self._upgrade = upgrade
        self._app: BotApplication | None = None
        self._stack = contextlib.AsyncExitStack()
        self._starting = asyncio.Lock()
        # One update at a time, as one Telegram chat is answered in order.
        self._turn = asyncio.Lock()
        self._people: dict[str, _Person] = {}

    @property
    def started(self) -> bool:
        """Whether the sandbox bot is running."""
        return self._app is not None

    async def start(self) -> None:
        """Migrate the sandbox database and start the bot (once; later calls return at once)."""
        async with self._starting:
            if self._app is not None:
                return
            self._settings.ensure_sqlite_directory()
            await self._upgrade(self._settings.database_url)
            application = build_application(
                self._settings,
                clock=self._clock,
                request=FakeRequest(self.fake),
                get_updates_request=FakeRequest(self.fake),
                delivery_transport=FakeTransport(self.fake),
                rate_limit=False,
                # Queued messages are sent right after each update (send_queued), in order.
                delivery_worker=False,
                updater=False,
            )
            self._app = await self._stack.enter_async_context(running(application))

    async def stop(self) -> None:
        """Stop the bot and close its database."""
        await self._stack.aclose()
        self._app = None

    def _person(self, key: str) -> _Person:
        person = self._people.get(key)
        if person is None:
            person = _Person(self.fake.new_user("Amira"))
            self._people[key] = person
        return person

    def restart(self, key: str) -> None:
        """She starts again as a new pretend resident (the old one stays in the sandbox)."""
        self._people.pop(key, None)

    async def _deliver(self, update: dict[str, Any]) -> None:
        application = self._app
        assert application is not None, "start() the sandbox first"
        async with self._turn:
            await application.process_update(Update.de_json(update, application.bot))
            engine = application.bot_data.delivery
            if engine is not None:
                await engine.run_until_idle()

    def _count(self, person: _Person) -> int:
        return len(self.fake.messages(person.user))

    async def send(self, key: str, text: str) -> None:
        """She sends a message (a command if it starts with /)."""
        text = text.strip()[:MAX_TEXT]
        if not text:
            return
        person = self._person(key)
        person.said.append((self._count(person), "me", text))
        await self._deliver(self.fake.send_message(person.user, text))

    async def share_location(self, key: str) -> None:
        """She shares a location (central Chelmsford, as the terminal sandbox does)."""
        person = self._person(key)
        person.said.append((self._count(person), "note", "You shared a location"))
        await self._deliver(self.fake.send_location(person.user, *CHELMSFORD))

    async def press(self, key: str, message_id: int, index: int) -> bool:
        """She presses an inline button; False if there is no such button (nothing happens)."""
        person = self._person(key)
        target = next(
            (
                m
                for m in self.fake.messages(person.user)
                if m.message_id == message_id and m.has_inline_keyboard and not m.deleted
            ),
            None,
        )
        if target is None or not 0 <= index < len(target.button_texts()):
            return False
        if "callback_data" not in [b for row in target.buttons() for b in row][index]:
            return False
        answers = len(self.fake.callback_answers)
        label = target.button_texts()[index]
        person.said.append((self._count(person), "note", f"You pressed “{label}”"))
        try:
            update = self.fake.press_button(person.user, target, index)
        except (LookupError, ValueError):
            return False
        await self._deliver(update)
        for answer in self.fake.callback_answers[answers:]:
            if answer.get("text"):
                person.said.append((self._count(person), "note", str(answer["text"])))
        return True

    def file(self, key: str, message_id: int) -> tuple[str, bytes] | None:
        """A document the bot sent her, by its message."""
        person = self._person(key)
        for message in self.fake.messages(person.user):
            if message.message_id == message_id and message.document is not None:
                return message.document
        return None

    def view(self, key: str) -> ChatView:
        """Her chat so far, oldest first."""
        person = self._person(key)
        mine = sorted(person.said, key=lambda said: said[0])
        lines: list[ChatLine] = []
        keyboard: list[list[dict[str, Any]]] = []
        said = iter(mine)
        pending = next(said, None)
        for position, message in enumerate(self.fake.messages(person.user)):
            while pending is not None and pending[0] <= position:
                lines.append(_said_line(pending))
                pending = next(said, None)
            markup = message.reply_markup or {}
            if "keyboard" in markup:
                keyboard = message.buttons()
            elif markup.get("remove_keyboard"):
                keyboard = []
            if not message.deleted:
                lines.append(_bot_line(message))
        while pending is not None:
            lines.append(_said_line(pending))
            pending = next(said, None)
        return ChatView(lines, keyboard, person.user.first_name)


def _said_line(said: tuple[int, str, str]) -> ChatLine:
    return ChatLine(said[1], html.escape(said[2]))


def _bot_line(message: SentMessage) -> ChatLine:
    buttons: list[list[Button]] = []
    if message.has_inline_keyboard:
        index = 0
        for row in message.buttons():
            cells = []
            for button in row:
                url = button.get("url")
                cells.append(
                    Button(index, str(button.get("text", "")), _safe_url(str(url)) if url else None)
                )
                index += 1
            buttons.append(cells)
    text = entities_html(message.plain_text, message.entities)
    if message.photo is not None:
        text = (text + "\n" if text else "") + "🖼 (a photo)"
    return ChatLine(
        "bot",
        text,
        message.message_id,
        buttons,
        message.document[0] if message.document is not None else None,
        message.edits > 0,
    )
