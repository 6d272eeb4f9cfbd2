"""/moderation: residents' reports about matches, and a moderator's decisions on them."""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.delivery import render
from bot.handlers.common import answer, clear_buttons, guard, reply, texts_for
from bot.services.staff import moderation as staff_moderation
from bot.services.staff.accounts import Permission, actor
from bot.services.staff.audit import record
from bot.texts import catalogue, long_date
from models import ModerationAction

logger = logging.getLogger(__name__)

_DATA = re.compile(r"md:(\d{1,9}):(warn|suspend|dismiss)")


async def show_reports(update: Update, context: BotContext) -> None:
    """/moderation: the oldest reports still waiting, each with its actions."""
    member = await guard(update, context, Permission.MODERATE, "moderation.list")
    if member is None:
        return
    texts = texts_for(update, context)
    async with context.session() as session, session.begin():
        reports = await staff_moderation.open_reports(session)
        # Reports show residents' names and words: who looked, and when, is kept.
        shown = ",".join(str(r.report_id) for r in reports) or None
        record(session, context.now(), actor(member), "moderation.list", shown, "ok")
    if not reports:
        await reply(update, texts("moderation.none"))
        return
    zone = context.settings.zone
    for report in reports:
        text = texts(
            "moderation.report",
            number=report.report_id,
            date=long_date(report.created_at.astimezone(zone).date()),
            name=report.reported_name or texts("moderation.no_name"),
            reason=report.reason or texts("moderation.no_reason"),
            reports=report.reports_against,
            warnings=report.earlier_warnings,
            suspended=texts("moderation.yes" if report.suspended else "moderation.no"),
        )
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts(f"moderation.{action}"),
                        callback_data=f"md:{report.report_id}:{action}",
                    )
                    for action in ("warn", "suspend", "dismiss")
                ]
            ]
        )
        await reply(update, text, reply_markup=markup)


async def decide(update: Update, context: BotContext) -> None:
    """A moderator decided on a report: record it, and warn her if that was the decision."""
    query = update.callback_query
    assert query is not None and query.data is not None
    member = await guard(update, context, Permission.MODERATE, "moderation.decide")
    if member is None:
        return
    texts = texts_for(update, context)
    match = _DATA.fullmatch(query.data)
    if match is None:
        await answer(query, texts("general.bad_button"), alert=True)
        return
    report_id, action = int(match[1]), ModerationAction(match[2])
    queued = False
    async with context.session() as session, session.begin():
        decided = await staff_moderation.decide(session, member, report_id, action, context.now())
        if decided is not None and action in (ModerationAction.WARN, ModerationAction.SUSPEND):
            # Queued, not sent now: the delivery engine sends it by day, days after the report.
            key = f"moderation.notice_{action.value}"
            contact = {
                "email": context.settings.council_contact_email,
                "phone": context.settings.council_contact_phone,
            }
            notice = catalogue(decided.language_code)(key, **contact)
            await staff_moderation.queue_notice(
                session,
                decided,
                notice,
                context.now(),
                template=render.message_template(key),
                params=render.encode_params(**contact),
            )
            queued = True
    if decided is None:
        await answer(query, texts("moderation.already"), alert=True)
        return
    if queued:
        context.delivery.wake()
    await answer(query, texts(f"moderation.done_{action.value}"))
    await clear_buttons(query)
    await reply(update, texts(f"moderation.done_{action.value}"))
