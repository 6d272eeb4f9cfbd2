"""/joinlink (a link and QR poster for a clinic or team) and /mystats (sign-ups per link)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.handlers.common import (
    answer,
    clear_buttons,
    conversation,
    fallback_message,
    guard,
    reply,
    texts_for,
)
from bot.services.reports.protection import indistinguishable
from bot.services.staff import join_links
from bot.services.staff.accounts import Permission
from bot.services.staff.poster import poster_text, render_poster
from bot.texts import Catalogue, Html, long_date

CLINIC, DISTRICT = range(2)
END = ConversationHandler.END
_CLINIC_KEY = "joinlink_clinic"


async def ask_clinic(update: Update, context: BotContext) -> int:
    """/joinlink: start making a link for a clinic or team."""
    if await guard(update, context, Permission.JOIN_LINKS, "joinlink.start") is None:
        return END
    await reply(update, texts_for(update, context)("joinlink.ask_clinic"))
    return CLINIC


async def clinic_given(update: Update, context: BotContext) -> int:
    """She named the clinic: ask which district it serves (or none in particular)."""
    texts = texts_for(update, context)
    message = update.effective_message
    clinic = join_links.clean_clinic(message.text or "") if message else None
    if clinic is None:
        await reply(update, texts("joinlink.clinic_invalid", max=join_links.CLINIC_MAX))
        return CLINIC
    if context.user_data is not None:
        context.user_data[_CLINIC_KEY] = clinic
    await _ask_district(update, context, clinic)
    return DISTRICT


async def _ask_district(update: Update, context: BotContext, clinic: str) -> None:
    texts = texts_for(update, context)
    districts = context.gazetteer.districts()
    buttons = [InlineKeyboardButton(d.name, callback_data=f"jl:d:{d.code}") for d in districts]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(texts("joinlink.any_district"), callback_data="jl:d:none")])
    await reply(
        update,
        texts("joinlink.ask_district", clinic=clinic),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def clinic_not_text(update: Update, context: BotContext) -> int:
    """A sticker or photo where the clinic's name is wanted: the question again."""
    await reply(update, texts_for(update, context)("joinlink.ask_clinic"))
    return CLINIC


async def district_not_chosen(update: Update, context: BotContext) -> int:
    """Anything but a district button while one is wanted: the buttons again."""
    clinic = (context.user_data or {}).get(_CLINIC_KEY)
    if clinic is None:
        # No link is being made any more: answered like any message nothing waits for.
        await fallback_message(update, context)
        return END
    await _ask_district(update, context, str(clinic))
    return DISTRICT


async def district_chosen(update: Update, context: BotContext) -> int:
    """She chose the district: make the link and send it with its poster."""
    query = update.callback_query
    assert query is not None and query.data is not None
    member = await guard(update, context, Permission.JOIN_LINKS, "joinlink.create")
    if member is None:
        return END
    texts = texts_for(update, context)
    clinic = (context.user_data or {}).get(_CLINIC_KEY)
    code = query.data.removeprefix("jl:d:")
    district = context.gazetteer.district(code) if code != "none" else None
    if clinic is None or (code != "none" and district is None):
        await answer(query, texts("general.stale_button"), alert=True)
        return DISTRICT if clinic else END
    await answer(query)
    await clear_buttons(query)
    async with context.session() as session, session.begin():
        link = await join_links.create_join_link(
            session, clinic, district.code if district else None, context.now(), member
        )
    if context.user_data is not None:
        context.user_data.pop(_CLINIC_KEY, None)
    url = join_links.deep_link(context.bot.username, link.code)
    settings = context.settings
    poster = render_poster(
        url, poster_text("en", settings.council_name, link.clinic, settings.council_logo_path)
    )
    await reply(
        update,
        texts(
            "joinlink.created",
            clinic=link.clinic,
            url=url,
            district=district.name if district else texts("joinlink.no_district"),
        ),
    )
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(
        InputFile(poster.png, filename=f"bump-buddies-{link.code}.png"),
        caption=texts("joinlink.poster_caption", clinic=link.clinic),
        parse_mode="HTML",
    )
    await chat.send_document(
        InputFile(poster.pdf, filename=f"bump-buddies-{link.code}.pdf"),
        caption=texts("joinlink.poster_pdf_caption", clinic=link.clinic),
        parse_mode="HTML",
    )
    return END


async def cancel(update: Update, context: BotContext) -> int:
    """/cancel while making a link."""
    if context.user_data is not None:
        context.user_data.pop(_CLINIC_KEY, None)
    await reply(update, texts_for(update, context)("joinlink.cancelled"))
    return END


def joinlink_conversation() -> ConversationHandler[Any]:
    """/joinlink as a short conversation: clinic name, then district."""
    # Buttons are tracked per chat and user on purpose: each press is checked against the
    # database (owner, revision), so PTB's per_message tracking is not needed.
    return conversation(
        name="joinlink",
        entry_points=[
            CommandHandler("joinlink", ask_clinic, filters=filters.ChatType.PRIVATE),
        ],
        states={
            CLINIC: [
                MessageHandler(filters.TEXT & ~filters.COMMAND, clinic_given),
                MessageHandler(~filters.COMMAND, clinic_not_text),
            ],
            DISTRICT: [
                CallbackQueryHandler(district_chosen, pattern=r"^jl:d:"),
                MessageHandler(~filters.COMMAND, district_not_chosen),
            ],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
    )


def _stats_line(texts: Catalogue, counts: join_links.LinkCounts, zone: dt.tzinfo) -> Html:
    months = " · ".join(
        f"{dt.date.fromisoformat(month + '-01'):%b} {count}"
        for month, count in counts.by_month.items()
    )
    link = counts.link
    stopped = (
        "\n" + texts("joinlink.stopped_on", date=long_date(link.revoked_at.astimezone(zone).date()))
        if link.revoked_at
        else ""
    )
    return texts(
        "joinlink.stats_line",
        clinic=link.clinic,
        code=link.code,
        total=counts.total,
        months=months,
        stopped=Html(stopped),
    )


async def show_stats(update: Update, context: BotContext) -> None:
    """/mystats: sign-ups through her links (all links for an admin), numbers only."""
    member = await guard(update, context, Permission.JOIN_LINKS, "joinlink.stats")
    if member is None:
        return
    texts = texts_for(update, context)
    base = context.settings.report_rounding_base
    async with context.session() as session:
        links = await join_links.visible_links(session, member)
        counts = await join_links.link_counts(
            session, links, context.today(), context.settings.zone, base
        )
    if not counts:
        await reply(update, texts("joinlink.no_links"))
        return
    lines = [_stats_line(texts, item, context.settings.zone) for item in counts]
    rows = [
        [
            InlineKeyboardButton(
                texts("joinlink.revoke_button", clinic=item.link.clinic[:40]),
                callback_data=f"jl:rv:{item.link.id}",
            )
        ]
        for item in counts
        if item.link.revoked_at is None
    ]
    await reply(
        update,
        texts(
            "joinlink.stats",
            lines=Html("\n\n".join(lines)),
            base=base,
            zero_up_to=indistinguishable(0, base)[-1],
        ),
        reply_markup=InlineKeyboardMarkup(rows) if rows else None,
    )


async def revoke_link(update: Update, context: BotContext) -> None:
    """She stopped counting sign-ups for one of her links."""
    query = update.callback_query
    assert query is not None and query.data is not None
    member = await guard(update, context, Permission.JOIN_LINKS, "joinlink.revoke")
    if member is None:
        return
    texts = texts_for(update, context)
    link_id = query.data.removeprefix("jl:rv:")
    if not link_id.isdigit():
        await answer(query, texts("general.bad_button"), alert=True)
        return
    async with context.session() as session, session.begin():
        link = await join_links.revoke_join_link(session, int(link_id), context.now(), member)
    if link is None:
        await answer(query, texts("joinlink.revoke_stale"), alert=True)
        return
    await answer(query, texts("joinlink.revoked", clinic=link.clinic), alert=True)
    await reply(update, texts("joinlink.revoked", clinic=link.clinic))
