"""Specification of the fake Telegram Bot API that the bot's tests and sandbox run against."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import telegram
from hypothesis import given
from hypothesis import strategies as st
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.sandbox.fake_api import MEDIA_KINDS, FakeTelegram, FakeUser, SentMessage
from bot.sandbox.fake_http import FakeTelegramServer
from bot.sandbox.fake_request import FakeRequest
from bot.sandbox.schema import (
    EntityParseError,
    load_schema,
    parse_html,
    validate_call,
    validate_object,
)
from tests.harness import schema_checked

# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """A fresh fake Bot API; a test that breaks the schema on purpose takes its violations."""
    yield from schema_checked(FakeTelegram())


def taken_violations(fake: FakeTelegram) -> list[str]:
    """Violations a test provoked on purpose, taken off the fake so its teardown check passes."""
    taken = list(fake.violations)
    fake.violations.clear()
    return taken


@pytest.fixture
def ann(fake: FakeTelegram) -> FakeUser:
    """A user who has already opened a chat with the bot."""
    return fake.new_user("Ann", username="ann", started=True)


@pytest.fixture
async def ptb_bot(fake: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    """A real PTB Bot whose requests go straight into the fake."""
    bot = telegram.Bot(fake.token, request=FakeRequest(fake), get_updates_request=FakeRequest(fake))
    async with bot:
        yield bot


@pytest.fixture
async def server(fake: FakeTelegram) -> AsyncIterator[FakeTelegramServer]:
    """The fake served over HTTP on loopback."""
    async with FakeTelegramServer(fake) as running:
        yield running


@pytest.fixture
async def http(server: FakeTelegramServer) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client for the fake server (never reads proxy settings)."""
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        yield client


async def call_ok(fake: FakeTelegram, method: str, **params: Any) -> Any:
    """Call the fake and insist it succeeded."""
    response = await fake.call(method, params)
    assert response["ok"], response
    return response["result"]


async def send(fake: FakeTelegram, chat_id: int, text: str, **params: Any) -> SentMessage:
    """The bot sends a message; returns the fake's record of it."""
    await call_ok(fake, "sendMessage", chat_id=chat_id, text=text, **params)
    return fake.sent[-1]


def keyboard(*rows: list[tuple[str, str]]) -> dict[str, Any]:
    """An inline keyboard of (text, callback_data) buttons."""
    return {"inline_keyboard": [[{"text": t, "callback_data": d} for t, d in row] for row in rows]}


# --- the schema -------------------------------------------------------------------------------


def test_schema_knows_methods_and_types() -> None:
    schema = load_schema()
    assert schema.method("SENDMESSAGE") is schema.methods["sendMessage"]
    assert schema.types["Message"].fields["chat"].required
    assert "BotCommandScopeChat" in schema.types["BotCommandScope"].subtypes


def test_a_well_formed_call_has_no_problems() -> None:
    assert validate_call("sendMessage", {"chat_id": 1, "text": "Hello"}) == []


async def test_unknown_parameter_is_a_violation(fake: FakeTelegram, ann: FakeUser) -> None:
    response = await fake.call("sendMessage", {"chat_id": ann.id, "text": "hi", "colour": 1})

    assert response["error_code"] == 400
    assert taken_violations(fake) == ["sendMessage: unknown parameter 'colour'"]
    assert fake.sent == []


async def test_missing_required_parameter_is_a_violation(fake: FakeTelegram) -> None:
    response = await fake.call("sendMessage", {"text": "hi"})

    assert response == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: chat_id is empty",
    }
    assert taken_violations(fake) == ["sendMessage: missing required parameter 'chat_id'"]


def test_integer_parameter_takes_numbers_and_numeric_strings_only() -> None:
    assert validate_call("deleteMessage", {"chat_id": "42", "message_id": "7"}) == []
    assert validate_call("deleteMessage", {"chat_id": 42, "message_id": "seven"}) == [
        "deleteMessage: message_id: expected Integer, got str 'seven'"
    ]


def test_boolean_parameter_rejects_other_python_values() -> None:
    params = {"chat_id": 1, "text": "x", "disable_notification": 1}
    assert validate_call("sendMessage", params) == [
        "sendMessage: disable_notification: expected Boolean, got int 1"
    ]
    assert validate_call("sendMessage", {**params, "disable_notification": "true"}) == []


def test_json_encoded_parameters_are_decoded_before_validation() -> None:
    good = json.dumps(keyboard([("Yes", "y")]))
    bad = json.dumps({"inline_keyboard": [[{"callback_data": "y"}]]})

    assert validate_call("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": good}) == []
    assert validate_call("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": bad}) == [
        "sendMessage: reply_markup.inline_keyboard[0][0]: missing required field 'text' of "
        "InlineKeyboardButton"
    ]


def test_union_parameters_are_checked_against_the_intended_member() -> None:
    problems = validate_call(
        "setMyCommands",
        {"commands": [{"command": "start", "description": "Start"}], "scope": {"type": "chat"}},
    )
    assert problems == [
        "setMyCommands: scope: missing required field 'chat_id' of BotCommandScopeChat"
    ]


def test_validate_object_checks_nested_required_and_unknown_fields() -> None:
    message = {"message_id": 1, "date": 0, "chat": {"id": 5}, "mood": "happy"}

    assert validate_object("Message", message) == [
        "Message.chat: missing required field 'type' of Chat",
        "Message: unknown field 'mood' for Message",
    ]


async def test_unknown_method_is_not_found(fake: FakeTelegram) -> None:
    response = await fake.call("sendTelegram", {})

    assert response == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert taken_violations(fake) == ["unknown method 'sendTelegram'"]


async def test_method_the_fake_does_not_implement_is_a_violation(fake: FakeTelegram) -> None:
    response = await fake.call("sendDice", {"chat_id": 1})

    assert response["error_code"] == 400
    assert taken_violations(fake) == ["not implemented by the fake: sendDice"]


async def test_method_names_are_case_insensitive(fake: FakeTelegram) -> None:
    assert (await call_ok(fake, "GETME"))["username"] == "BumpBuddiesBot"
    assert fake.calls[-1].method == "getMe"


# --- Telegram's HTML --------------------------------------------------------------------------


async def test_html_with_unescaped_tag_is_rejected(fake: FakeTelegram, ann: FakeUser) -> None:
    response = await fake.call(
        "sendMessage", {"chat_id": ann.id, "text": "Due <date>", "parse_mode": "HTML"}
    )

    assert response["description"] == (
        'Bad Request: can\'t parse entities: Unsupported start tag "date" at byte offset 4'
    )
    assert len(taken_violations(fake)) == 1


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<p>para</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("£<br>", 'Unsupported start tag "br" at byte offset 2'),
    ],
)
def test_html_that_telegram_cannot_parse_is_rejected(text: str, error: str) -> None:
    with pytest.raises(EntityParseError) as raised:
        parse_html(text)
    assert str(raised.value) == error


def test_supported_html_becomes_entities_with_utf16_offsets() -> None:
    text, entities = parse_html(
        '👶 <b>Due</b> &lt;soon&gt; <a href="https://nhs.uk">NHS</a> '
        '<span class="tg-spoiler">s</span> <blockquote expandable>q</blockquote> '
        '<pre><code class="language-python">x</code></pre>'
    )

    assert text == "👶 Due <soon> NHS s q x"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 3},
        {"type": "text_link", "url": "https://nhs.uk", "offset": 14, "length": 3},
        {"type": "spoiler", "offset": 18, "length": 1},
        {"type": "expandable_blockquote", "offset": 20, "length": 1},
        {"type": "pre", "language": "python", "offset": 22, "length": 1},
    ]


def test_only_telegrams_named_entities_are_decoded() -> None:
    assert parse_html("&amp;&quot;&#39;&#x1F476;&nbsp;&copy;")[0] == "&\"'👶&nbsp;&copy;"


@given(st.text())
def test_escaped_text_always_parses_back_to_itself(text: str) -> None:
    assert parse_html(html.escape(text))[0] == text


async def test_text_longer_than_4096_characters_after_parsing_is_rejected(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    fits = "<b>" + "x" * 4096 + "</b>"
    await call_ok(fake, "sendMessage", chat_id=ann.id, text=fits, parse_mode="HTML")

    response = await fake.call("sendMessage", {"chat_id": ann.id, "text": "x" * 4097})

    assert response["description"] == "Bad Request: message is too long"
    assert taken_violations(fake) == [
        "sendMessage: text is 4097 characters after entity parsing; Telegram allows at most 4096"
    ]


async def test_blank_text_is_rejected(fake: FakeTelegram, ann: FakeUser) -> None:
    response = await fake.call("sendMessage", {"chat_id": ann.id, "text": " \n "})

    assert response["description"] == "Bad Request: message text is empty"
    assert taken_violations(fake) == ["sendMessage: text is empty after entity parsing"]


async def test_document_caption_over_1024_characters_is_rejected(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    response = await fake.call(
        "sendDocument",
        {"chat_id": ann.id, "caption": "c" * 1025},
        files={"document": ("plan.txt", b"plan")},
    )

    assert response["description"] == "Bad Request: message caption is too long"
    assert taken_violations(fake) == [
        "sendDocument: caption is 1025 characters after entity parsing; "
        "Telegram allows at most 1024"
    ]


# --- inline keyboards -------------------------------------------------------------------------


async def test_callback_data_longer_than_64_bytes_is_rejected(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    # 33 characters but 66 bytes: the limit is in bytes.
    markup = keyboard([("Pick", "é" * 33)])

    response = await fake.call(
        "sendMessage", {"chat_id": ann.id, "text": "Choose", "reply_markup": markup}
    )

    assert response["description"] == "Bad Request: BUTTON_DATA_INVALID"
    assert "66 bytes" in taken_violations(fake)[0]


async def test_inline_keyboard_of_more_than_100_buttons_is_rejected(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    markup = keyboard(*[[(str(i), str(i))] for i in range(101)])

    response = await fake.call(
        "sendMessage", {"chat_id": ann.id, "text": "Many", "reply_markup": markup}
    )

    assert response["description"] == "Bad Request: REPLY_MARKUP_TOO_LONG"
    assert taken_violations(fake) == [
        "sendMessage: inline keyboard has 101 buttons; Telegram allows at most 100"
    ]


async def test_inline_button_without_an_action_is_rejected(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    markup = {"inline_keyboard": [[{"text": "Just text"}]]}

    response = await fake.call(
        "sendMessage", {"chat_id": ann.id, "text": "x", "reply_markup": markup}
    )

    assert "Text buttons are unallowed" in response["description"]
    assert taken_violations(fake) == [
        "sendMessage: reply_markup.inline_keyboard[0][0] ('Just text') has no action such as "
        "callback_data or url"
    ]


# --- messages the bot sends -------------------------------------------------------------------


async def test_sent_message_is_recorded_with_plain_text_and_buttons(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    result = await call_ok(
        fake,
        "sendMessage",
        chat_id=ann.id,
        text="<b>Welcome</b> &amp; hello",
        parse_mode="HTML",
        reply_markup=keyboard([("Yes", "consent:yes"), ("No", "consent:no")]),
    )

    [message] = fake.messages(ann.id)
    assert message.text == "<b>Welcome</b> &amp; hello"
    assert message.plain_text == "Welcome & hello"
    assert message.button_texts() == ["Yes", "No"]
    assert message.buttons()[0][1] == {"text": "No", "callback_data": "consent:no"}
    assert result["text"] == "Welcome & hello"
    assert result["entities"] == [{"type": "bold", "offset": 0, "length": 7}]
    assert result["from"]["is_bot"] is True
    assert fake.violations == []


async def test_bot_cannot_message_a_user_who_never_wrote_to_it(fake: FakeTelegram) -> None:
    stranger = fake.new_user("Bea")

    response = await fake.call("sendMessage", {"chat_id": stranger.id, "text": "Hi"})

    assert response["error_code"] == 403
    fake.send_message(stranger, "/start")
    await call_ok(fake, "sendMessage", chat_id=stranger.id, text="Hi")


async def test_unknown_chat_is_not_found(fake: FakeTelegram) -> None:
    response = await fake.call("sendMessage", {"chat_id": 123, "text": "Hi"})

    assert response["description"] == "Bad Request: chat not found"


async def test_edit_message_text_updates_the_record_and_drops_an_omitted_keyboard(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    message = await send(fake, ann.id, "Step 1", reply_markup=keyboard([("Next", "n")]))

    edited = await call_ok(
        fake, "editMessageText", chat_id=ann.id, message_id=message.message_id, text="Step 2"
    )

    assert (message.text, message.edits, message.reply_markup) == ("Step 2", 1, None)
    assert "reply_markup" not in edited
    assert "edit_date" in edited


async def test_editing_to_identical_content_is_not_modified(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    markup = keyboard([("Next", "n")])
    message = await send(fake, ann.id, "<b>Same</b>", parse_mode="HTML", reply_markup=markup)

    response = await fake.call(
        "editMessageText",
        {
            "chat_id": ann.id,
            "message_id": message.message_id,
            "text": "<b>Same</b>",
            "parse_mode": "HTML",
            "reply_markup": markup,
        },
    )

    assert response["description"].startswith("Bad Request: message is not modified")
    assert message.edits == 0


async def test_edit_reply_markup_replaces_only_the_keyboard(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    message = await send(fake, ann.id, "Pick", reply_markup=keyboard([("A", "a")]))

    await call_ok(
        fake,
        "editMessageReplyMarkup",
        chat_id=ann.id,
        message_id=message.message_id,
        reply_markup=keyboard([("B", "b")]),
    )

    assert (message.plain_text, message.button_texts(), message.edits) == ("Pick", ["B"], 1)


async def test_editing_an_unknown_message_is_not_found(fake: FakeTelegram, ann: FakeUser) -> None:
    response = await fake.call(
        "editMessageText", {"chat_id": ann.id, "message_id": 999, "text": "x"}
    )

    assert response["description"] == "Bad Request: message to edit not found"


async def test_deleted_message_stays_recorded_but_flagged(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    message = await send(fake, ann.id, "Temporary")

    await call_ok(fake, "deleteMessage", chat_id=ann.id, message_id=message.message_id)
    again = await fake.call("deleteMessage", {"chat_id": ann.id, "message_id": message.message_id})

    assert message.deleted
    assert again["description"] == "Bad Request: message to delete not found"


async def test_sent_document_keeps_filename_and_bytes(fake: FakeTelegram, ann: FakeUser) -> None:
    result = (
        await fake.call(
            "sendDocument",
            {"chat_id": ann.id, "caption": "<i>Your data</i>", "parse_mode": "HTML"},
            files={"document": ("my-data.json", b'{"name": "Ann"}')},
        )
    )["result"]

    [message] = fake.messages(ann.id)
    assert message.document == ("my-data.json", b'{"name": "Ann"}')
    assert message.plain_text == "Your data"
    assert result["document"]["mime_type"] == "application/json"
    assert result["caption_entities"] == [{"type": "italic", "offset": 0, "length": 9}]


async def test_blocked_user_gets_403_and_the_bot_hears_about_it(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    update = fake.block_bot(ann)

    response = await fake.call("sendMessage", {"chat_id": ann.id, "text": "Still there?"})

    assert response == {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"


async def test_chat_action_commands_and_descriptions_are_recorded(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    private = {"type": "all_private_chats"}
    await call_ok(fake, "sendChatAction", chat_id=ann.id, action="typing")
    await call_ok(
        fake,
        "setMyCommands",
        commands=[{"command": "start", "description": "Begin"}],
        scope=private,
    )
    await call_ok(fake, "setMyDescription", description="Meet local mums-to-be")

    assert fake.chat_actions == [(ann.id, "typing")]
    assert fake.commands_for(private) == [{"command": "start", "description": "Begin"}]
    assert await call_ok(fake, "getMyCommands") == []
    assert await call_ok(fake, "getMyCommands", scope=private) == fake.commands_for(private)
    assert fake.descriptions == {"": "Meet local mums-to-be"}


async def test_invalid_command_name_is_rejected(fake: FakeTelegram) -> None:
    response = await fake.call(
        "setMyCommands", {"commands": [{"command": "Start-Here", "description": "x"}]}
    )

    assert response["description"] == "Bad Request: BOT_COMMAND_INVALID"


async def test_invite_links_are_for_groups(fake: FakeTelegram, ann: FakeUser) -> None:
    group = fake.new_group("Riverside bumps")

    link = await call_ok(fake, "createChatInviteLink", chat_id=group["id"], member_limit=1)
    private = await fake.call("createChatInviteLink", {"chat_id": ann.id})

    assert link["invite_link"].startswith("https://t.me/+")
    assert link["member_limit"] == 1
    assert fake.invite_links[0]["chat_id"] == group["id"]
    assert private["error_code"] == 400


async def test_get_chat_returns_full_info(fake: FakeTelegram, ann: FakeUser) -> None:
    info = await call_ok(fake, "getChat", chat_id=ann.id)

    assert (info["id"], info["type"], info["first_name"]) == (ann.id, "private", "Ann")
    assert fake.violations == []


# --- users and the updates they produce -------------------------------------------------------


def test_users_get_unique_increasing_ids(fake: FakeTelegram) -> None:
    first, second = fake.new_user("A"), fake.new_user("B", last_name="Smith")

    assert second.id == first.id + 1
    assert validate_object("User", second.as_dict()) == []


def test_update_ids_increase_from_one(fake: FakeTelegram, ann: FakeUser) -> None:
    ids = [
        fake.send_message(ann, "hi")["update_id"],
        fake.send_location(ann, 51.5, -0.1)["update_id"],
    ]

    assert ids == [1, 2]
    assert fake.violations == []


def test_a_command_carries_a_bot_command_entity(fake: FakeTelegram, ann: FakeUser) -> None:
    message = fake.send_message(ann, "/start ref-42")["message"]

    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert message["chat"] == {
        "id": ann.id,
        "type": "private",
        "first_name": "Ann",
        "username": "ann",
    }


async def test_press_button_sends_the_message_as_it_is_now(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    message = await send(fake, ann.id, "Agree?", reply_markup=keyboard([("Yes", "y"), ("No", "n")]))

    by_text = fake.press_button(ann, message, "No")["callback_query"]
    by_index = fake.press_button(ann, message, 0)["callback_query"]

    assert (by_text["data"], by_index["data"]) == ("n", "y")
    assert by_text["message"]["reply_markup"] == message.reply_markup
    assert by_text["id"] != by_index["id"]
    assert by_text["from"] == ann.as_dict()


async def test_pressing_a_missing_or_url_button_fails_loudly(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    markup = {"inline_keyboard": [[{"text": "Site", "url": "https://example.org"}]]}
    message = await send(fake, ann.id, "Links", reply_markup=markup)

    with pytest.raises(LookupError, match="buttons: \\['Site'\\]"):
        fake.press_button(ann, message, "Yes")
    with pytest.raises(ValueError, match="URL button"):
        fake.press_button(ann, message, "Site")


async def test_a_stale_keyboard_can_still_be_tapped_like_a_double_tap(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    message = await send(fake, ann.id, "Agree?", reply_markup=keyboard([("Yes", "y")]))
    await call_ok(fake, "editMessageText", chat_id=ann.id, message_id=message.message_id, text="Ok")

    query = fake.press_button(ann, message, "Yes")["callback_query"]

    assert query["data"] == "y"
    assert query["message"]["text"] == "Ok"
    assert "reply_markup" not in query["message"]


async def test_only_forged_callbacks_reach_into_someone_elses_chat(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    intruder = fake.new_user("Ivy", started=True)
    message = await send(fake, ann.id, "Delete?", reply_markup=keyboard([("Yes", "del")]))

    with pytest.raises(ValueError, match="forge_callback"):
        fake.press_button(intruder, message, "Yes")
    forged = fake.forge_callback(intruder, message, "del")["callback_query"]

    assert (forged["from"]["id"], forged["message"]["chat"]["id"]) == (intruder.id, ann.id)


async def test_forged_callback_carries_any_data(fake: FakeTelegram, ann: FakeUser) -> None:
    message = await send(fake, ann.id, "Agree?", reply_markup=keyboard([("Yes", "y")]))

    update = fake.forge_callback(ann, message, "admin:delete-everything")

    assert update["callback_query"]["data"] == "admin:delete-everything"


async def test_a_callback_query_can_be_answered_once(fake: FakeTelegram, ann: FakeUser) -> None:
    message = await send(fake, ann.id, "Agree?", reply_markup=keyboard([("Yes", "y")]))
    query_id = fake.press_button(ann, message, "Yes")["callback_query"]["id"]

    await call_ok(fake, "answerCallbackQuery", callback_query_id=query_id, text="Saved")
    again = await fake.call("answerCallbackQuery", {"callback_query_id": query_id})

    assert fake.callback_answers[0]["text"] == "Saved"
    assert again["error_code"] == 400


def test_send_update_rejects_an_invalid_update(fake: FakeTelegram) -> None:
    sender = {"id": 1, "is_bot": False, "first_name": "A"}

    with pytest.raises(ValueError, match="missing required field 'chat_instance'"):
        fake.send_update({"callback_query": {"id": "1", "from": sender}})


# --- getUpdates -------------------------------------------------------------------------------


async def test_get_updates_confirms_updates_below_offset(fake: FakeTelegram, ann: FakeUser) -> None:
    for text in ("one", "two", "three"):
        fake.send_message(ann, text)

    everything = await call_ok(fake, "getUpdates")
    rest = await call_ok(fake, "getUpdates", offset=3)
    again = await call_ok(fake, "getUpdates")

    assert [u["update_id"] for u in everything] == [1, 2, 3]
    assert [u["message"]["text"] for u in rest] == ["three"]
    assert [u["update_id"] for u in again] == [3]


async def test_get_updates_honours_limit(fake: FakeTelegram, ann: FakeUser) -> None:
    for text in ("one", "two", "three"):
        fake.send_message(ann, text)

    assert [u["update_id"] for u in await call_ok(fake, "getUpdates", limit=2)] == [1, 2]


async def test_get_updates_returns_empty_after_timeout(fake: FakeTelegram) -> None:
    started = asyncio.get_running_loop().time()

    assert await call_ok(fake, "getUpdates", timeout=0.05) == []
    assert asyncio.get_running_loop().time() - started >= 0.04


async def test_get_updates_waits_until_an_update_arrives(fake: FakeTelegram, ann: FakeUser) -> None:
    poll = asyncio.create_task(fake.call("getUpdates", {"timeout": 5}))
    await asyncio.sleep(0)
    assert not poll.done()

    fake.send_message(ann, "are you there?")
    response = await asyncio.wait_for(poll, 1)

    assert [u["message"]["text"] for u in response["result"]] == ["are you there?"]


async def test_a_newer_long_poll_terminates_the_older_one(fake: FakeTelegram) -> None:
    older = asyncio.create_task(fake.call("getUpdates", {"timeout": 5}))
    await asyncio.sleep(0)

    newer = await fake.call("getUpdates", {"timeout": 0})

    assert newer["ok"]
    assert (await asyncio.wait_for(older, 1))["error_code"] == 409


async def test_get_updates_filters_by_allowed_updates(fake: FakeTelegram, ann: FakeUser) -> None:
    message = await send(fake, ann.id, "Agree?", reply_markup=keyboard([("Yes", "y")]))
    fake.send_message(ann, "text")
    fake.press_button(ann, message, "Yes")

    updates = await call_ok(fake, "getUpdates", allowed_updates=["callback_query"])

    assert [u["update_id"] for u in updates] == [2]


async def test_get_updates_conflicts_with_a_webhook(fake: FakeTelegram) -> None:
    await call_ok(fake, "setWebhook", url="https://example.org/hook")

    assert (await fake.call("getUpdates", {}))["error_code"] == 409
    await call_ok(fake, "deleteWebhook", drop_pending_updates=True)
    assert (await call_ok(fake, "getWebhookInfo"))["url"] == ""


# --- waiting and fault injection --------------------------------------------------------------


async def test_wait_for_message_returns_the_first_match_after_an_index(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    await send(fake, ann.id, "Hello Ann")
    later = asyncio.create_task(fake.wait_for_message(ann, contains="Hello", after=1, timeout=1))
    await asyncio.sleep(0)
    await send(fake, ann.id, "Unrelated")
    await send(fake, ann.id, "Hello again")

    assert (await later).plain_text == "Hello again"


async def test_wait_for_times_out_with_a_helpful_report(fake: FakeTelegram, ann: FakeUser) -> None:
    await send(fake, ann.id, "Something else")

    with pytest.raises(TimeoutError) as raised:
        await fake.wait_for_message(ann, contains="Welcome", timeout=0.01)

    assert "containing 'Welcome'" in str(raised.value)
    assert "sendMessage -> ok" in str(raised.value)


async def test_fail_next_injects_errors_then_recovers(fake: FakeTelegram, ann: FakeUser) -> None:
    fake.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 3",
        retry_after=3,
        times=2,
    )

    first = await fake.call("sendMessage", {"chat_id": ann.id, "text": "x"})
    await fake.call("sendMessage", {"chat_id": ann.id, "text": "x"})
    await call_ok(fake, "sendMessage", chat_id=ann.id, text="x")

    assert first["parameters"] == {"retry_after": 3}
    assert len(fake.sent) == 1


# --- a real PTB Bot through FakeRequest -------------------------------------------------------


async def test_ptb_bot_sends_uploads_and_edits_through_the_fake(
    fake: FakeTelegram, ann: FakeUser, ptb_bot: telegram.Bot
) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])

    sent = await ptb_bot.send_message(
        ann.id, "<b>Hi</b> Ann", parse_mode="HTML", reply_markup=markup
    )
    document = await ptb_bot.send_document(
        ann.id, b"a,b\n1,2\n", filename="export.csv", thumbnail=b"thumb"
    )
    edited = await ptb_bot.edit_message_text(
        "Bye", chat_id=ann.id, message_id=sent.message_id, reply_markup=markup
    )
    assert document.document is not None
    file = await ptb_bot.get_file(document.document.file_id)

    assert sent.text == "Hi Ann"
    assert sent.reply_markup == markup
    assert fake.messages(ann.id)[1].document == ("export.csv", b"a,b\n1,2\n")
    assert isinstance(edited, telegram.Message) and edited.text == "Bye"
    assert bytes(await file.download_as_bytearray()) == b"a,b\n1,2\n"
    assert fake.violations == []


async def test_ptb_raises_telegrams_exceptions(
    fake: FakeTelegram, ann: FakeUser, ptb_bot: telegram.Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22 warns about int retry_after unless this opt-in is set; warnings are errors here.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake.fail_next("sendMessage", error_code=429, description="Too Many Requests", retry_after=5)

    with pytest.raises(telegram.error.BadRequest, match=r"(?i)unsupported start tag"):
        await ptb_bot.send_message(ann.id, "a < b", parse_mode="HTML")
    with pytest.raises(telegram.error.RetryAfter) as flood:
        await ptb_bot.send_message(ann.id, "x")
    fake.block_bot(ann)
    with pytest.raises(telegram.error.Forbidden):
        await ptb_bot.send_message(ann.id, "x")

    assert flood.value.retry_after == dt.timedelta(seconds=5)
    assert taken_violations(fake) == [
        'sendMessage: text is not valid Telegram HTML: Unsupported start tag "" at byte offset 2'
    ]


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    impostor = telegram.Bot(
        "1:wrong", request=FakeRequest(fake), get_updates_request=FakeRequest(fake)
    )

    with pytest.raises(telegram.error.InvalidToken):
        await impostor.get_me()


async def test_ptb_application_handles_a_button_press_in_process(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Agree", callback_data="agree")]])
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "Terms?", reply_markup=markup)

    async def agree(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Thanks")
        await query.edit_message_text("Agreed ✅")

    app = (
        ApplicationBuilder()
        .token(fake.token)
        .request(FakeRequest(fake))
        .get_updates_request(FakeRequest(fake))
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(agree))

    async with running_application(app):
        fake.send_message(ann, "/start")
        terms = await fake.wait_for_message(ann, contains="Terms?", timeout=5)
        fake.press_button(ann, terms, "Agree")
        await fake.wait_for(lambda: terms.plain_text == "Agreed ✅", timeout=5)

    assert fake.callback_answers[0]["text"] == "Thanks"
    assert not terms.has_inline_keyboard
    assert fake.violations == []


# --- over HTTP --------------------------------------------------------------------------------


async def test_ptb_application_polls_the_http_server_and_echoes(
    fake: FakeTelegram, server: FakeTelegramServer
) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(f"You said: {update.message.text}")

    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    user = fake.new_user("Cara")

    async with running_application(app):
        fake.send_message(user, "hello")
        reply = await fake.wait_for_message(user, contains="You said", timeout=5)

    assert reply.plain_text == "You said: hello"
    assert fake.violations == []


async def test_http_accepts_json_form_and_multipart_bodies(
    fake: FakeTelegram, ann: FakeUser, server: FakeTelegramServer, http: httpx.AsyncClient
) -> None:
    url = f"{server.base_url}{fake.token}"
    markup = keyboard([("Yes", "y")])

    as_json = await http.post(
        f"{url}/sendMessage", json={"chat_id": ann.id, "text": "json", "reply_markup": markup}
    )
    as_form = await http.post(
        f"{url}/sendMessage",
        data={"chat_id": str(ann.id), "text": "form", "reply_markup": json.dumps(markup)},
    )
    as_multipart = await http.post(
        f"{url}/sendDocument",
        data={"chat_id": str(ann.id), "caption": "file"},
        files={"document": ("notes.txt", b"notes", "text/plain")},
    )
    as_get = await http.get(f"{url}/getMe")

    assert [r.status_code for r in (as_json, as_form, as_multipart, as_get)] == [200] * 4
    assert [m.plain_text for m in fake.messages(ann.id)] == ["json", "form", "file"]
    assert fake.messages(ann.id)[1].button_texts() == ["Yes"]
    assert fake.messages(ann.id)[2].document == ("notes.txt", b"notes")
    assert fake.violations == []


async def test_http_errors_are_bot_api_envelopes(
    fake: FakeTelegram, server: FakeTelegramServer, http: httpx.AsyncClient
) -> None:
    wrong_token = await http.post(f"{server.base_url}1:nope/getMe")
    bad_request = await http.post(f"{server.base_url}{fake.token}/sendMessage", data={"text": "x"})
    nowhere = await http.get(f"http://127.0.0.1:{server.port}/favicon.ico")

    assert (wrong_token.status_code, wrong_token.json()["description"]) == (401, "Unauthorized")
    assert (bad_request.status_code, bad_request.json()["ok"]) == (400, False)
    assert nowhere.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert taken_violations(fake) == ["sendMessage: missing required parameter 'chat_id'"]


async def test_http_long_poll_does_not_block_other_requests(
    fake: FakeTelegram, ann: FakeUser, server: FakeTelegramServer, http: httpx.AsyncClient
) -> None:
    url = f"{server.base_url}{fake.token}"
    poll = asyncio.create_task(http.post(f"{url}/getUpdates", data={"timeout": "5"}))
    await fake.wait_for(lambda: fake.long_polling, timeout=2)

    me = await http.post(f"{url}/getMe")
    fake.send_message(ann, "wake up")
    updates = (await asyncio.wait_for(poll, 2)).json()["result"]

    assert me.json()["result"]["id"] == fake.bot_id
    assert [u["message"]["text"] for u in updates] == ["wake up"]


def test_server_refuses_to_listen_beyond_loopback(fake: FakeTelegram) -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeTelegramServer(fake, host="0.0.0.0")


# --- helpers ----------------------------------------------------------------------------------


@asynccontextmanager
async def running_application(
    app: Application[Any, Any, Any, Any, Any, Any],
) -> AsyncIterator[None]:
    """Run a PTB Application with a short long-poll timeout, then stop it cleanly."""
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=dt.timedelta(seconds=0.2))
    try:
        yield
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


# --- what a user sends besides plain text ---------------------------------------------------


@pytest.mark.parametrize("kind", MEDIA_KINDS)
def test_every_kind_of_media_is_a_valid_update_that_ptb_reads(
    fake: FakeTelegram, ann: FakeUser, kind: str
) -> None:
    update = fake.send_media(ann, kind)
    assert validate_object("Update", update) == []
    assert fake.violations == []
    message = Update.de_json(update, None).message
    assert message is not None and message.text is None
    assert message.effective_attachment is not None


def test_an_edit_resends_her_earlier_message_with_the_new_text(
    fake: FakeTelegram, ann: FakeUser
) -> None:
    first = fake.send_message(ann, "14/03/2027")
    fake.send_message(ann, "hello")
    edited = fake.edit_message(ann, "15/03/2027", message_id=first["message"]["message_id"])
    assert validate_object("Update", edited) == [] and fake.violations == []
    parsed = Update.de_json(edited, None)
    assert parsed.message is None and parsed.edited_message is not None
    assert parsed.edited_message.text == "15/03/2027"
    assert parsed.edited_message.message_id == first["message"]["message_id"]
    newest = fake.edit_message(ann, "/start")
    assert newest["edited_message"]["entities"][0]["type"] == "bot_command"


def test_she_can_only_edit_text_she_sent(fake: FakeTelegram, ann: FakeUser) -> None:
    with pytest.raises(LookupError):
        fake.edit_message(ann, "no earlier message")
