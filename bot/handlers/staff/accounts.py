"""Staff: joining by invitation, /staff (invite, revoke), /audit, and per-person command menus.

Every staff command and button first asks `guard()`: anyone who may not use it gets exactly what
an unknown command (or an expired button) gets, so nothing reveals that staff commands exist.
"""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.error import TelegramError

from bot.context import BotContext
from bot.handlers.common import answer, ask_yes_no, clear_buttons, guard, reply, sender, texts_for
from bot.services.local_info.content import loaded_digest
from bot.services.staff import accounts as staff_service
from bot.services.staff.accounts import ALLOWED, InviteRefused, Permission
from bot.services.staff.audit import audit_csv, audit_events, record
from bot.texts import Catalogue, Html, catalogue, long_date
from models import StaffMember, StaffRole

logger = logging.getLogger(__name__)

STAFF_COMMANDS: dict[StaffRole, tuple[str, ...]] = {
    StaffRole.ADMIN: (
        "staff",
        "audit",
        "joinlink",
        "mystats",
        "broadcast",
        "scheduled",
        "moderation",
        "report",
    ),
    StaffRole.BROADCASTER: ("broadcast", "scheduled"),
    StaffRole.MIDWIFE: ("joinlink", "mystats"),
    StaffRole.MODERATOR: ("moderation",),
}
# Commands staff use in group chats rather than here: listed in their /help, not their menu.
GROUP_COMMANDS: dict[Permission, tuple[str, ...]] = {Permission.COHORTS: ("cohort",)}
_INVITABLE = (StaffRole.MIDWIFE, StaffRole.BROADCASTER, StaffRole.MODERATOR, StaffRole.ADMIN)


async def sync_commands(context_bot: Bot, member: StaffMember) -> None:
    """Show a member her staff commands (in her chat only); a revoked member sees the usual."""
    scope = BotCommandScopeChat(member.telegram_user_id)
    texts = catalogue("en")  # staff commands are in English
    try:
        if member.revoked_at is not None:
            await context_bot.delete_my_commands(scope=scope)
            return
        usual = list(await context_bot.get_my_commands())
        extra = [
            BotCommand(name, texts(f"staff.command_{name}")) for name in STAFF_COMMANDS[member.role]
        ]
        await context_bot.set_my_commands(usual + extra, scope=scope)
    except TelegramError:
        # The menu is a convenience; the commands themselves check the role every time.
        logger.warning("could not update a staff member's command menu")


async def sync_all_commands(context_bot: Bot, members: list[StaffMember]) -> None:
    """At start-up: everyone's menu matches the staff table (the CLI may have changed it)."""
    for member in members:
        await sync_commands(context_bot, member)


def staff_help(texts: Catalogue, member: StaffMember) -> Html:
    """Her staff commands, as her role allows them, each with what it does."""
    names = list(STAFF_COMMANDS[member.role])
    names += [
        name
        for permission, commands in GROUP_COMMANDS.items()
        if member.role in ALLOWED[permission]
        for name in commands
    ]
    lines = "\n".join(texts(f"staff.help_{name}") for name in names)
    return texts("staff.help", role=texts(f"staff.role_{member.role.value}"), lines=Html(lines))


async def show_staff_help(update: Update, context: BotContext) -> None:
    """/help from current staff: their staff commands first; the usual help follows as for all."""
    async with context.session() as session:
        member = await staff_service.active_staff(session, sender(update).id)
    if member is not None:
        await reply(update, staff_help(texts_for(update, context), member))


async def join_as_staff(update: Update, context: BotContext) -> None:
    """/start staff_<token>: use an invitation."""
    user = sender(update)
    texts = texts_for(update, context)
    payload = (context.args or [""])[0]
    async with context.session() as session, session.begin():
        outcome = await staff_service.accept_invite(session, payload, user.id, context.now())
    if isinstance(outcome, InviteRefused):
        await reply(update, texts(f"staff.invite_{outcome.value}"))
        return
    await sync_commands(context.bot, outcome)
    await reply(
        update,
        texts(
            "staff.joined",
            role=texts(f"staff.role_{outcome.role.value}"),
            commands=" ".join(f"/{name}" for name in STAFF_COMMANDS[outcome.role]),
        ),
    )


def _staff_card(
    texts: Catalogue, members: list[StaffMember], me: StaffMember
) -> tuple[Html, InlineKeyboardMarkup]:
    lines = []
    rows = [
        [
            InlineKeyboardButton(
                texts("staff.invite_button", role=texts(f"staff.role_{role.value}")),
                callback_data=f"st:inv:{role.value}",
            )
        ]
        for role in _INVITABLE
    ]
    for member in members:
        state = (
            texts("staff.revoked_on", date=long_date(member.revoked_at.date()))
            if member.revoked_at
            else texts("staff.current")
        )
        lines.append(
            texts(
                "staff.line",
                number=member.id,
                role=texts(f"staff.role_{member.role.value}"),
                state=state,
            )
        )
        if member.revoked_at is None and member.id != me.id:
            rows.append(
                [
                    InlineKeyboardButton(
                        texts("staff.revoke_button", number=member.id),
                        callback_data=f"st:rv:{member.id}",
                    )
                ]
            )
    return texts("staff.list", lines=Html("\n".join(lines))), InlineKeyboardMarkup(rows)


async def show_staff(update: Update, context: BotContext) -> None:
    """/staff (admins): who is staff, invitations and revocation."""
    me = await guard(update, context, Permission.MANAGE_STAFF, "staff.list")
    if me is None:
        return
    async with context.session() as session, session.begin():
        members = await staff_service.list_staff(session)
        content_loaded = await loaded_digest(session) is not None
    texts = texts_for(update, context)
    text, markup = _staff_card(texts, members, me)
    if not content_loaded:
        text = Html(f"{text}\n\n{texts('staff.no_content')}")
    await reply(update, text, reply_markup=markup)


async def invite(update: Update, context: BotContext) -> None:
    """An admin pressed "Invite a …": a single-use link, valid for 48 hours."""
    query = update.callback_query
    assert query is not None and query.data is not None
    me = await guard(update, context, Permission.MANAGE_STAFF, "staff.invite")
    if me is None:
        return
    texts = texts_for(update, context)
    role = next((r for r in StaffRole if f"st:inv:{r.value}" == query.data), None)
    if role is None:
        await answer(query, texts("general.bad_button"), alert=True)
        return
    async with context.session() as session, session.begin():
        payload = await staff_service.create_invite(session, me, role, context.now())
    await answer(query)
    expires = (context.now() + staff_service.INVITE_LIFETIME).astimezone(context.settings.zone)
    await reply(
        update,
        texts(
            "staff.invite_link",
            role=texts(f"staff.role_{role.value}"),
            link=f"https://t.me/{context.bot.username}?start={payload}",
            expires=f"{expires:%H:%M} on {long_date(expires.date())}",
        ),
    )


async def ask_revoke(update: Update, context: BotContext) -> None:
    """An admin pressed "Remove staff access": ask once more."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await guard(update, context, Permission.MANAGE_STAFF, "staff.revoke") is None:
        return
    texts = texts_for(update, context)
    number = query.data.rsplit(":", 1)[1]
    await answer(query)
    await ask_yes_no(
        update,
        context,
        texts("staff.revoke_confirm", number=number),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts("staff.revoke_yes"), callback_data=f"st:rvy:{number}"
                    ),
                    InlineKeyboardButton(texts("staff.revoke_no"), callback_data="st:rvn"),
                ]
            ]
        ),
        yes=f"st:rvy:{number}",
        no="st:rvn",
    )


async def revoke(update: Update, context: BotContext) -> None:
    """The admin confirmed: access goes at once, and so does her staff menu."""
    query = update.callback_query
    assert query is not None and query.data is not None
    me = await guard(update, context, Permission.MANAGE_STAFF, "staff.revoke")
    if me is None:
        return
    texts = texts_for(update, context)
    if query.data == "st:rvn":
        await answer(query, texts("staff.revoke_kept"))
        await clear_buttons(query)
        return
    async with context.session() as session, session.begin():
        revoked = await staff_service.revoke_staff(
            session, me, int(query.data.rsplit(":", 1)[1]), context.now()
        )
    await clear_buttons(query)
    if revoked is None:
        await answer(query, texts("staff.revoke_stale"), alert=True)
        return
    await answer(query)
    await sync_commands(context.bot, revoked)
    await reply(update, texts("staff.revoke_done", number=revoked.id))


async def send_audit(update: Update, context: BotContext) -> None:
    """/audit (admins): the whole audit trail as CSV."""
    me = await guard(update, context, Permission.MANAGE_STAFF, "audit.export")
    if me is None or update.effective_chat is None:
        return
    async with context.session() as session, session.begin():
        record(session, context.now(), staff_service.actor(me), "audit.export", None, "ok")
    async with context.session() as session:
        content = audit_csv(await audit_events(session))
    texts = texts_for(update, context)
    await update.effective_chat.send_document(
        InputFile(content.encode("utf-8"), filename=texts.raw("staff.audit_filename")),
        caption=texts("staff.audit_caption"),
        parse_mode="HTML",
    )
