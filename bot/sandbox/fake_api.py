"""An in-memory Telegram Bot API server core for tests and the local sandbox."""

from __future__ import annotations

import asyncio
import copy
import json
import mimetypes
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from .flood_control import FloodControl
from .schema import (
    check_call,
    decode_params,
    load_schema,
    render_text,
    utf16_len,
    validate_object,
    validate_value,
)

__all__ = [
    "CAPTIONED_KINDS",
    "MEDIA_KINDS",
    "ApiCall",
    "ApiError",
    "FakeTelegram",
    "FakeUser",
    "FloodControl",
    "SentMessage",
    "SimulatedTimeout",
    "WebhookAttempt",
]

JSONDict = dict[str, Any]
FileMap = dict[str, tuple[str, bytes]]

_DEFAULT_BOT_ID = 5_550_000_001
_FIRST_USER_ID = 7_000_001
# The first pretend user made is the sandbox's Amira; `bumpbuddies demo` makes her an admin.
FIRST_USER_ID = _FIRST_USER_ID
_FIRST_GROUP_ID = -1_001_000_000_001
_FIRST_CALLBACK_ID = 4_200_000_000_000_000_001
_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_MAX_PHOTO_BYTES = 10 * 1024 * 1024
_MAX_COMMANDS = 100
_MAX_DESCRIPTION = 512
_MAX_SHORT_DESCRIPTION = 120
_MAX_INVITE_NAME = 32
_MAX_MEMBER_LIMIT = 99_999
# Telegram only delivers these when a bot asks for them explicitly.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}\Z")
# What a user can send besides text; the bot must take each kindly wherever she is.
MEDIA_KINDS = (
    "photo",
    "sticker",
    "voice",
    "video",
    "video_note",
    "animation",
    "audio",
    "document",
    "contact",
    "dice",
    "poll",
    "venue",
    "location",
)
CAPTIONED_KINDS = ("photo", "voice", "video", "animation", "audio", "document")
_BOT_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,32})?")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
_GET_UPDATES_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)


class ApiError(Exception):
    """A Bot API error answer; raised inside method handlers."""

    def __init__(
        self, error_code: int, description: str, parameters: JSONDict | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def envelope(self) -> JSONDict:
        """The JSON body Telegram sends for this error."""
        body: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body


# Telegram retries an update its webhook did not take with growing gaps; these are the fake's.
WEBHOOK_FIRST_RETRY = 1.0
WEBHOOK_MAX_RETRY = 60.0
# Telegram gives up on a webhook answer after about a minute; the fake is less patient.
_WEBHOOK_TIMEOUT = 30.0
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class WebhookAttempt:
    """One push of an update to the webhook: the HTTP status, or None when nothing answered."""

    update_id: int
    status: int | None
    # The webhook's Server-Timing header, where it sent one (bot/update_timing.py).
    server_timing: str | None = None


class SimulatedTimeout(TimeoutError):
    """The bot's request timed out (the fake may or may not have carried it out)."""


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True, slots=True)
class FakeUser:
    """A simulated Telegram user; their private chat with the bot has the same id."""

    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = "en"

    @property
    def chat_id(self) -> int:
        """The id of this user's private chat with the bot."""
        return self.id

    def as_dict(self) -> JSONDict:
        """This user as a Telegram User object."""
        user: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name is not None:
            user["last_name"] = self.last_name
        if self.username is not None:
            user["username"] = self.username
        if self.language_code is not None:
            user["language_code"] = self.language_code
        return user


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars): several times cheaper than
    copy.deepcopy, which the fake ran a dozen times per message; anything else is deep-copied."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return copy.deepcopy(value)


@dataclass(eq=False, slots=True)
class SentMessage:
    """A message the bot sent, kept up to date by later edits and deletions."""

    message_id: int
    chat_id: int
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    reply_markup: JSONDict | None = None
    document: tuple[str, bytes] | None = None
    photo: bytes | None = None
    date: int = 0
    edits: int = 0
    edit_date: int | None = None
    deleted: bool = False
    method: str = "sendMessage"
    rendered_text: str = ""
    entities: list[JSONDict] = field(default_factory=list)
    media: JSONDict | None = field(default=None, repr=False)
    chat: JSONDict = field(default_factory=dict, repr=False)
    sender: JSONDict = field(default_factory=dict, repr=False)
    reply_to: JSONDict | None = field(default=None, repr=False)
    earlier_keyboards: list[JSONDict] = field(default_factory=list, repr=False)

    @property
    def plain_text(self) -> str:
        """Text (or caption) as the user sees it: tags stripped, entities unescaped."""
        return self.rendered_text

    def buttons(self) -> list[list[JSONDict]]:
        """Keyboard rows: inline buttons, or reply-keyboard buttons normalised to dicts."""
        markup = self.reply_markup or {}
        if isinstance(markup.get("inline_keyboard"), list):
            return [list(row) for row in markup["inline_keyboard"]]
        if isinstance(markup.get("keyboard"), list):
            return [
                [b if isinstance(b, dict) else {"text": str(b)} for b in row]
                for row in markup["keyboard"]
            ]
        return []

    def button_texts(self) -> list[str]:
        """Texts of all buttons, row by row."""
        return [str(button.get("text", "")) for row in self.buttons() for button in row]

    def callback_data(self) -> list[str]:
        """callback_data of all inline buttons that have one, row by row."""
        return [
            button["callback_data"]
            for row in self.buttons()
            for button in row
            if isinstance(button.get("callback_data"), str)
        ]

    @property
    def has_inline_keyboard(self) -> bool:
        """Whether an inline keyboard is attached right now."""
        return bool(self.reply_markup and "inline_keyboard" in self.reply_markup)

    def as_dict(self) -> JSONDict:
        """The message as a Telegram Message object in its current state."""
        message: JSONDict = {
            "message_id": self.message_id,
            "from": _copy_json(self.sender),
            "chat": _copy_json(self.chat),
            "date": self.date,
        }
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if self.reply_to is not None:
            message["reply_to_message"] = _copy_json(self.reply_to)
        if self.text is not None:
            message["text"] = self.rendered_text
            if self.entities:
                message["entities"] = _copy_json(self.entities)
        if self.media is not None:
            message.update(_copy_json(self.media))
        if self.caption is not None and self.rendered_text:
            message["caption"] = self.rendered_text
            if self.entities:
                message["caption_entities"] = _copy_json(self.entities)
        # Telegram only echoes inline keyboards back; reply keyboards live on the client.
        if self.has_inline_keyboard:
            message["reply_markup"] = _copy_json(self.reply_markup)
        return message


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One call the bot made and what the fake answered."""

    method: str
    params: JSONDict
    files: FileMap
    response: JSONDict
    # When the call arrived, by the fake's clock (what Telegram's flood limits count by).
    at: float = 0.0


class HeldCall:
    """A call the fake holds unanswered until released: a request in flight, for as long as a
    test needs (bot stopping meanwhile, say)."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self._released = asyncio.Event()

    def release(self) -> None:
        """Answer it now."""
        self._released.set()

    async def wait_released(self) -> None:
        """What the held call waits for."""
        await self._released.wait()


@dataclass(frozen=True, slots=True)
class _Failure:
    error_code: int
    description: str
    retry_after: int | None


@dataclass(frozen=True, slots=True)
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    filename: str
    content: bytes
    mime_type: str


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 1, 1


def _wake(waiters: Iterable[asyncio.Future[None]]) -> None:
    """Resolve waiters, hopping onto their loop when called from another thread."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for waiter in list(waiters):
        if waiter.done():
            continue
        loop = waiter.get_loop()
        if loop is running:
            waiter.set_result(None)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(_resolve, waiter)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _update_type(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


class FakeTelegram:
    """An in-memory Telegram Bot API: validates every call and records what the bot did."""

    def __init__(
        self,
        token: str | None = None,
        bot_username: str = "BumpBuddiesBot",
        *,
        clock: Callable[[], float] = time.time,
        flood: FloodControl | None = None,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        webhook_sleep: Callable[[float], Awaitable[None]] | None = None,
        allow_http_loopback_webhook: bool = False,
    ) -> None:
        prefix = (token or "").partition(":")[0]
        self.bot_id = int(prefix) if prefix.isdigit() else _DEFAULT_BOT_ID
        self.token = token or f"{self.bot_id}:{secrets.token_urlsafe(24)}"
        self.bot_user: JSONDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Bump Buddies",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._clock = clock
        # None: no flood limits (the default); a FloodControl answers 429 like Telegram.
        self.flood = flood

        self.violations: list[str] = []
        self.calls: list[ApiCall] = []
        self.sent: list[SentMessage] = []
        self.callback_answers: list[JSONDict] = []
        self.commands: dict[str, list[JSONDict]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.invite_links: list[JSONDict] = []
        self.updates: list[JSONDict] = []
        self.webhook: JSONDict = {}
        # Every push to the webhook, in the order they were answered (or not).
        self.webhook_attempts: list[WebhookAttempt] = []
        # Telegram only pushes to https://; tests serve the bot on plain http on loopback.
        self.allow_http_loopback_webhook = allow_http_loopback_webhook
        self._webhook_transport = webhook_transport
        # Retry gaps are waited with this: tests pass a stand-in so no real time passes.
        self._webhook_sleep = webhook_sleep or asyncio.sleep
        # The longest gap between two pushes of one update; a test starting a slow bot shortens it.
        self.webhook_max_retry = WEBHOOK_MAX_RETRY
        self._webhook_client: httpx.AsyncClient | None = None
        self._webhook_loop: asyncio.AbstractEventLoop | None = None
        self._webhook_gate: asyncio.Semaphore | None = None
        self._webhook_generation = 0
        self._webhook_pushes: set[asyncio.Task[None]] = set()
        self._webhook_error: tuple[int, str] | None = None
        self.closed = False
        self.logged_out = False

        self._users: dict[int, FakeUser] = {}
        self._chats: dict[int, JSONDict] = {}
        self._started: set[int] = set()
        self._blocked: set[int] = set()
        self._user_messages: dict[int, set[int]] = {}
        self._texts_written: dict[int, list[JSONDict]] = {}
        self._next_message_ids: dict[int, int] = {}
        self._chat_instances: dict[int, str] = {}
        self._open_queries: dict[str, JSONDict] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._timeouts: dict[str, deque[bool]] = {}
        self._holds: dict[str, deque[HeldCall]] = {}
        self._pending: list[JSONDict] = []
        self._allowed_updates: list[str] | None = None
        self._next_update_id = 1
        self._next_user_id = _FIRST_USER_ID
        self._next_group_id = _FIRST_GROUP_ID
        self._next_callback_id = _FIRST_CALLBACK_ID
        self._next_file_number = 1
        self._poll_generation = 0
        self._update_waiters: set[asyncio.Future[None]] = set()
        self._activity_waiters: set[asyncio.Future[None]] = set()
        self._handlers: dict[str, Callable[[JSONDict, FileMap], Any]] = {
            "getMe": self._get_me,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "close": self._close,
            "logOut": self._log_out,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._set_my_description,
            "setMyShortDescription": self._set_my_short_description,
            "createChatInviteLink": self._create_chat_invite_link,
            "getChat": self._get_chat,
            "getFile": self._get_file,
        }

    # --- the API surface ----------------------------------------------------------------------

    async def call(
        self,
        method: str,
        params: Mapping[str, Any],
        files: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> JSONDict:
        """Answer one Bot API call with Telegram's response envelope."""
        arrived = self._clock()
        file_map: FileMap = dict(files or {})
        spec = load_schema().method(method)
        holds = self._holds.get(spec.name) if spec else None
        if holds:
            held = holds.popleft()
            held.arrived.set()
            await held.wait_released()
        timeout = self._timeouts.get(spec.name) if spec else None
        delivered_before_timeout = timeout.popleft() if timeout else None
        if delivered_before_timeout is False:
            raise SimulatedTimeout(method)
        if spec is None:
            self._violate(f"unknown method '{method}'")
            response: JSONDict = {"ok": False, "error_code": 404, "description": "Not Found"}
        else:
            response = await self._dispatch(spec.name, params, file_map)
        self.calls.append(
            ApiCall(
                method=spec.name if spec else method,
                params=dict(params),
                files=file_map,
                response=response,
                at=arrived,
            )
        )
        _wake(self._activity_waiters)
        if delivered_before_timeout:
            raise SimulatedTimeout(method)
        return response

    async def _dispatch(self, method: str, params: Mapping[str, Any], files: FileMap) -> JSONDict:
        problems = check_call(method, params, files.keys())
        if problems:
            for problem in problems:
                self._violate(problem.message)
            return ApiError(400, f"Bad Request: {problems[0].api_error}").envelope()
        failure = self._take_failure(method)
        if failure is not None:
            return failure.envelope()
        decoded = decode_params(method, params)
        flooded = self._flooded(method, decoded)
        if flooded is not None:
            return flooded.envelope()
        try:
            if method == "getUpdates":
                result: Any = await self._get_updates(decoded)
            else:
                handler = self._handlers.get(method)
                if handler is None:
                    self._violate(f"not implemented by the fake: {method}")
                    return _bad(f"not implemented by the fake: {method}").envelope()
                result = handler(decoded, files)
        except ApiError as exc:
            return exc.envelope()
        returns = load_schema().methods[method].returns
        for issue in validate_value(returns, result, f"{method} result"):
            self._violate(f"fake returned an invalid result: {issue}")
        return {"ok": True, "result": _copy_json(result)}

    def _violate(self, message: str) -> None:
        self.violations.append(message)

    def _take_failure(self, method: str) -> ApiError | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue.popleft()
        parameters = {"retry_after": failure.retry_after} if failure.retry_after else None
        return ApiError(failure.error_code, failure.description, parameters)

    def _flooded(self, method: str, params: JSONDict) -> ApiError | None:
        if self.flood is None or not method.startswith("send") or method == "sendChatAction":
            return None
        wait = self.flood.check(params.get("chat_id", 0), bool(params.get("allow_paid_broadcast")))
        if wait is None:
            return None
        return ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    def hold_next(self, method: str) -> HeldCall:
        """The next call of `method` waits, unanswered, until the test releases it."""
        spec = load_schema().method(method)
        if spec is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        held = HeldCall()
        self._holds.setdefault(spec.name, deque()).append(held)
        return held

    def time_out_next(self, method: str, *, delivered: bool = False, times: int = 1) -> None:
        """Make the next `times` calls of `method` time out; `delivered` ones happen first."""
        spec = load_schema().method(method)
        if spec is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        self._timeouts.setdefault(spec.name, deque()).extend([delivered] * times)

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` answer with this error."""
        spec = load_schema().method(method)
        if spec is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        if error_code == 429 and retry_after is None:
            raise ValueError("a 429 needs retry_after, or PTB raises NetworkError, not RetryAfter")
        queue = self._failures.setdefault(spec.name, deque())
        queue.extend(_Failure(error_code, description, retry_after) for _ in range(times))

    def assert_no_violations(self) -> None:
        """Fail loudly if the bot ever broke the Bot API contract."""
        if self.violations:
            listed = "\n  ".join(self.violations)
            raise AssertionError(f"Bot API violations:\n  {listed}")

    def calls_to(self, method: str) -> list[ApiCall]:
        """Calls of one method (case-insensitive), oldest first."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

    # --- simulated world ----------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock())

    def new_user(
        self,
        first_name: str = "Test",
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str = "en",
        started: bool = False,
        user_id: int | None = None,
    ) -> FakeUser:
        """A new user; the bot may only message them once they wrote to it (or started=True).

        `user_id` gives her a particular id (real ones are beyond 32 bits nowadays).
        """
        if user_id is not None and user_id in self._users:
            raise ValueError(f"user {user_id} already exists")
        user = FakeUser(
            id=self._next_user_id if user_id is None else user_id,
            first_name=first_name,
            username=username,
            last_name=last_name,
            language_code=language_code,
        )
        if user_id is None:
            self._next_user_id += 1
        self._users[user.id] = user
        chat: JSONDict = {"id": user.id, "type": "private", "first_name": first_name}
        if last_name is not None:
            chat["last_name"] = last_name
        if username is not None:
            chat["username"] = username
        self._chats[user.id] = chat
        if started:
            self._started.add(user.id)
        return user

    def new_group(
        self, title: str, *, chat_type: str = "supergroup", username: str | None = None
    ) -> JSONDict:
        """A group the bot administers, e.g. for invite links; returns the Chat object."""
        if chat_type not in ("group", "supergroup", "channel"):
            raise ValueError(f"unsupported chat type {chat_type!r}")
        chat: JSONDict = {"id": self._next_group_id, "type": chat_type, "title": title}
        if username is not None:
            chat["username"] = username
        self._next_group_id -= 1
        self._chats[chat["id"]] = chat
        return copy.deepcopy(chat)

    def chat(self, chat_id: int) -> JSONDict:
        """The Chat object for an id the fake knows."""
        return copy.deepcopy(self._chats[chat_id])

    def messages(self, chat_id: int | FakeUser) -> list[SentMessage]:
        """Everything the bot sent to a chat, oldest first (deleted ones stay, flagged)."""
        wanted = chat_id.id if isinstance(chat_id, FakeUser) else chat_id
        return [message for message in self.sent if message.chat_id == wanted]

    def last_message(self, chat_id: int | FakeUser) -> SentMessage:
        """The newest message the bot sent to a chat."""
        found = self.messages(chat_id)
        if not found:
            raise LookupError(f"the bot has sent nothing to chat {chat_id}")
        return found[-1]

    @property
    def long_polling(self) -> bool:
        """Whether a getUpdates call is waiting for updates right now."""
        return bool(self._update_waiters)

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by the bot."""
        return copy.deepcopy(self._pending)

    def commands_for(
        self, scope: JSONDict | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """Commands set for a scope (default scope when None) and language."""
        return copy.deepcopy(self.commands.get(self.commands_key(scope, language_code), []))

    @staticmethod
    def commands_key(scope: JSONDict | None = None, language_code: str = "") -> str:
        """Key of `commands`: compact sorted scope JSON, plus '#lang' when a language is set."""
        key = json.dumps(scope or {"type": "default"}, sort_keys=True, separators=(",", ":"))
        return f"{key}#{language_code}" if language_code else key

    def block_bot(self, user: FakeUser) -> JSONDict:
        """The user blocks the bot (later sends get 403); returns the my_chat_member update."""
        self._require_user(user)
        self._blocked.add(user.id)
        return self._enqueue(self._membership_change(user, "member", "kicked"))

    def unblock_bot(self, user: FakeUser) -> JSONDict:
        """The user unblocks (restarts) the bot; returns the my_chat_member update."""
        self._require_known(user)
        if user.id not in self._blocked:
            raise ValueError(f"user {user.id} has not blocked the bot")
        self._blocked.discard(user.id)
        return self._enqueue(self._membership_change(user, "kicked", "member"))

    def _membership_change(self, user: FakeUser, old: str, new: str) -> JSONDict:
        def member(status: str) -> JSONDict:
            state: JSONDict = {"status": status, "user": dict(self.bot_user)}
            if status == "kicked":
                state["until_date"] = 0
            return state

        return {
            "my_chat_member": {
                "chat": self.chat(user.id),
                "from": user.as_dict(),
                "date": self._now(),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            }
        }

    def _require_known(self, user: FakeUser) -> None:
        if self._users.get(user.id) != user:
            raise ValueError(f"{user!r} was not created by this FakeTelegram's new_user()")

    def _require_user(self, user: FakeUser) -> None:
        self._require_known(user)
        if user.id in self._blocked:
            raise ValueError(f"user {user.id} has blocked the bot; call unblock_bot() first")

    def _user_chat(self, user: FakeUser, chat: JSONDict | int | None) -> JSONDict:
        chat_id = user.id if chat is None else chat if isinstance(chat, int) else chat["id"]
        if chat_id not in self._chats:
            raise ValueError(f"chat {chat_id} does not exist in this FakeTelegram")
        return self.chat(chat_id)

    def _take_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_ids.get(chat_id, 1)
        self._next_message_ids[chat_id] = message_id + 1
        return message_id

    def _user_message(self, user: FakeUser, chat: JSONDict | int | None) -> JSONDict:
        self._require_user(user)
        target = self._user_chat(user, chat)
        message_id = self._take_message_id(target["id"])
        self._user_messages.setdefault(target["id"], set()).add(message_id)
        if target["type"] == "private":
            self._started.add(user.id)
        return {
            "message_id": message_id,
            "from": user.as_dict(),
            "chat": target,
            "date": self._now(),
        }

    def send_message(
        self,
        user: FakeUser,
        text: str,
        *,
        chat: JSONDict | int | None = None,
        reply_to: SentMessage | None = None,
    ) -> JSONDict:
        """The user writes text to the bot (private chat unless `chat` is given)."""
        message = self._user_message(user, chat)
        message["text"] = text
        command = _BOT_COMMAND_RE.match(text)
        if command:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
            ]
        if reply_to is not None:
            message["reply_to_message"] = reply_to.as_dict()
        self._texts_written.setdefault(user.id, []).append(copy.deepcopy(message))
        return self._enqueue({"message": message})

    def send_location(
        self,
        user: FakeUser,
        latitude: float,
        longitude: float,
        *,
        chat: JSONDict | int | None = None,
    ) -> JSONDict:
        """The user shares a location with the bot."""
        message = self._user_message(user, chat)
        message["location"] = {"latitude": float(latitude), "longitude": float(longitude)}
        return self._enqueue({"message": message})

    def edit_message(self, user: FakeUser, text: str, *, message_id: int | None = None) -> JSONDict:
        """The user edits a text message she sent earlier (by default her newest one)."""
        self._require_user(user)
        written = self._texts_written.get(user.id, [])
        originals = [m for m in written if message_id in (None, m["message_id"])]
        if not originals:
            raise LookupError(f"user {user.id} sent no text message {message_id or ''} to edit")
        message = copy.deepcopy(originals[-1])
        message.pop("entities", None)
        message["text"] = text
        command = _BOT_COMMAND_RE.match(text)
        if command:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
            ]
        message["edit_date"] = max(self._now(), int(message["date"]))
        return self._enqueue({"edited_message": message})

    def send_media(self, user: FakeUser, kind: str, *, caption: str | None = None) -> JSONDict:
        """The user sends something that is not text: one of MEDIA_KINDS, as Telegram shapes it."""
        if kind not in MEDIA_KINDS:
            raise ValueError(f"unknown media kind {kind!r}; one of {MEDIA_KINDS}")
        message = self._user_message(user, None)
        message.update(self._media(kind))
        if caption is not None:
            if kind not in CAPTIONED_KINDS:
                raise ValueError(f"a {kind} has no caption")
            message["caption"] = caption
        return self._enqueue({"message": message})

    def _media(self, kind: str) -> JSONDict:
        number = self._next_file_number
        self._next_file_number += 1
        file = {"file_id": f"media-{kind}-{number}", "file_unique_id": f"u{kind}{number}"}
        location = {"latitude": 51.7356, "longitude": 0.4685}
        shapes: dict[str, JSONDict] = {
            "photo": {"photo": [{**file, "width": 90, "height": 60, "file_size": 1200}]},
            "sticker": {
                "sticker": {
                    **file,
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": "\U0001f60a",
                }
            },
            "voice": {"voice": {**file, "duration": 3, "mime_type": "audio/ogg"}},
            "video": {"video": {**file, "width": 640, "height": 360, "duration": 5}},
            "video_note": {"video_note": {**file, "length": 240, "duration": 4}},
            # Telegram also fills `document` for an animation, for older clients.
            "animation": {
                "animation": {**file, "width": 320, "height": 240, "duration": 2},
                "document": {**file, "mime_type": "video/mp4"},
            },
            "audio": {"audio": {**file, "duration": 180, "title": "Lullaby"}},
            "document": {
                "document": {**file, "file_name": "scan.pdf", "mime_type": "application/pdf"}
            },
            "contact": {"contact": {"phone_number": "+447700900123", "first_name": "Mum"}},
            "dice": {"dice": {"emoji": "\U0001f3b2", "value": 1 + number % 6}},
            "poll": {
                "poll": {
                    "id": f"poll{number}",
                    "question": "Names?",
                    "options": [
                        {"persistent_id": "a", "text": "Ada", "voter_count": 0},
                        {"persistent_id": "b", "text": "Bea", "voter_count": 0},
                    ],
                    "total_voter_count": 0,
                    "is_closed": False,
                    "is_anonymous": True,
                    "type": "regular",
                    "allows_multiple_answers": False,
                    "allows_revoting": True,
                    "members_only": False,
                }
            },
            # A venue message carries its location too, as Telegram sends it.
            "venue": {
                "venue": {"location": location, "title": "Clinic", "address": "1 High St"},
                "location": location,
            },
            "location": {"location": location},
        }
        return shapes[kind]

    def press_button(self, user: FakeUser, message: SentMessage, button: str | int) -> JSONDict:
        """The user taps an inline button, chosen by exact text or flat index."""
        # Earlier keyboards stay tappable, like a double tap on a phone that has not yet received
        # the edit; Telegram then sends the message as it is now, with the old button's data.
        keyboards = [message.reply_markup] if message.has_inline_keyboard else []
        keyboards += reversed(message.earlier_keyboards)
        chosen = None
        for markup in keyboards:
            assert markup is not None
            flat = [b for row in markup["inline_keyboard"] for b in row if isinstance(b, dict)]
            if isinstance(button, int) and not isinstance(button, bool):
                chosen = flat[button] if 0 <= button < len(flat) else None
            else:
                chosen = next((b for b in flat if b.get("text") == button), None)
            if chosen is not None:
                break
        if chosen is None:
            if not keyboards:
                raise LookupError(
                    f"message {message.message_id} in chat {message.chat_id} never had an "
                    "inline keyboard"
                )
            raise LookupError(
                f"no button {button!r} on message {message.message_id}; "
                f"buttons: {message.button_texts()}"
            )
        if "callback_data" not in chosen:
            kind = "a URL button" if "url" in chosen else "not a callback button"
            raise ValueError(
                f"button {chosen.get('text')!r} is {kind} ({sorted(chosen)}); "
                "pressing it sends the bot no callback_query"
            )
        return self._callback(user, message, str(chosen["callback_data"]))

    def forge_callback(self, user: FakeUser, message: SentMessage, data: str) -> JSONDict:
        """A callback_query with arbitrary data, even on someone else's message."""
        return self._callback(user, message, data, forged=True)

    def _callback(
        self, user: FakeUser, message: SentMessage, data: str, *, forged: bool = False
    ) -> JSONDict:
        self._require_user(user)
        if message.deleted:
            raise LookupError(f"message {message.message_id} was deleted; nothing to press")
        private = message.chat.get("type") == "private"
        if private and message.chat_id != user.id and not forged:
            raise ValueError(
                f"user {user.id} can't see a message in chat {message.chat_id}; "
                "use forge_callback() to simulate a tampering client"
            )
        query_id = str(self._next_callback_id)
        self._next_callback_id += 1
        instance = self._chat_instances.setdefault(message.chat_id, secrets.token_hex(8))
        query: JSONDict = {
            "id": query_id,
            "from": user.as_dict(),
            "message": message.as_dict(),
            "chat_instance": instance,
            "data": data,
        }
        self._open_queries[query_id] = query
        return self._enqueue({"callback_query": query})

    def send_update(self, update: Mapping[str, Any]) -> JSONDict:
        """Queue any update; its update_id is assigned by the fake."""
        body = {key: value for key, value in update.items() if key != "update_id"}
        problems = validate_object("Update", {"update_id": self._next_update_id, **body})
        if problems:
            raise ValueError("invalid Update: " + "; ".join(problems))
        return self._enqueue(copy.deepcopy(body))

    def _enqueue(self, body: JSONDict) -> JSONDict:
        update = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        for problem in validate_object("Update", update):
            self._violate(f"fake produced an invalid Update: {problem}")
        self._pending.append(update)
        self.updates.append(update)
        if self.webhook.get("url") and self._webhook_loop is not None:
            # Thread-safe: the terminal sandbox queues updates from its input thread.
            generation = self._webhook_generation
            self._webhook_loop.call_soon_threadsafe(self._push, update, generation)
        _wake(self._update_waiters)
        _wake(self._activity_waiters)
        return copy.deepcopy(update)

    # --- waiting ------------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - a per-call limit keeps tests short to write
        *,
        description: str = "",
    ) -> None:
        """Wait until predicate() holds, re-checking whenever the bot makes a call."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            waiter: asyncio.Future[None] = loop.create_future()
            self._activity_waiters.add(waiter)
            try:
                if predicate():
                    return
                remaining = deadline - loop.time()
                if remaining > 0:
                    try:
                        await asyncio.wait_for(waiter, remaining)
                        continue
                    except TimeoutError:
                        if predicate():
                            return
                raise TimeoutError(self._timeout_report(description or repr(predicate), timeout))
            finally:
                self._activity_waiters.discard(waiter)

    async def wait_for_message(
        self,
        chat_id: int | FakeUser,
        *,
        contains: str | None = None,
        after: int = 0,
        timeout: float = 10.0,  # noqa: ASYNC109 - a per-call limit keeps tests short to write
    ) -> SentMessage:
        """First message to the chat at index >= after whose plain_text contains the string."""
        found: list[SentMessage] = []

        def arrived() -> bool:
            for message in self.messages(chat_id)[after:]:
                if contains is None or contains in message.plain_text:
                    found.append(message)
                    return True
            return False

        wanted = f"a message to chat {chat_id} (index >= {after})"
        if contains is not None:
            wanted += f" containing {contains!r}"
        await self.wait_for(arrived, timeout, description=wanted)
        return found[0]

    def _timeout_report(self, description: str, timeout: float) -> str:
        lines = [f"Timed out after {timeout}s waiting for {description}."]
        recent = [c for c in self.calls if c.method != "getUpdates"][-8:]
        if recent:
            lines.append("Last bot calls:")
            for call in recent:
                outcome = "ok" if call.response.get("ok") else call.response.get("description")
                lines.append(f"  {call.method} -> {outcome}")
        else:
            lines.append("The bot made no calls besides getUpdates.")
        if self._pending:
            lines.append(f"{len(self._pending)} update(s) still unconfirmed by the bot.")
        if self.webhook.get("url") and self._webhook_error is not None:
            lines.append(f"Webhook's last error: {self._webhook_error[1]}")
        for message in self.sent[-5:]:
            lines.append(f"  sent to {message.chat_id}: {message.plain_text[:80]!r}")
        if self.violations:
            lines.append("Violations: " + "; ".join(self.violations[-5:]))
        return "\n".join(lines)

    # --- getUpdates ---------------------------------------------------------------------------

    def _allowed(self, update: Mapping[str, Any]) -> bool:
        kind = _update_type(update)
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _OPT_IN_UPDATES

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            # Telegram: start from the -offset'th last update and forget everything before it.
            self._pending = self._pending[offset:]

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook.get("url"):
            raise ApiError(409, _WEBHOOK_CONFLICT)
        offset = int(params.get("offset", 0))
        limit = int(params.get("limit", 100))
        limit = limit if 1 <= limit <= 100 else 100
        timeout = max(float(params.get("timeout", 0)), 0.0)
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"]) or None
        self._confirm(offset)
        # A newer getUpdates ends an older long poll with 409, as on Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        _wake(self._update_waiters)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, _GET_UPDATES_CONFLICT)
            batch = [u for u in self._pending if u["update_id"] >= offset and self._allowed(u)]
            if batch:
                return batch[:limit]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            waiter: asyncio.Future[None] = loop.create_future()
            self._update_waiters.add(waiter)
            # Lets wait_for(lambda: fake.long_polling) notice the poll has started.
            _wake(self._activity_waiters)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                self._update_waiters.discard(waiter)

    # --- method handlers ----------------------------------------------------------------------

    def _get_me(self, params: JSONDict, files: FileMap) -> JSONDict:
        return dict(self.bot_user)

    def _set_webhook(self, params: JSONDict, files: FileMap) -> bool:
        url = str(params["url"])
        if not url:
            self._stop_pushing()
            self.webhook = {}
            return True
        if not url.startswith("https://") and not self._allowed_http(url):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        self._stop_pushing()
        self.webhook = {key: value for key, value in params.items() if key != "certificate"}
        self.webhook["has_custom_certificate"] = "certificate" in files
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"]) or None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._start_pushing()
        return True

    def _allowed_http(self, url: str) -> bool:
        parts = urlsplit(url)
        return (
            self.allow_http_loopback_webhook
            and parts.scheme == "http"
            and parts.hostname in _LOOPBACK_HOSTS
        )

    def _delete_webhook(self, params: JSONDict, files: FileMap) -> bool:
        self._stop_pushing()
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    # --- pushing updates to a webhook, as Telegram does -----------------------------------------

    def _start_pushing(self) -> None:
        self._webhook_loop = asyncio.get_running_loop()
        self._webhook_error = None
        self._webhook_gate = asyncio.Semaphore(int(self.webhook.get("max_connections", 40)))
        if self._webhook_client is None:
            self._webhook_client = httpx.AsyncClient(
                transport=self._webhook_transport, timeout=_WEBHOOK_TIMEOUT
            )
        for update in list(self._pending):
            self._push(update, self._webhook_generation)

    def _stop_pushing(self) -> None:
        # Pushes for an old URL stop at their next step; their updates stay pending.
        self._webhook_generation += 1
        for task in list(self._webhook_pushes):
            task.cancel()

    def _push(self, update: JSONDict, generation: int) -> None:
        if generation != self._webhook_generation or not self._allowed(update):
            return
        task = asyncio.get_running_loop().create_task(self._deliver(update, generation))
        self._webhook_pushes.add(task)
        task.add_done_callback(self._webhook_pushes.discard)

    async def _deliver(self, update: JSONDict, generation: int) -> None:
        """Push one update until the webhook answers 2xx, waiting longer after each failure."""
        gap = min(WEBHOOK_FIRST_RETRY, self.webhook_max_retry)
        while generation == self._webhook_generation:
            assert self._webhook_gate is not None
            async with self._webhook_gate:
                status, error, timing = await self._post(update)
            self.webhook_attempts.append(WebhookAttempt(update["update_id"], status, timing))
            if status is not None and 200 <= status < 300:
                self._pending = [u for u in self._pending if u["update_id"] != update["update_id"]]
                _wake(self._activity_waiters)
                return
            self._webhook_error = (self._now(), error)
            _wake(self._activity_waiters)
            await self._webhook_sleep(gap)
            gap = min(gap * 2, self.webhook_max_retry)

    async def _post(self, update: JSONDict) -> tuple[int | None, str, str | None]:
        assert self._webhook_client is not None
        headers = {"Content-Type": "application/json"}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
        try:
            response = await self._webhook_client.post(
                str(self.webhook["url"]), content=json.dumps(update), headers=headers
            )
        except httpx.TimeoutException:
            return None, "Read timeout expired", None
        except httpx.TransportError:
            return None, "Connection refused", None
        reason = response.reason_phrase or ""
        return (
            response.status_code,
            f"Wrong response from the webhook: {response.status_code} {reason}",
            response.headers.get("Server-Timing"),
        )

    async def aclose(self) -> None:
        """Stop pushing to the webhook and close its connections (pending updates stay)."""
        self._stop_pushing()
        pending = list(self._webhook_pushes)
        await asyncio.gather(*pending, return_exceptions=True)
        client, self._webhook_client = self._webhook_client, None
        if client is not None:
            await client.aclose()

    def _get_webhook_info(self, params: JSONDict, files: FileMap) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": bool(self.webhook.get("has_custom_certificate")),
            "pending_update_count": len(self._pending),
        }
        for key in ("ip_address", "max_connections"):
            if key in self.webhook:
                info[key] = self.webhook[key]
        if self.webhook.get("url") and self._webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        if self.webhook.get("url") and self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    def _close(self, params: JSONDict, files: FileMap) -> bool:
        self.closed = True
        return True

    def _log_out(self, params: JSONDict, files: FileMap) -> bool:
        self.logged_out = True
        return True

    def _lookup_chat(self, chat_id: Any) -> JSONDict:
        if isinstance(chat_id, str):
            name = chat_id.removeprefix("@").lower()
            for chat in self._chats.values():
                # Private chats can't be addressed by @username, only by id.
                if chat["type"] != "private" and str(chat.get("username", "")).lower() == name:
                    return chat
            raise _bad("chat not found")
        found = self._chats.get(chat_id)
        if found is None:
            raise _bad("chat not found")
        return found

    def _target_chat(self, chat_id: Any) -> JSONDict:
        chat = self._lookup_chat(chat_id)
        if chat["type"] == "private":
            if chat["id"] in self._blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if chat["id"] not in self._started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _new_sent(self, method: str, chat: JSONDict, params: JSONDict) -> SentMessage:
        reply_to: JSONDict | None = None
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            reply_to = self._reply_target(chat, reply)
        message = SentMessage(
            message_id=self._take_message_id(chat["id"]),
            chat_id=chat["id"],
            parse_mode=params.get("parse_mode") or None,
            reply_markup=_copy_json(params.get("reply_markup")),
            date=self._now(),
            method=method,
            chat=_copy_json(chat),
            sender=dict(self.bot_user),
            reply_to=reply_to,
        )
        return message

    def _reply_target(self, chat: JSONDict, reply: JSONDict) -> JSONDict | None:
        target_chat = reply.get("chat_id", chat["id"])
        if not isinstance(target_chat, int):
            target_chat = self._lookup_chat(target_chat)["id"]
        message_id = reply.get("message_id")
        for message in self.sent:
            if (
                message.chat_id == target_chat
                and message.message_id == message_id
                and not message.deleted
            ):
                return message.as_dict()
        if message_id in self._user_messages.get(target_chat, set()):
            # The fake does not keep user messages' contents; a stub is enough for PTB.
            return {
                "message_id": message_id,
                "chat": self.chat(target_chat),
                "date": self._now(),
            }
        if reply.get("allow_sending_without_reply"):
            return None
        raise _bad("message to be replied not found")

    def _send_message(self, params: JSONDict, files: FileMap) -> JSONDict:
        chat = self._target_chat(params["chat_id"])
        message = self._new_sent("sendMessage", chat, params)
        message.text = params["text"]
        message.rendered_text, message.entities = render_text(
            params["text"], message.parse_mode, params.get("entities")
        )
        self.sent.append(message)
        return message.as_dict()

    def _find_sent(self, params: JSONDict, verb: str) -> SentMessage:
        if "inline_message_id" in params:
            raise _bad(f"message to {verb} not found")
        if "chat_id" not in params or "message_id" not in params:
            raise _bad("message identifier is not specified")
        chat = self._target_chat(params["chat_id"])
        message_id = params["message_id"]
        for message in self.sent:
            if message.chat_id == chat["id"] and message.message_id == message_id:
                if message.deleted:
                    break
                return message
        else:
            if message_id in self._user_messages.get(chat["id"], set()):
                raise _bad(f"message can't be {verb}ed")
        raise _bad(f"message to {verb} not found")

    def _edit_message_text(self, params: JSONDict, files: FileMap) -> JSONDict:
        message = self._find_sent(params, "edit")
        if message.text is None:
            raise _bad("there is no text in the message to edit")
        if "text" not in params:
            raise _bad("message text is empty")
        parse_mode = params.get("parse_mode") or None
        rendered, entities = render_text(params["text"], parse_mode, params.get("entities"))
        markup = params.get("reply_markup")
        current = message.reply_markup if message.has_inline_keyboard else None
        if rendered == message.rendered_text and entities == message.entities and markup == current:
            raise _bad(_NOT_MODIFIED)
        message.text = params["text"]
        message.parse_mode = parse_mode
        message.rendered_text, message.entities = rendered, entities
        # Editing the text without reply_markup drops the inline keyboard, as on Telegram.
        if current is not None or markup is not None:
            self._replace_keyboard(message, markup)
        self._mark_edited(message)
        return message.as_dict()

    def _edit_message_reply_markup(self, params: JSONDict, files: FileMap) -> JSONDict:
        message = self._find_sent(params, "edit")
        markup = params.get("reply_markup")
        current = message.reply_markup if message.has_inline_keyboard else None
        if markup == current:
            raise _bad(_NOT_MODIFIED)
        self._replace_keyboard(message, markup)
        self._mark_edited(message)
        return message.as_dict()

    @staticmethod
    def _replace_keyboard(message: SentMessage, markup: JSONDict | None) -> None:
        if message.has_inline_keyboard and message.reply_markup != markup:
            assert message.reply_markup is not None
            message.earlier_keyboards.append(message.reply_markup)
        message.reply_markup = copy.deepcopy(markup)

    def _mark_edited(self, message: SentMessage) -> None:
        message.edits += 1
        message.edit_date = self._now()

    def _delete_message(self, params: JSONDict, files: FileMap) -> bool:
        chat = self._target_chat(params["chat_id"])
        message_id = params["message_id"]
        for message in self.sent:
            if message.chat_id == chat["id"] and message.message_id == message_id:
                if message.deleted:
                    break
                message.deleted = True
                return True
        else:
            user_messages = self._user_messages.get(chat["id"], set())
            if message_id in user_messages:
                user_messages.discard(message_id)
                return True
        raise _bad("message to delete not found")

    def _answer_callback_query(self, params: JSONDict, files: FileMap) -> bool:
        query = self._open_queries.pop(params["callback_query_id"], None)
        if query is None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        answer = dict(params)
        answer["user_id"] = query["from"]["id"]
        answer["data"] = query.get("data")
        self.callback_answers.append(answer)
        return True

    def _resolve_file(
        self, params: JSONDict, files: FileMap, name: str, kind: str
    ) -> tuple[str, bytes, str]:
        value = params.get(name)
        upload = files.get(name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        if upload is not None:
            filename, content = upload
            if not content:
                raise _bad("file must be non-empty")
            limit = _MAX_PHOTO_BYTES if kind == "photos" else _MAX_UPLOAD_BYTES
            if len(content) > limit:
                raise ApiError(413, "Request Entity Too Large")
            mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            return filename, content, mime
        if isinstance(value, str) and value in self._files:
            stored = self._files[value]
            return stored.filename, stored.content, stored.mime_type
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            # No network here: accept the URL but there are no bytes to keep.
            filename = value.rstrip("/").rpartition("/")[2] or "file"
            return filename, b"", mimetypes.guess_type(filename)[0] or "application/octet-stream"
        raise _bad("wrong file identifier/HTTP URL specified")

    def _store_file(self, filename: str, content: bytes, mime: str, kind: str) -> _StoredFile:
        number = self._next_file_number
        self._next_file_number += 1
        extension = filename.rpartition(".")[2] if "." in filename else "bin"
        stored = _StoredFile(
            file_id=f"F{kind[:3].upper()}{number:06d}{secrets.token_urlsafe(12)}",
            file_unique_id=f"U{number:06d}{secrets.token_hex(4)}",
            file_path=f"{kind}/file_{number}.{extension}",
            filename=filename,
            content=content,
            mime_type=mime,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def file_content(self, file_path: str) -> bytes | None:
        """Bytes behind a getFile file_path, for the file download endpoint."""
        stored = self._files_by_path.get(file_path)
        return stored.content if stored else None

    def _set_caption(self, message: SentMessage, params: JSONDict) -> None:
        caption = params.get("caption")
        if caption is None:
            return
        message.caption = caption
        message.rendered_text, message.entities = render_text(
            caption, message.parse_mode, params.get("caption_entities")
        )

    def _send_document(self, params: JSONDict, files: FileMap) -> JSONDict:
        chat = self._target_chat(params["chat_id"])
        filename, content, mime = self._resolve_file(params, files, "document", "documents")
        stored = self._store_file(filename, content, mime, "documents")
        message = self._new_sent("sendDocument", chat, params)
        message.document = (filename, content)
        document: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": filename,
            "mime_type": mime,
            "file_size": len(content),
        }
        message.media = {"document": document}
        self._set_caption(message, params)
        self.sent.append(message)
        return message.as_dict()

    def _send_photo(self, params: JSONDict, files: FileMap) -> JSONDict:
        chat = self._target_chat(params["chat_id"])
        filename, content, mime = self._resolve_file(params, files, "photo", "photos")
        stored = self._store_file(filename, content, mime, "photos")
        width, height = _png_size(content)
        message = self._new_sent("sendPhoto", chat, params)
        message.photo = content
        size: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
            "file_size": len(content),
        }
        message.media = {"photo": [size]}
        self._set_caption(message, params)
        self.sent.append(message)
        return message.as_dict()

    def _send_chat_action(self, params: JSONDict, files: FileMap) -> bool:
        chat = self._target_chat(params["chat_id"])
        if params["action"] not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self.chat_actions.append((chat["id"], params["action"]))
        return True

    def _scope_key(self, params: JSONDict) -> str:
        return self.commands_key(params.get("scope"), str(params.get("language_code", "")))

    def _set_my_commands(self, params: JSONDict, files: FileMap) -> bool:
        commands = params["commands"]
        if len(commands) > _MAX_COMMANDS:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not _COMMAND_RE.match(command["command"]):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._scope_key(params)
        if commands:
            self.commands[key] = copy.deepcopy(commands)
        else:
            self.commands.pop(key, None)
        return True

    def _get_my_commands(self, params: JSONDict, files: FileMap) -> list[JSONDict]:
        return copy.deepcopy(self.commands.get(self._scope_key(params), []))

    def _delete_my_commands(self, params: JSONDict, files: FileMap) -> bool:
        self.commands.pop(self._scope_key(params), None)
        return True

    def _set_my_description(self, params: JSONDict, files: FileMap) -> bool:
        description = str(params.get("description", ""))
        if len(description) > _MAX_DESCRIPTION:
            raise _bad("BOT_DESCRIPTION_INVALID")
        self._store_localized(self.descriptions, params, description)
        return True

    def _set_my_short_description(self, params: JSONDict, files: FileMap) -> bool:
        description = str(params.get("short_description", ""))
        if len(description) > _MAX_SHORT_DESCRIPTION:
            raise _bad("BOT_SHORT_DESCRIPTION_INVALID")
        self._store_localized(self.short_descriptions, params, description)
        return True

    @staticmethod
    def _store_localized(store: dict[str, str], params: JSONDict, value: str) -> None:
        language = str(params.get("language_code", ""))
        if value:
            store[language] = value
        else:
            store.pop(language, None)

    def _create_chat_invite_link(self, params: JSONDict, files: FileMap) -> JSONDict:
        chat = self._lookup_chat(params["chat_id"])
        if chat["type"] == "private":
            raise _bad("can't invite members to a private chat")
        name = params.get("name")
        if name is not None and len(name) > _MAX_INVITE_NAME:
            raise _bad("invite link name is too long")
        member_limit = params.get("member_limit")
        if member_limit is not None and not 1 <= member_limit <= _MAX_MEMBER_LIMIT:
            raise _bad("member limit must be between 1 and 99999")
        joins_by_request = bool(params.get("creates_join_request", False))
        if joins_by_request and member_limit is not None:
            raise _bad("member limit can't be specified for links requiring administrator approval")
        expire_date = params.get("expire_date")
        if expire_date is not None and expire_date <= self._now():
            raise _bad("expire date is in the past")
        link: JSONDict = {
            "invite_link": f"https://t.me/+{secrets.token_urlsafe(12)}",
            "creator": dict(self.bot_user),
            "creates_join_request": joins_by_request,
            "is_primary": False,
            "is_revoked": False,
        }
        for key in ("name", "expire_date", "member_limit"):
            if params.get(key) is not None:
                link[key] = params[key]
        self.invite_links.append({"chat_id": chat["id"], **copy.deepcopy(link)})
        return link

    def _get_chat(self, params: JSONDict, files: FileMap) -> JSONDict:
        chat = self._lookup_chat(params["chat_id"])
        info = copy.deepcopy(chat)
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return info

    def _get_file(self, params: JSONDict, files: FileMap) -> JSONDict:
        stored = self._files.get(params["file_id"])
        if stored is None:
            raise _bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }
