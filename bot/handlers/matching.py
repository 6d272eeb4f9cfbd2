"""Meeting other mums-to-be: /match, /mymatches, hellos, answers, safety, group links, jobs."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from telegram import (
    ChatMemberAdministrator,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotApplication, BotContext
from bot.delivery import kinds, queue, render
from bot.delivery.queue import NewDelivery
from bot.handlers.common import (
    answer,
    ask_yes_no,
    conversation,
    deliver_owed,
    fallback_message,
    guard,
    her_text,
    queue_messages,
    reply,
    sender,
    texts_for,
)
from bot.services.matching import cohorts as matching_cohorts
from bot.services.matching import introductions as intros
from bot.services.matching import news as matching_news
from bot.services.matching import outbox as matching_outbox
from bot.services.matching import suggestions as matching
from bot.services.matching.cohorts import Registration
from bot.services.matching.introductions import AnswerResult, HelloResult, Introduction, Person
from bot.services.matching.rules import MatchRules, WardNeighbours, ward_neighbours
from bot.services.matching.safety import (
    Subject,
    add_report_reason,
    block,
    report,
    subject_name,
)
from bot.services.residents import profile as residents
from bot.services.staff.accounts import Permission
from bot.texts import Catalogue, Html, catalogue
from models import OutboxKind, ResidentStatus

logger = logging.getLogger(__name__)

REPORT_REASON = 0
BOT_RIGHTS_GROUP = 1
END = ConversationHandler.END
ICEBREAKERS = 4
JOB_INTERVAL = dt.timedelta(minutes=5)

_HELLO_REFUSALS = {
    HelloResult.ALREADY_REQUESTED: "match.already_asked",
    HelloResult.ALREADY_INTRODUCED: "match.already_introduced",
    HelloResult.UNAVAILABLE: "match.unavailable",
    HelloResult.EXPIRED: "match.expired",
    HelloResult.NOT_YOURS: "match.not_yours",
    HelloResult.NOT_IN_POOL: "match.not_in_pool",
}
_ANSWER_REFUSALS = {
    AnswerResult.ALREADY_INTRODUCED: "match.already_introduced",
    AnswerResult.ALREADY_ANSWERED: "match.already_answered",
    AnswerResult.EXPIRED: "match.request_expired",
    AnswerResult.UNAVAILABLE: "match.request_unavailable",
    AnswerResult.NOT_YOURS: "match.not_yours",
    AnswerResult.NOT_IN_POOL: "match.not_in_pool",
}


def _rules(context: BotContext) -> MatchRules:
    return MatchRules.from_settings(context.settings)


def _neighbours(context: BotContext, rules: MatchRules) -> WardNeighbours:
    return ward_neighbours(context.gazetteer, rules.distance_km)


def _area(context: BotContext, ward_code: str | None) -> str:
    ward = context.gazetteer.ward(ward_code) if ward_code else None
    return f"{ward.name}, {ward.district_name}" if ward else ""


def _month(texts: Catalogue, day: dt.date | None) -> str:
    return texts.month(day) if day else ""


def _safety_row(texts: Catalogue, subject: str) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(texts("match.block_button"), callback_data=f"mt:blk:{subject}"),
        InlineKeyboardButton(texts("match.report_button"), callback_data=f"mt:rep:{subject}"),
    ]


async def _send(
    context: BotContext, chat_id: int, text: Html, markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Write to a resident's chat; None if Telegram would not deliver it (she blocked us)."""
    try:
        return await context.bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
        )
    except TelegramError as error:
        # No ids, no text: only that a matching message could not be delivered, and why.
        logger.warning("matching message not delivered: %s", type(error).__name__)
        return None


async def _edit(query_message: Any, text: Html, markup: InlineKeyboardMarkup | None) -> None:
    if not isinstance(query_message, Message):
        return
    try:
        await query_message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except TelegramError:
        # Already edited by a double tap, or too old to edit: the answer said what happened.
        logger.debug("a matching message could not be edited")


def _card(context: BotContext, texts: Catalogue, key: str, person: Any) -> Html:
    return texts(
        key,
        name=person.display_name,
        area=_area(context, person.ward_code),
        month=_month(texts, person.due_date),
    )


async def _show_suggestions(
    context: BotContext,
    chat_id: int,
    resident_id: int,
    texts: Catalogue,
    header: str,
    empty: str,
) -> None:
    """New suggestion cards (and any group chat on offer), each with its own buttons."""
    rules = _rules(context)
    async with context.session() as session, session.begin():
        suggested = await matching.suggest(
            session, resident_id, context.now(), rules, _neighbours(context, rules)
        )
        offers = await matching_cohorts.offers_for(session, resident_id)
    if not suggested:
        await _send(context, chat_id, texts(empty))
    else:
        await _send(context, chat_id, texts(header))
        shown: list[tuple[int, int]] = []
        for item in suggested:
            card = await _send(
                context,
                chat_id,
                _card(context, texts, "match.card", item.candidate),
                InlineKeyboardMarkup(
                    [
                        [
                            InlineKeyboardButton(
                                texts("match.say_hello"),
                                callback_data=f"mt:hi:{item.suggestion_id}",
                            )
                        ],
                        _safety_row(texts, f"s{item.suggestion_id}"),
                    ]
                ),
            )
            if card is not None:
                shown.append((item.suggestion_id, card.message_id))
        async with context.session() as session, session.begin():
            for suggestion_id, message_id in shown:
                await matching.record_card(session, suggestion_id, message_id)
    if offers:
        rows = [
            [
                InlineKeyboardButton(
                    texts("match.group_button", title=offer.title)[:64],
                    callback_data=f"mt:grp:{offer.group_id}",
                )
            ]
            for offer in offers
        ]
        await _send(context, chat_id, texts("match.group_offer"), InlineKeyboardMarkup(rows))


async def show_matches(update: Update, context: BotContext) -> None:
    """/match (or its button): up to three mums-to-be near her, due around the same time."""
    texts = texts_for(update, context)
    user = sender(update)
    if update.callback_query:
        await answer(update.callback_query)
    async with context.session() as session, session.begin():
        me = await intros.by_telegram(session, user.id)
        ended = await residents.pregnancy_ended_on(session, me.id) if me else None
    if me is None:
        await reply(update, texts("general.not_signed_up"))
    elif me.status is not ResidentStatus.ACTIVE:
        await reply(update, texts("match.finish_signup"))
    elif ended is not None:
        await reply(update, texts("life.match_after_loss"))
    elif not me.matching_consent:
        await reply(update, texts("match.consent_off"))
    else:
        await _show_suggestions(context, user.id, me.id, texts, "match.header", "match.none_yet")


async def _username(context: BotContext, person: Person) -> str | None:
    """Her @username if she has one, looked up now (never kept on her profile)."""
    try:
        return (await context.bot.get_chat(person.telegram_user_id)).username
    except TelegramError:
        return None


async def _contact(context: BotContext, person: Person, texts: Catalogue) -> Html:
    """Her tg://user link, with her @username when she has one (looked up now, never kept)."""
    link = texts("match.contact_link", user_id=person.telegram_user_id, name=person.display_name)
    username = await _username(context, person)
    return texts("match.contact_username", link=link, username=username) if username else link


async def _queued_introduction(
    context: BotContext, intro: Introduction, me: Person
) -> tuple[Html, str, dict[str, Any]]:
    """Her introduction as queued: the English-or-her-language text now, and how to word it
    again in her language when the engine sends it."""
    other = intro.other(me.resident_id)
    link = render.nested(
        "match.contact_link", user_id=other.telegram_user_id, name=other.display_name
    )
    username = await _username(context, other)
    contact = (
        render.nested("match.contact_username", link=link, username=username) if username else link
    )
    params = {
        "name": other.display_name,
        "contact": contact,
        "icebreaker": render.nested(f"match.icebreaker_{intro.id % ICEBREAKERS}"),
    }
    text = render.worded(catalogue(me.language_code), "match.introduced", params)
    return text, render.message_template("match.introduced"), params


def _request(context: BotContext, intro: Introduction) -> tuple[Html, InlineKeyboardMarkup]:
    """The request the other person sees: who would like to say hello, and her answers."""
    texts = catalogue(intro.recipient.language_code)
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts("match.request_yes"), callback_data=f"mt:yes:{intro.id}"
                ),
                InlineKeyboardButton(texts("match.request_no"), callback_data=f"mt:no:{intro.id}"),
            ],
            _safety_row(texts, f"i{intro.id}"),
        ]
    )
    return _card(context, texts, "match.request", intro.requester), markup


def _queued_request(context: BotContext, intro: Introduction) -> NewDelivery:
    """The request for the other person, for the engine: she did not ask to be written to.

    Worded again in her language when it is sent, buttons included.
    """
    texts = catalogue(intro.recipient.language_code)
    requester = intro.requester
    params: dict[str, Any] = {
        "name": requester.display_name,
        "area": _area(context, requester.ward_code),
        "month": render.month(requester.due_date) if requester.due_date else "",
    }
    rows = [
        [
            render.button("match.request_yes", callback_data=f"mt:yes:{intro.id}"),
            render.button("match.request_no", callback_data=f"mt:no:{intro.id}"),
        ],
        [
            render.button("match.block_button", callback_data=f"mt:blk:i{intro.id}"),
            render.button("match.report_button", callback_data=f"mt:rep:i{intro.id}"),
        ],
    ]
    buttons = [[b | {"text": str(texts(b[render.TEXT_KEY]))} for b in row] for row in rows]
    return NewDelivery(
        intro.recipient.resident_id,
        matching_outbox.request_key(intro.id, intro.created_at),
        f"{kinds.MATCH_REQUEST}:{context.today().isoformat()}",
        kinds.MATCH_REQUEST,
        render.worded(texts, "match.request", params),
        context.now(),
        buttons=buttons,
        template=render.message_template("match.request"),
        params=params,
    )


async def _show_request_again(context: BotContext, intro: Introduction) -> None:
    """/mymatches: a request waiting for her answer, shown again at her asking."""
    text, markup = _request(context, intro)
    sent = await _send(context, intro.recipient.telegram_user_id, text, markup)
    if sent is None:
        return
    async with context.session() as session, session.begin():
        matching_outbox.mention(
            session,
            intro.recipient.resident_id,
            [intro.requester.resident_id],
            OutboxKind.RETRACT_REQUEST,
            sent.message_id,
        )


async def _introduction(context: BotContext, intro: Introduction, me: Person) -> Html:
    other = intro.other(me.resident_id)
    texts = catalogue(me.language_code)
    return texts(
        "match.introduced",
        name=other.display_name,
        contact=await _contact(context, other, texts),
        icebreaker=texts(f"match.icebreaker_{intro.id % ICEBREAKERS}"),
    )


async def _introduce(context: BotContext, intro: Introduction, answered_by: int) -> None:
    """Both agreed: each gets the other's contact and an icebreaker.

    The one who just said yes sees hers at once. The other's goes through the engine, so quiet
    hours apply to it: a new contact is good news but not urgent, and the yes may come at night.
    """
    answering = (
        intro.requester if intro.requester.telegram_user_id == answered_by else intro.recipient
    )
    waiting = intro.other(answering.resident_id)
    markup = InlineKeyboardMarkup([_safety_row(catalogue(answering.language_code), f"i{intro.id}")])
    message = await _send(
        context, answering.telegram_user_id, await _introduction(context, intro, answering), markup
    )
    text, template, params = await _queued_introduction(context, intro, waiting)
    waiting_texts = catalogue(waiting.language_code)
    safety = [
        render.button(key, callback_data=f"mt:{action}:i{intro.id}")
        | {"text": str(waiting_texts(key))}
        for key, action in (("match.block_button", "blk"), ("match.report_button", "rep"))
    ]
    await queue_messages(
        context,
        [
            NewDelivery(
                waiting.resident_id,
                matching_outbox.introduction_key(intro.id),
                f"{kinds.MATCH_INTRODUCTION}:{context.today().isoformat()}",
                kinds.MATCH_INTRODUCTION,
                text,
                context.now(),
                buttons=[safety],
                template=template,
                params=params,
            )
        ],
    )
    # The queued side's message id is kept on its delivery row (see matching_outbox.take_back).
    shown = message.message_id if message else None
    async with context.session() as session, session.begin():
        await intros.record_introduction_messages(
            session,
            intro.id,
            shown if answering is intro.requester else None,
            shown if answering is intro.recipient else None,
        )


async def _refusal(context: BotContext, telegram_user_id: int, key: str) -> str:
    """Why a button no longer works; after a loss, not "turn it back on in /privacy"."""
    if key != "match.not_in_pool":
        return key
    async with context.session() as session, session.begin():
        me = await intros.by_telegram(session, telegram_user_id)
        ended = await residents.pregnancy_ended_on(session, me.id) if me else None
    return "life.matching_closed" if ended else key


async def say_hello(update: Update, context: BotContext) -> None:
    """She tapped 'Say hello' on a card: ask the other person, or introduce if she asked too."""
    query = update.callback_query
    assert query is not None and context.matches
    texts = texts_for(update, context)
    rules = _rules(context)
    async with context.session() as session, session.begin():
        hello = await intros.say_hello(
            session,
            sender(update).id,
            int(context.matches[0][1]),
            context.now(),
            rules,
            _neighbours(context, rules),
        )
        if hello.result is HelloResult.REQUESTED and hello.introduction is not None:
            # Queued with the request itself: a crash loses neither.
            request = _queued_request(context, hello.introduction)
            await queue.enqueue(session, [request], context.now())
    if hello.result not in (HelloResult.REQUESTED, HelloResult.INTRODUCED):
        key = await _refusal(context, sender(update).id, _HELLO_REFUSALS[hello.result])
        await answer(query, texts(key), alert=True)
        return
    intro = hello.introduction
    assert intro is not None
    await answer(query, texts("match.hello_sent"))
    # The card showed the other person: the one she asked, or the one who had asked her.
    other = intro.recipient if hello.result is HelloResult.REQUESTED else intro.requester
    await _edit(
        query.message,
        _card(context, texts, "match.card_said_hello", other),
        InlineKeyboardMarkup([_safety_row(texts, f"i{intro.id}")]),
    )
    if hello.result is HelloResult.REQUESTED:
        context.delivery.wake()
    else:
        await _introduce(context, intro, sender(update).id)


async def answer_request(update: Update, context: BotContext) -> None:
    """She answered a request: yes introduces both of them, no ends it kindly."""
    query = update.callback_query
    assert query is not None and context.matches
    texts = texts_for(update, context)
    accept = context.matches[0][1] == "yes"
    async with context.session() as session, session.begin():
        result = await intros.answer_request(
            session, sender(update).id, int(context.matches[0][2]), accept, context.now()
        )
    if result.result not in (AnswerResult.INTRODUCED, AnswerResult.DECLINED):
        key = await _refusal(context, sender(update).id, _ANSWER_REFUSALS[result.result])
        await answer(query, texts(key), alert=True)
        return
    intro = result.introduction
    assert intro is not None
    key = "match.request_said_yes" if accept else "match.request_said_no"
    await answer(query, None if accept else texts("match.declined"))
    await _edit(
        query.message,
        _card(context, texts, key, intro.requester),
        InlineKeyboardMarkup([_safety_row(texts, f"i{intro.id}")]),
    )
    if accept:
        await _introduce(context, intro, sender(update).id)
    else:
        await deliver_owed(context)


async def show_my_matches(update: Update, context: BotContext) -> None:
    """/mymatches: her introductions, and requests still waiting on either side."""
    texts = texts_for(update, context)
    async with context.session() as session, session.begin():
        me = await intros.by_telegram(session, sender(update).id)
        mine = await intros.my_matches(session, me.id, context.now()) if me else None
        if me is not None:
            await matching.touch(session, me.id, context.now())
    if me is None or mine is None:
        await reply(update, texts("general.not_signed_up"))
        return
    if not (mine.introduced or mine.waiting_for_them or mine.waiting_for_her):
        await reply(update, texts("match.mine.nothing"))
        return
    lines = [texts("match.mine.header")]
    if mine.introduced:
        lines.append(texts("match.mine.introduced"))
        for intro in mine.introduced:
            other = intro.other(me.id)
            link = texts(
                "match.contact_link", user_id=other.telegram_user_id, name=other.display_name
            )
            lines.append(
                texts(
                    "match.mine.introduced_line",
                    contact=link,
                    area=_area(context, other.ward_code),
                    month=_month(texts, other.due_date),
                )
            )
    if mine.waiting_for_them:
        lines.append(texts("match.mine.waiting_for_them"))
        lines += [
            _card(context, texts, "match.mine.waiting_line", i.recipient)
            for i in mine.waiting_for_them
        ]
    if mine.waiting_for_her:
        lines.append(texts("match.mine.waiting_for_you"))
    summary = await reply(update, Html("\n\n".join(lines)))
    named = [i.other(me.id).resident_id for i in mine.introduced + mine.waiting_for_them]
    if summary is not None and named:
        async with context.session() as session, session.begin():
            matching_outbox.mention(
                session, me.id, named, OutboxKind.RETRACT_LIST, summary.message_id
            )
    for intro in mine.waiting_for_her:
        await _show_request_again(context, intro)


def _subject(context: BotContext) -> tuple[Subject, int]:
    assert context.matches
    return Subject(context.matches[0][1]), int(context.matches[0][2])


async def block_person(update: Update, context: BotContext) -> None:
    """She blocked someone from a match message; the other is never told."""
    query = update.callback_query
    assert query is not None
    texts = texts_for(update, context)
    subject, subject_id = _subject(context)
    async with context.session() as session, session.begin():
        me = await intros.by_telegram(session, sender(update).id)
        done = await block(session, me.id, subject, subject_id, context.now()) if me else None
    if done is None:
        await answer(query, texts("match.not_yours"), alert=True)
        return
    await answer(query, texts("match.blocked_toast"))
    if isinstance(query.message, Message):
        try:
            # Reporting stays possible after a block.
            await query.message.edit_reply_markup(
                InlineKeyboardMarkup(
                    [
                        [
                            InlineKeyboardButton(
                                texts("match.report_button"),
                                callback_data=f"mt:rep:{subject.value}{subject_id}",
                            )
                        ]
                    ]
                )
            )
        except TelegramError:
            logger.debug("a matching message could not be edited")
    await reply(update, texts("match.blocked"))
    await deliver_owed(context)


async def _clear_markup(query_message: Any) -> None:
    if isinstance(query_message, Message):
        try:
            await query_message.edit_reply_markup(None)
        except TelegramError:
            logger.debug("a matching message could not be edited")


async def ask_report(update: Update, context: BotContext) -> None:
    """She tapped Report: nothing happens until she confirms who and what."""
    query = update.callback_query
    assert query is not None
    texts = texts_for(update, context)
    subject, subject_id = _subject(context)
    async with context.session() as session, session.begin():
        me = await intros.by_telegram(session, sender(update).id)
        name = await subject_name(session, me.id, subject, subject_id) if me else None
    if name is None:
        await answer(query, texts("match.not_yours"), alert=True)
        return
    await answer(query)
    data = f"{subject.value}{subject_id}"
    buttons = [
        InlineKeyboardButton(texts(f"match.report.{key}"), callback_data=f"mt:rep{key[0]}:{data}")
        for key in ("yes", "no")
    ]
    await ask_yes_no(
        update,
        context,
        texts("match.report.confirm", name=name),
        InlineKeyboardMarkup([buttons]),
        yes=f"mt:repy:{data}",
        no=f"mt:repn:{data}",
    )


async def cancel_report(update: Update, context: BotContext) -> None:
    """She thought better of reporting: nothing was filed or blocked."""
    query = update.callback_query
    assert query is not None
    await answer(query)
    await _clear_markup(query.message)
    await reply(update, texts_for(update, context)("match.report.cancelled"))


async def report_person(update: Update, context: BotContext) -> int:
    """She confirmed a report: kept for the moderators at once; a reason is optional."""
    query = update.callback_query
    assert query is not None
    texts = texts_for(update, context)
    subject, subject_id = _subject(context)
    async with context.session() as session, session.begin():
        me = await intros.by_telegram(session, sender(update).id)
        filed = await report(session, me.id, subject, subject_id, context.now()) if me else None
    if filed is None or filed.report_id is None:
        await answer(query, texts("match.not_yours"), alert=True)
        return END
    if filed.already:
        await answer(query, texts("match.report.already"), alert=True)
        await _clear_markup(query.message)
        return END
    await answer(query)
    await _clear_markup(query.message)
    if context.user_data is not None:
        context.user_data["match_report"] = filed.report_id
    await _ask_report_reason(update, texts, filed.report_id)
    await deliver_owed(context)
    return REPORT_REASON


async def _ask_report_reason(update: Update, texts: Catalogue, report_id: int) -> None:
    skip = InlineKeyboardButton(texts("match.report.skip"), callback_data=f"mt:rsn:{report_id}")
    await reply(update, texts("match.report.ask"), reply_markup=InlineKeyboardMarkup([[skip]]))


async def report_reason_not_text(update: Update, context: BotContext) -> int:
    """A sticker or photo while we wait for her reason: the question again, with Skip."""
    pending = context.user_data.get("match_report") if context.user_data is not None else None
    if pending is None:
        # No reason is awaited any more: answered like any message nothing waits for.
        await fallback_message(update, context)
        return END
    await _ask_report_reason(update, texts_for(update, context), int(pending))
    return REPORT_REASON


async def report_reason(update: Update, context: BotContext) -> int:
    """She typed why she reported: added to her report for the moderators."""
    reason = her_text(update)
    texts = texts_for(update, context)
    report_id = context.user_data.pop("match_report", None) if context.user_data else None
    async with context.session() as session, session.begin():
        me = await intros.by_telegram(session, sender(update).id)
        added = (
            await add_report_reason(session, me.id, int(report_id), reason, context.now())
            if me is not None and report_id is not None
            else False
        )
    await reply(update, texts("match.report.thanks" if added else "match.report.not_saved"))
    return END


async def report_skip(update: Update, context: BotContext) -> int | None:
    """She'd rather not give a reason."""
    texts = texts_for(update, context)
    query = update.callback_query
    pending = context.user_data.get("match_report") if context.user_data is not None else None
    if query is not None and query.data != f"mt:rsn:{pending}":
        # Skip only the report whose reason is asked now: another one's button (old or made
        # up) leaves her question open.
        await answer(query, texts("general.stale_button"), alert=True)
        return None
    if context.user_data is not None:
        context.user_data.pop("match_report", None)
    if query is not None:
        await answer(query)
        if isinstance(query.message, Message):
            try:
                await query.message.edit_reply_markup(None)
            except TelegramError:
                logger.debug("a matching message could not be edited")
    await reply(update, texts("match.report.thanks_no_reason"))
    return END


async def group_invite(update: Update, context: BotContext) -> None:
    """She asked for a group chat link: a single-use, expiring one, made only now."""
    query = update.callback_query
    assert query is not None and context.matches
    texts = texts_for(update, context)
    group_id = int(context.matches[0][1])
    now = context.now()
    async with context.session() as session, session.begin():
        me = await intros.by_telegram(session, sender(update).id)
        offers = await matching_cohorts.offers_for(session, me.id) if me else []
        offer = next((o for o in offers if o.group_id == group_id), None)
        link = await matching_cohorts.live_invite(session, me.id, group_id, now) if me else None
    if me is None or offer is None:
        await answer(query, texts("match.group_unavailable"), alert=True)
        return
    await answer(query)
    hours = context.settings.matching_invite_hours
    if link is None:
        expires = now + dt.timedelta(hours=hours)
        try:
            invite = await context.bot.create_chat_invite_link(
                offer.chat_id, expire_date=expires, member_limit=1, name="Bump Buddies"
            )
        except TelegramError as error:
            logger.warning("invite link refused: %s", type(error).__name__)
            async with context.session() as session, session.begin():
                await matching_cohorts.lose_invite_rights(session, group_id, now)
            await reply(update, texts("match.group_link_failed"))
            return
        link = invite.invite_link
        async with context.session() as session, session.begin():
            await matching_cohorts.save_invite(session, me.id, group_id, link, now, expires)
    await reply(update, texts("match.group_link", title=offer.title, link=link, hours=hours))


def _area_name(context: BotContext, code: str) -> str:
    ward = context.gazetteer.ward(code)
    if ward is not None:
        return f"{ward.name}, {ward.district_name}"
    district = context.gazetteer.district(code)
    return district.name if district else code


async def register_cohort(update: Update, context: BotContext) -> None:
    """/cohort in a group: staff offer it to mums-to-be in an area due in some months."""
    chat = update.effective_chat
    user = sender(update)
    texts = texts_for(update, context)
    if chat is None or chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        return
    args = context.args or []
    now = context.now()
    if await guard(update, context, Permission.COHORTS, "cohort.register") is None:
        return
    if [a.lower() for a in args] == ["off"]:
        async with context.session() as session, session.begin():
            stopped = await matching_cohorts.unregister_group(session, chat.id, now)
        await reply(
            update, texts("match.group.unregistered" if stopped else "match.group.not_registered")
        )
        return
    if len(args) != 3:
        await reply(update, texts("match.group.usage"))
        return
    first, last = matching_cohorts.parse_month(args[1]), matching_cohorts.parse_month(args[2])
    if first is None or last is None:
        await reply(update, texts("match.group.bad_months"))
        return
    area = args[0].upper()
    async with context.session() as session, session.begin():
        outcome = await matching_cohorts.register_group(
            session, chat.id, area, first, last, user.id, now, context.gazetteer
        )
    if outcome is Registration.REGISTERED:
        await reply(
            update,
            texts(
                "match.group.registered",
                area=_area_name(context, area),
                first=_month(texts, first),
                last=_month(texts, last),
            ),
        )
    else:
        await reply(update, texts(f"match.group.{outcome.value}"))


async def track_bot_rights(update: Update, context: BotContext) -> None:
    """The bot was added to, promoted in or removed from a group: note whether it may invite."""
    change = update.my_chat_member
    if change is None or change.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        return
    member = change.new_chat_member
    can_invite = isinstance(member, ChatMemberAdministrator) and bool(member.can_invite_users)
    async with context.session() as session, session.begin():
        await matching_cohorts.note_bot_rights(
            session, change.chat.id, change.chat.title or "", can_invite, context.now()
        )


async def stale_button(update: Update, context: BotContext) -> None:
    """A matching button whose data we don't recognise (forged, or from an old version)."""
    if update.callback_query:
        await answer(
            update.callback_query, texts_for(update, context)("match.not_yours"), alert=True
        )


async def send_newcomer_digests(context: BotContext) -> None:
    """At most one 'new mums near you' message per member per UK day, queued in the daytime."""
    now = context.now()
    if context.settings.quiet_hours.contains(now):
        return
    today = now.astimezone(context.settings.zone).date()
    rules = _rules(context)
    neighbours = _neighbours(context, rules)
    async with context.session() as session, session.begin():
        due = await matching_news.digests_due(session, today)
    queued = False
    for digest in due:
        # Only newcomers her /match would show her now are news: never "see your suggestions?"
        # followed by suggestions without them.
        async with context.session() as session, session.begin():
            queued = (
                await matching_news.queue_digest(session, digest, today, now, rules, neighbours)
                or queued
            )
    if queued:
        context.delivery.wake()


async def matching_job(context: BotContext) -> None:
    """Every few minutes: end unanswered requests, tidy and tell chats, send daytime digests."""
    async with context.session() as session, session.begin():
        await intros.expire_requests(session, context.now())
    await deliver_owed(context)
    await send_newcomer_digests(context)


def schedule_matching_jobs(application: BotApplication) -> None:
    """Register the recurring matching job (tests call matching_job directly instead)."""
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("python-telegram-bot's job-queue extra is required")
    job_queue.run_repeating(
        matching_job, interval=JOB_INTERVAL, first=JOB_INTERVAL, name="matching"
    )


def _report_conversation() -> ConversationHandler[Any]:
    # Buttons are tracked per chat and user on purpose; stale ones are answered explicitly.
    return conversation(
        name="matching_report",
        entry_points=[CallbackQueryHandler(report_person, pattern=r"^mt:repy:([si])(\d{1,12})$")],
        states={
            REPORT_REASON: [
                MessageHandler(
                    filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, report_reason
                ),
                CallbackQueryHandler(report_skip, pattern=r"^mt:rsn:\d{1,12}$"),
                MessageHandler(
                    filters.ChatType.PRIVATE & ~filters.TEXT & ~filters.COMMAND,
                    report_reason_not_text,
                ),
            ],
        },
        fallbacks=[CommandHandler("cancel", report_skip)],
        conversation_timeout=dt.timedelta(hours=1),
        allow_reentry=True,
    )


def matching_handlers() -> list[BaseHandler[Update, BotContext, Any]]:
    """Every matching handler, in the order they must be tried."""
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("match", show_matches, filters=private),
        CommandHandler("mymatches", show_my_matches, filters=private),
        CommandHandler("cohort", register_cohort, filters=filters.ChatType.GROUPS),
        CallbackQueryHandler(show_matches, pattern=r"^mt:find$"),
        CallbackQueryHandler(say_hello, pattern=r"^mt:hi:(\d{1,12})$"),
        CallbackQueryHandler(answer_request, pattern=r"^mt:(yes|no):(\d{1,12})$"),
        CallbackQueryHandler(block_person, pattern=r"^mt:blk:([si])(\d{1,12})$"),
        CallbackQueryHandler(ask_report, pattern=r"^mt:rep:([si])(\d{1,12})$"),
        CallbackQueryHandler(cancel_report, pattern=r"^mt:repn:([si])(\d{1,12})$"),
        _report_conversation(),
        CallbackQueryHandler(group_invite, pattern=r"^mt:grp:(\d{1,12})$"),
        CallbackQueryHandler(report_skip, pattern=r"^mt:rsn:\d{1,12}$"),
        CallbackQueryHandler(stale_button, pattern=r"^mt:"),
    ]


def bot_rights_handler() -> ChatMemberHandler[BotContext, None]:
    """Follows the bot's own membership in groups (register it in a group of its own)."""
    return ChatMemberHandler(track_bot_rights, ChatMemberHandler.MY_CHAT_MEMBER)


def register(application: BotApplication) -> None:
    """Every matching command and button, the bot's rights in cohort groups, and the job."""
    application.add_handlers(matching_handlers())
    # A group of its own: other features also follow my_chat_member (reachability).
    application.add_handler(bot_rights_handler(), group=BOT_RIGHTS_GROUP)
    schedule_matching_jobs(application)
