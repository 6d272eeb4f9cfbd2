"""Cohort group chats: staff register a group; members in range get a single-use, expiring link."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from telegram import Update

from bot.clock import FixedClock
from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from models import StaffRole
from tests.factories import make_staff
from tests.harness import BotHarness, schema_checked
from tests.test_matching_support import join

_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)


@pytest.fixture
def fake(clock: FixedClock) -> Iterator[FakeTelegram]:
    """The fake on the test clock, so invite links 'expire' relative to the bot's time."""
    yield from schema_checked(FakeTelegram(clock=lambda: clock.now().timestamp()))


@pytest.fixture
def staff(fake: FakeTelegram) -> FakeUser:
    """A council staff member."""
    return fake.new_user("Staff")


@pytest.fixture
async def bot(
    fake: FakeTelegram, database_url: str, clock: FixedClock, staff: FakeUser
) -> AsyncIterator[BotHarness]:
    """The bot, with `staff` a moderator, so allowed to register group chats."""
    async with BotHarness.start(fake, database_url, clock) as harness:
        async with harness.session() as session, session.begin():
            await make_staff(session, clock.now(), StaffRole.MODERATOR, staff.id)
        yield harness


@pytest.fixture
def group(fake: FakeTelegram) -> dict[str, Any]:
    """A supergroup for Chelmsford mums-to-be."""
    return fake.new_group("Chelmsford spring bumps")


async def _bot_becomes(
    bot: BotHarness, fake: FakeTelegram, group: dict[str, Any], staff: FakeUser, *, invite: bool
) -> None:
    admin: dict[str, Any] = {
        "status": "administrator",
        "user": fake.bot_user,
        "can_be_edited": False,
        "is_anonymous": False,
        "can_invite_users": invite,
    }
    admin.update(dict.fromkeys(_RIGHTS, False))
    update = fake.send_update(
        {
            "my_chat_member": {
                "chat": group,
                "from": staff.as_dict(),
                "date": int(bot.clock.now().timestamp()),
                "old_chat_member": {"status": "member", "user": fake.bot_user},
                "new_chat_member": admin,
            }
        }
    )
    await bot.app.process_update(Update.de_json(update, bot.app.bot))


async def _in_group(
    bot: BotHarness, fake: FakeTelegram, group: dict[str, Any], user: FakeUser, text: str
) -> SentMessage:
    update = fake.send_message(user, text, chat=group["id"])
    await bot.app.process_update(Update.de_json(update, bot.app.bot))
    return fake.messages(group["id"])[-1]


def _offer(sent: list[SentMessage]) -> SentMessage | None:
    return next((m for m in sent if "group chat for mums-to-be" in m.plain_text), None)


async def test_a_member_in_range_gets_a_single_use_expiring_link_only_when_she_asks(
    bot: BotHarness, fake: FakeTelegram, group: dict[str, Any], staff: FakeUser
) -> None:
    await _bot_becomes(bot, fake, group, staff, invite=True)
    said = await _in_group(bot, fake, group, staff, "/cohort E07000070 2027-02 2027-04")
    assert said.plain_text == (
        "✅ This group is now offered to mums-to-be in Chelmsford due February 2027 to April 2027."
    )
    amira = await join(bot, fake, "Amira")

    offer = _offer(await bot.send(amira, "/match"))

    assert offer is not None and offer.button_texts() == ["💬 Join Chelmsford spring bumps"]
    assert fake.calls_to("createChatInviteLink") == []
    sent = await bot.press(amira, "💬 Join Chelmsford spring bumps", message=offer)
    [call] = fake.calls_to("createChatInviteLink")
    assert call.params["member_limit"] == 1
    expected = bot.clock.now() + dt.timedelta(hours=24)
    assert int(call.params["expire_date"]) == int(expected.timestamp())
    [link] = fake.invite_links
    assert link["invite_link"] in sent[-1].plain_text
    assert "works once" in sent[-1].plain_text

    again = await bot.press(amira, "💬 Join Chelmsford spring bumps", message=offer)
    assert len(fake.calls_to("createChatInviteLink")) == 1
    assert link["invite_link"] in again[-1].plain_text


async def test_members_outside_the_area_or_due_months_are_not_offered_it(
    bot: BotHarness, fake: FakeTelegram, group: dict[str, Any], staff: FakeUser
) -> None:
    await _bot_becomes(bot, fake, group, staff, invite=True)
    await _in_group(bot, fake, group, staff, "/cohort E05015473 2027-03 2027-03")
    colchester = await join(bot, fake, "Col", area="CO1 1AA")
    summer = await join(bot, fake, "Sun", due="20/07/2027")
    amira = await join(bot, fake, "Amira")
    offer = _offer(await bot.send(amira, "/match"))
    assert offer is not None

    assert _offer(await bot.send(colchester, "/match")) is None
    assert _offer(await bot.send(summer, "/match")) is None
    await bot.forge(summer, bot.last(summer), offer.callback_data()[0])
    assert bot.last_answer() == "Sorry, that group isn't available right now."
    assert fake.calls_to("createChatInviteLink") == []


async def test_a_group_is_registered_only_by_staff_and_only_where_the_bot_may_invite(
    bot: BotHarness, fake: FakeTelegram, group: dict[str, Any], staff: FakeUser
) -> None:
    someone = fake.new_user("Someone")

    refused = await _in_group(bot, fake, group, someone, "/cohort E07000070 2027-02 2027-04")
    unknown = await _in_group(bot, fake, group, someone, "/nosuchcommand")
    assert refused.plain_text == unknown.plain_text  # nothing says the command exists
    not_admin = await _in_group(bot, fake, group, staff, "/cohort E07000070 2027-02 2027-04")
    assert "make me an admin of this group" in not_admin.plain_text

    await _bot_becomes(bot, fake, group, staff, invite=False)
    still_not = await _in_group(bot, fake, group, staff, "/cohort E07000070 2027-02 2027-04")
    assert "make me an admin of this group" in still_not.plain_text

    await _bot_becomes(bot, fake, group, staff, invite=True)
    unknown = await _in_group(bot, fake, group, staff, "/cohort E99999999 2027-02 2027-04")
    assert "I don't know that area" in unknown.plain_text
    backwards = await _in_group(bot, fake, group, staff, "/cohort E07000070 2027-05 2027-04")
    assert "Please give the first and last due month" in backwards.plain_text
    assert "registered" not in (await _in_group(bot, fake, group, staff, "/cohort off")).plain_text


async def test_when_telegram_refuses_a_link_the_group_stops_being_offered(
    bot: BotHarness, fake: FakeTelegram, group: dict[str, Any], staff: FakeUser
) -> None:
    await _bot_becomes(bot, fake, group, staff, invite=True)
    await _in_group(bot, fake, group, staff, "/cohort E07000070 2027-01 2027-06")
    amira = await join(bot, fake, "Amira")
    offer = _offer(await bot.send(amira, "/match"))
    assert offer is not None
    fake.fail_next(
        "createChatInviteLink",
        error_code=400,
        description="Bad Request: not enough rights to manage chat invite links",
    )

    sent = await bot.press(amira, "💬 Join Chelmsford spring bumps", message=offer)

    assert sent[-1].plain_text == "Sorry, I couldn't make a link just now. Please try again later."
    assert _offer(await bot.send(amira, "/match")) is None
