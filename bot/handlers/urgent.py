"""Urgent-help signposting: /help lists who to call, and worrying messages get an instant reply."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Update
from telegram.ext import ApplicationHandlerStop, MessageHandler, filters

from bot.context import BotApplication, BotContext
from bot.handlers.common import PendingQuestion, ask_pending_again, reply, sender, texts_for
from bot.services.local_info.content import Helpline, TriageUnit
from bot.services.residents.profile import find_resident
from bot.services.urgent.help import CallList, UrgentRules, rules_for, who_to_call
from bot.texts import Catalogue, Html

EMERGENCY = "emergency"
# Before every other handler (group -1 checks buttons, which an urgent message never is).
URGENT_GROUP = -2


def _helpline(texts: Catalogue, line: Helpline | TriageUnit) -> Html:
    if line.note:
        return texts("urgent.number_with_note", name=line.name, phone=line.phone, note=line.note)
    return texts("urgent.number", name=line.name, phone=line.phone)


def _triage_lines(texts: Catalogue, rules: UrgentRules, unit: TriageUnit | None) -> list[Html]:
    if unit is not None:
        return [_helpline(texts, unit)]
    if not rules.triage:
        # No local numbers loaded: the built-in advice still tells her who to call.
        return [texts("urgent.triage_unknown")]
    # Her area is unknown (not signed up yet): every unit, so she can find hers.
    return [texts("urgent.triage_unknown"), texts("urgent.all_triage")] + [
        _helpline(texts, u) for u in rules.triage
    ]


def numbers_block(texts: Catalogue, rules: UrgentRules, calls: CallList) -> Html:
    """The numbers to call: 999 first, then her maternity unit, then the other helplines.

    999 always leads, so a placeholder (SAMPLE) triage number can never come before it.
    """
    first = [h for h in calls.helplines if h.id == EMERGENCY]
    rest = [h for h in calls.helplines if h.id != EMERGENCY]
    lines = [_helpline(texts, h) for h in first]
    if calls.wants_triage:
        lines += _triage_lines(texts, rules, calls.triage)
    lines += [_helpline(texts, h) for h in rest]
    return Html("\n".join(lines))


async def _district(context: BotContext, update: Update) -> str | None:
    async with context.session() as session, session.begin():
        resident = await find_resident(session, sender(update).id)
        return resident.district_code if resident else None


class UrgentSpotter:
    """Answers a worrying message at once, then any pending question again; nothing else runs."""

    def __init__(self, pending: Sequence[PendingQuestion]) -> None:
        self.pending = tuple(pending)

    async def __call__(self, update: Update, context: BotContext) -> None:
        """Reply with who to call; the message is then handled: no fallback, no flow step."""
        message = update.effective_message
        # A photo's caption counts too: "is this normal?" under a picture of blood.
        text = message.text or message.caption if message is not None else None
        if not text:
            return
        texts = texts_for(update, context)
        # Her language's phrases beside English's, and the reply in her language.
        rules = rules_for(context.content, texts.language)
        # Her words are only matched, never logged or stored.
        groups = rules.groups_in(text)
        if not groups:
            return
        calls = who_to_call(rules, groups, await _district(context, update))
        await reply(
            update,
            texts(
                "urgent.reply",
                message=groups[0].message,
                numbers=numbers_block(texts, rules, calls),
            ),
        )
        await ask_pending_again(update, context, self.pending)
        raise ApplicationHandlerStop


async def show_help(update: Update, context: BotContext) -> None:
    """/help: what the bot can do, then 999, NHS 111 and her own maternity triage line."""
    texts = texts_for(update, context)
    rules = rules_for(context.content, texts.language)
    helplines = tuple(h for h in (rules.helpline(i) for i in rules.help_shows) if h)
    district = await _district(context, update)
    numbers = numbers_block(
        texts, rules, CallList(helplines, rules.triage_for(district), wants_triage=True)
    )
    await reply(
        update,
        Html(f"{texts('general.help')}\n\n{texts('urgent.help_heading')}\n{numbers}"),
    )


def register(application: BotApplication, pending: Sequence[PendingQuestion]) -> None:
    """The urgent-message check, ahead of every flow; `pending` are the flows it asks again for."""
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & (filters.TEXT | filters.CAPTION) & ~filters.COMMAND,
            UrgentSpotter(pending),
        ),
        group=URGENT_GROUP,
    )
