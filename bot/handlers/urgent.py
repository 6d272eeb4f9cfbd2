"""Urgent-help signposting: /help lists who to call, and worrying messages get an instant reply."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.handlers.common import reply, sender, texts_for
from bot.services.content import ContentSet, Helpline, TriageUnit
from bot.services.residents import find_resident
from bot.services.urgent_help import CallList, urgent_groups, who_to_call
from bot.texts import Catalogue, Html


def _helpline(texts: Catalogue, line: Helpline | TriageUnit) -> Html:
    if line.note:
        return texts("urgent.number_with_note", name=line.name, phone=line.phone, note=line.note)
    return texts("urgent.number", name=line.name, phone=line.phone)


def _triage_lines(texts: Catalogue, content: ContentSet, unit: TriageUnit | None) -> list[Html]:
    if unit is not None:
        return [_helpline(texts, unit)]
    # Her area is unknown (not signed up yet): every unit, so she can find hers.
    return [texts("urgent.triage_unknown"), texts("urgent.all_triage")] + [
        _helpline(texts, u) for u in content.triage
    ]


def numbers_block(texts: Catalogue, content: ContentSet, calls: CallList) -> Html:
    """The numbers to call, her maternity triage line first when it is wanted."""
    lines = _triage_lines(texts, content, calls.triage) if calls.wants_triage else []
    lines += [_helpline(texts, h) for h in calls.helplines]
    return Html("\n".join(lines))


async def _district(context: BotContext, update: Update) -> str | None:
    async with context.session() as session, session.begin():
        resident = await find_resident(session, sender(update).id)
        return resident.district_code if resident else None


async def spot_urgent(update: Update, context: BotContext) -> None:
    """Reply at once to a message mentioning urgent symptoms; the update then carries on."""
    message = update.effective_message
    content = context.content
    if message is None or not message.text or content is None:
        return
    # Her words are only matched, never logged or stored.
    groups = urgent_groups(content, message.text)
    if not groups:
        return
    texts = texts_for(update)
    calls = who_to_call(content, groups, await _district(context, update))
    await reply(
        update,
        texts(
            "urgent.reply", message=groups[0].message, numbers=numbers_block(texts, content, calls)
        ),
    )


async def show_help(update: Update, context: BotContext) -> None:
    """/help: what the bot can do, then 999, NHS 111 and her own maternity triage line."""
    texts = texts_for(update)
    content = context.content
    if content is None:
        numbers = texts("urgent.fallback_numbers")
    else:
        district = await _district(context, update)
        helplines = tuple(h for h in (content.helpline(i) for i in content.help_shows) if h)
        numbers = numbers_block(
            texts, content, CallList(helplines, content.triage_for(district), wants_triage=True)
        )
    await reply(
        update,
        Html(f"{texts('general.help')}\n\n{texts('urgent.help_heading')}\n{numbers}"),
    )
