"""Staff roles: invitations, revocation, the audit trail, and commands only staff can see or use."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.services.staff.accounts import active_staff
from models import AuditEvent, StaffInvite, StaffMember, StaffRole
from tests.factories import make_staff, onboard
from tests.harness import BotHarness

UNKNOWN = "Sorry, I don't know that command."
STAFF_COMMANDS = (
    "/staff",
    "/audit",
    "/joinlink",
    "/mystats",
    "/broadcast",
    "/moderation",
    "/report",
)
ALLOWED = {
    StaffRole.ADMIN: set(STAFF_COMMANDS),
    StaffRole.BROADCASTER: {"/broadcast"},
    StaffRole.MIDWIFE: {"/joinlink", "/mystats"},
    StaffRole.MODERATOR: {"/moderation"},
}


async def is_admin(session: AsyncSession, telegram_user_id: int) -> bool:
    member = await active_staff(session, telegram_user_id)
    return member is not None and member.role is StaffRole.ADMIN


async def staff_user(bot: BotHarness, fake: FakeTelegram, role: StaffRole) -> FakeUser:
    user = fake.new_user(f"Staff {role.value}", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), role, user.id)
    return user


async def audit(bot: BotHarness) -> list[AuditEvent]:
    async with bot.session() as session:
        return list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def invite_payload(message_text: str) -> str:
    match = re.search(r"\?start=(staff_[A-Za-z0-9_-]+)", message_text)
    assert match, message_text
    return match.group(1)


async def invitation(bot: BotHarness, admin: FakeUser, role: str = "midwife") -> str:
    await bot.send(admin, "/staff")
    sent = await bot.press(admin, f"Invite a new {role}")
    return invite_payload(sent[-1].plain_text)


@pytest.mark.parametrize("command", STAFF_COMMANDS)
async def test_residents_and_strangers_get_the_unknown_command_reply(
    bot: BotHarness, fake: FakeTelegram, command: str
) -> None:
    resident = fake.new_user("Amira")
    await onboard(bot, resident)
    stranger = fake.new_user("Stranger")

    for user in (resident, stranger):
        sent = await bot.send(user, command)
        assert [m.plain_text for m in sent] == [
            (await bot.send(user, "/nosuchcommand"))[0].plain_text
        ]
        assert sent[0].plain_text.startswith(UNKNOWN)
    assert await audit(bot) == []  # nothing is kept about residents who tried


@pytest.mark.parametrize("role", [StaffRole.BROADCASTER, StaffRole.MIDWIFE, StaffRole.MODERATOR])
async def test_staff_of_the_wrong_role_are_refused_as_for_an_unknown_command_and_it_is_audited(
    bot: BotHarness, fake: FakeTelegram, role: StaffRole
) -> None:
    user = await staff_user(bot, fake, role)

    for command in sorted(set(STAFF_COMMANDS) - ALLOWED[role]):
        sent = await bot.send(user, command)
        assert len(sent) == 1 and sent[0].plain_text.startswith(UNKNOWN), command

    refused = [e for e in await audit(bot) if e.outcome == "refused"]
    assert len(refused) == len(set(STAFF_COMMANDS) - ALLOWED[role])
    assert {e.actor_telegram_id for e in refused} == {user.id}
    assert {e.detail for e in refused} == {f"role {role.value}"}


async def test_revoked_staff_are_refused_everything(bot: BotHarness, fake: FakeTelegram) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    async with bot.session() as session, session.begin():
        await session.execute(update(StaffMember).values(revoked_at=bot.clock.now()))

    for command in STAFF_COMMANDS:
        sent = await bot.send(admin, command)
        assert sent[0].plain_text.startswith(UNKNOWN), command
    assert {e.detail for e in await audit(bot) if e.outcome == "refused"} == {"revoked"}


async def test_each_role_can_use_its_own_commands(bot: BotHarness, fake: FakeTelegram) -> None:
    for role, commands in ALLOWED.items():
        user = await staff_user(bot, fake, role)
        for command in commands:
            sent = await bot.send(user, command)
            assert not sent[0].plain_text.startswith(UNKNOWN), (role, command)
            await bot.send(user, "/cancel")


async def test_an_admin_invites_a_midwife_with_a_single_use_link(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    payload = await invitation(bot, admin)
    newcomer = fake.new_user("Nadia")

    joined = await bot.send(newcomer, f"/start {payload}")

    assert "set up as midwife" in joined[0].plain_text
    async with bot.session() as session:
        assert await is_admin(session, newcomer.id) is False
        member = await session.scalar(
            select(StaffMember).where(StaffMember.telegram_user_id == newcomer.id)
        )
    assert member is not None and member.role is StaffRole.MIDWIFE
    menu = fake.commands_for({"type": "chat", "chat_id": newcomer.id})
    assert {c["command"] for c in menu} >= {"joinlink", "mystats", "start", "help"}
    assert "broadcast" not in {c["command"] for c in menu}
    # Residents' menu (the default scope) never shows staff commands.
    assert "joinlink" not in {c["command"] for c in fake.commands_for()}

    someone_else = fake.new_user("Mallory")
    again = await bot.send(someone_else, f"/start {payload}")
    assert "already been used" in again[0].plain_text
    async with bot.session() as session:
        assert (
            await session.scalar(
                select(StaffMember).where(StaffMember.telegram_user_id == someone_else.id)
            )
            is None
        )


async def test_an_invitation_expires_after_48_hours(bot: BotHarness, fake: FakeTelegram) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    payload = await invitation(bot, admin, "broadcaster")

    bot.clock.advance(dt.timedelta(hours=48, seconds=1))
    sent = await bot.send(fake.new_user("Late"), f"/start {payload}")

    assert "has expired" in sent[0].plain_text


async def test_a_made_up_invitation_does_nothing_and_never_starts_sign_up(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.new_user("Guesser")

    sent = await bot.send(user, "/start staff_" + "A" * 43)

    assert [m.plain_text for m in sent] == [
        "Sorry, that invitation link doesn't work. Please ask the person who sent it for a new one."
    ]
    assert (await audit(bot))[-1].actor_telegram_id is None  # a stranger stays anonymous


async def test_invitation_tokens_have_256_bits_and_only_their_hash_is_stored(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    payload = await invitation(bot, admin)
    token = payload.removeprefix("staff_")

    assert len(payload) <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", payload)
    assert len(token) >= 43  # 32 random bytes, base64url
    async with bot.app.bot_data.engine.connect() as connection:  # type: ignore[union-attr]
        stored = " ".join(
            str(value)
            for row in await connection.execute(text("SELECT * FROM staff_invites"))
            for value in row
        )
    assert token not in stored


async def test_an_invitation_from_an_admin_who_was_removed_no_longer_works(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    payload = await invitation(bot, admin)
    async with bot.session() as session, session.begin():
        await session.execute(update(StaffMember).values(revoked_at=bot.clock.now()))

    sent = await bot.send(fake.new_user("Nadia"), f"/start {payload}")

    assert "doesn't work" in sent[0].plain_text


async def test_revoking_someone_takes_access_and_the_staff_menu_away_at_once(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    midwife = fake.new_user("Nadia")
    await bot.send(midwife, f"/start {await invitation(bot, admin)}")
    async with bot.session() as session:
        number = await session.scalar(
            select(StaffMember.id).where(StaffMember.telegram_user_id == midwife.id)
        )

    await bot.send(admin, "/staff")
    await bot.press(admin, f"Remove staff access for #{number}")
    done = await bot.press(admin, "Yes, remove")

    assert f"#{number} no longer has staff access" in done[-1].plain_text
    assert fake.commands_for({"type": "chat", "chat_id": midwife.id}) == []
    assert (await bot.send(midwife, "/joinlink"))[0].plain_text.startswith(UNKNOWN)


async def test_an_admin_cannot_remove_herself(bot: BotHarness, fake: FakeTelegram) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    sent = await bot.send(admin, "/staff")
    assert not any("Remove staff access" in label for label in sent[-1].button_texts())
    async with bot.session() as session:
        me = await session.scalar(select(StaffMember.id))

    await bot.forge(admin, sent[-1], f"st:rvy:{me}")

    assert "already been removed" in (bot.last_answer() or "")
    async with bot.session() as session:
        assert await is_admin(session, admin.id)


async def test_forged_staff_buttons_from_non_admins_do_nothing_and_say_nothing(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    midwife = await staff_user(bot, fake, StaffRole.MIDWIFE)
    resident = fake.new_user("Amira")
    await onboard(bot, resident)
    mine = bot.last(resident)

    for user, message in ((resident, mine), (midwife, (await bot.send(midwife, "/mystats"))[-1])):
        for data in ("st:inv:admin", "st:rvy:1", "st:rv:1"):
            await bot.forge(user, message, data)
            assert bot.last_answer() == "That button has expired. Send /start to carry on."
    async with bot.session() as session:
        assert await session.scalar(select(StaffInvite)) is None
        assert await is_admin(session, admin.id)


async def test_the_audit_trail_is_exported_as_csv_and_the_database_refuses_changes(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    await invitation(bot, admin)

    sent = await bot.send(admin, "/audit")

    assert sent[-1].document is not None
    rows = list(csv.DictReader(io.StringIO(sent[-1].document[1].decode("utf-8"))))
    assert [r["action"] for r in rows] == ["staff.add", "staff.invite", "audit.export"]
    assert {"id", "at", "actor_telegram_id", "actor_role", "action", "target", "outcome"} <= set(
        rows[0]
    )
    for statement in (update(AuditEvent).values(outcome="ok"), delete(AuditEvent)):
        with pytest.raises((IntegrityError, DBAPIError)):
            async with bot.session() as session, session.begin():
                await session.execute(statement)
    assert len(await audit(bot)) == len(rows)


async def test_only_current_admins_count_as_admins(bot: BotHarness, fake: FakeTelegram) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    others = [await staff_user(bot, fake, role) for role in ALLOWED if role is not StaffRole.ADMIN]
    async with bot.session() as session:
        assert await is_admin(session, admin.id)
        for user in [*others, fake.new_user("Nobody")]:
            assert not await is_admin(session, user.id)


async def test_staff_of_the_wrong_role_are_refused_a_cohort_group_like_an_unknown_command(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    midwife = await staff_user(bot, fake, StaffRole.MIDWIFE)
    group = fake.new_group("Chelmsford spring bumps")

    await bot.app.process_update(
        Update.de_json(
            fake.send_message(midwife, "/cohort E07000070 2027-02 2027-04", chat=group["id"]),
            bot.app.bot,
        )
    )

    assert fake.messages(group["id"])[-1].plain_text.startswith(UNKNOWN)
    [refused] = [e for e in await audit(bot) if e.outcome == "refused"]
    assert refused.action == "cohort.register" and refused.actor_telegram_id == midwife.id


async def test_discarding_a_broadcast_draft_is_audited(bot: BotHarness, fake: FakeTelegram) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    await bot.send(admin, "/broadcast")
    await bot.send(admin, "The Chelmsford baby group moves to Thursdays.")

    await bot.press(admin, "Discard draft")

    assert [e.action for e in await audit(bot)][-2:] == ["broadcast.draft", "broadcast.discard"]


HELP_BY_ROLE = {
    StaffRole.ADMIN: (
        "/staff",
        "/audit",
        "/joinlink",
        "/mystats",
        "/broadcast",
        "/scheduled",
        "/moderation",
        "/report",
        "/cohort",
    ),
    StaffRole.BROADCASTER: ("/broadcast", "/scheduled"),
    StaffRole.MIDWIFE: ("/joinlink", "/mystats"),
    StaffRole.MODERATOR: ("/moderation", "/cohort"),
}
EVERY_STAFF_COMMAND = set(HELP_BY_ROLE[StaffRole.ADMIN])


@pytest.mark.parametrize("role", list(StaffRole))
async def test_staff_help_lists_the_commands_her_role_allows_then_the_usual_help(
    bot: BotHarness, fake: FakeTelegram, role: StaffRole
) -> None:
    member = await staff_user(bot, fake, role)
    resident = fake.new_user("Amira")
    await onboard(bot, resident)
    [usual] = await bot.send(resident, "/help")

    staff_help, *rest = await bot.send(member, "/help")

    listed = [line.split(" ")[0] for line in staff_help.plain_text.splitlines()]
    shown = [name for name in listed if name in EVERY_STAFF_COMMAND]
    assert shown == list(HELP_BY_ROLE[role])
    assert f"(role: {role.value})" in staff_help.plain_text
    assert [m.plain_text for m in rest] == [usual.plain_text]


async def test_residents_and_revoked_staff_get_only_the_usual_help(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    gone = await staff_user(bot, fake, StaffRole.BROADCASTER)
    resident = fake.new_user("Amira")
    await onboard(bot, resident)
    async with bot.session() as session, session.begin():
        members = {m.telegram_user_id: m for m in await session.scalars(select(StaffMember))}
    await bot.send(admin, "/staff")
    await bot.press(admin, f"Remove staff access for #{members[gone.id].id}")
    await bot.press(admin, "Yes, remove")

    [usual] = await bot.send(resident, "/help")
    assert [m.plain_text for m in await bot.send(gone, "/help")] == [usual.plain_text]
    assert "/broadcast" not in usual.plain_text and "staff" not in usual.plain_text.lower()


async def test_anyone_can_ask_for_her_own_telegram_id_to_give_to_an_admin(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    stranger = fake.new_user("Nadia")
    resident = fake.new_user("Amira")
    await onboard(bot, resident)

    for person in (stranger, resident):
        sent = await bot.send(person, "/myid")
        assert [m.chat_id for m in sent] == [person.id]
        assert f"Your Telegram user id is {person.id}." in sent[-1].plain_text
        assert str(stranger.id if person is resident else resident.id) not in sent[-1].plain_text
    assert await audit(bot) == []
