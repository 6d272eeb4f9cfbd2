"""/feedback, the feedback questions we ask at moments that matter, and the job that sends them."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    CallbackQueryHandler,
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
    clear_buttons,
    consent_evidence,
    conversation,
    her_text,
    reply,
    sender,
    texts_for,
)
from bot.services import feedback
from bot.services.residents.profile import NotSignedUp
from bot.texts import Catalogue, catalogue
from models import Loneliness

logger = logging.getLogger(__name__)

RATING, LONELINESS, COMMENT = range(3)
END = ConversationHandler.END

DRAFT = "feedback"
PROMPT_INTERVAL = dt.timedelta(hours=1)
# Not at start-up: a restart (or a test) should not set off a round of questions at once.
PROMPT_FIRST_RUN = dt.timedelta(minutes=5)

_LONELINESS_CODES = {
    "often": Loneliness.OFTEN_OR_ALWAYS,
    "some": Loneliness.SOME_OF_THE_TIME,
    "occ": Loneliness.OCCASIONALLY,
    "hardly": Loneliness.HARDLY_EVER,
    "never": Loneliness.NEVER,
}
# Answers after which she is pointed to support as well as thanked.
_SIGNPOST = {Loneliness.OFTEN_OR_ALWAYS, Loneliness.SOME_OF_THE_TIME}


def _draft(context: BotContext) -> dict[str, Any]:
    """This conversation's working state: which buttons are current, and what she rated."""
    if context.user_data is None:
        return {}
    draft: dict[str, Any] = context.user_data.setdefault(DRAFT, {})
    return draft


def _new_draft(context: BotContext, service: str | None, response_id: int | None) -> str:
    # A fresh nonce per conversation: buttons from an older one no longer match.
    nonce = secrets.token_hex(4)
    if context.user_data is not None:
        context.user_data[DRAFT] = {
            "nonce": nonce,
            "service": service,
            "response_id": response_id,
        }
    return nonce


def _current(context: BotContext, nonce: str) -> bool:
    return bool(nonce) and _draft(context).get("nonce") == nonce


def _rating_buttons(texts: Catalogue, prefix: str) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(texts(f"feedback.rating_{n}"), callback_data=f"{prefix}:{n}")
        for n in range(1, 6)
    ]


def _loneliness_markup(texts: Catalogue, nonce: str) -> InlineKeyboardMarkup:
    def button(code: str, key: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(texts(key), callback_data=f"fb:l:{nonce}:{code}")

    rows = [
        [button(code, f"feedback.{answer.value}")] for code, answer in _LONELINESS_CODES.items()
    ]
    rows.append([button("skip", "feedback.rather_not_say")])
    return InlineKeyboardMarkup(rows)


def _skip_markup(texts: Catalogue, nonce: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(texts("feedback.skip"), callback_data=f"fb:c:{nonce}:skip")]]
    )


async def _stale(update: Update, context: BotContext) -> None:
    if update.callback_query is not None:
        await answer(
            update.callback_query, texts_for(update, context)("feedback.stale"), alert=True
        )


async def _begin(update: Update, context: BotContext, service: str | None) -> int:
    texts = texts_for(update, context)
    async with context.session() as session, session.begin():
        allowed = await feedback.can_give_feedback(session, sender(update).id)
    if not allowed:
        await reply(update, texts("feedback.not_signed_up"))
        return END
    nonce = _new_draft(context, service, None)
    await _ask_rating(update, context, service, nonce)
    return RATING


async def _ask_rating(update: Update, context: BotContext, service: str | None, nonce: str) -> None:
    texts = texts_for(update, context)
    question = (
        texts("feedback.ask_rating_service", service=service)
        if service
        else texts("feedback.ask_rating")
    )
    markup = InlineKeyboardMarkup(
        [
            _rating_buttons(texts, f"fb:r:{nonce}"),
            [InlineKeyboardButton(texts("feedback.not_now"), callback_data=f"fb:x:{nonce}")],
        ]
    )
    await reply(update, question, reply_markup=markup)


async def ask_again(update: Update, context: BotContext, state: object) -> None:
    """The question this conversation is waiting for, once more (after an urgent reply)."""
    texts = texts_for(update, context)
    draft = _draft(context)
    # The current nonce: the buttons sent earlier stay valid as well.
    nonce = str(draft.get("nonce", ""))
    if state == RATING:
        await _ask_rating(update, context, draft.get("service"), nonce)
    elif state == LONELINESS:
        await reply(
            update, texts("feedback.ask_loneliness"), reply_markup=_loneliness_markup(texts, nonce)
        )
    elif state == COMMENT:
        await reply(update, texts("feedback.ask_comment"), reply_markup=_skip_markup(texts, nonce))


async def start_feedback(update: Update, context: BotContext) -> int:
    """/feedback [service]: she'd like to tell us what she thinks."""
    service = feedback.clean_service_ref(context.args[0]) if context.args else None
    return await _begin(update, context, service)


async def feedback_about_service(update: Update, context: BotContext) -> int:
    """A "rate this" button on a local directory entry."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(query)
    return await _begin(update, context, feedback.clean_service_ref(query.data.split(":", 2)[2]))


async def _ask_loneliness(update: Update, context: BotContext, response_id: int) -> int:
    texts = texts_for(update, context)
    nonce = _new_draft(context, _draft(context).get("service"), response_id)
    await reply(update, texts("feedback.thanks_rating"))
    await reply(
        update, texts("feedback.ask_loneliness"), reply_markup=_loneliness_markup(texts, nonce)
    )
    return LONELINESS


async def rate(update: Update, context: BotContext) -> int:
    """She picked a rating in the /feedback conversation."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, nonce, rating = query.data.split(":")
    if not _current(context, nonce):
        await _stale(update, context)
        return RATING
    try:
        async with context.session() as session, session.begin():
            response_id = await feedback.record_rating(
                session,
                sender(update).id,
                int(rating),
                now=context.now(),
                today=context.today(),
                service_ref=_draft(context).get("service"),
            )
    except NotSignedUp:
        await answer(query, texts_for(update, context)("feedback.not_signed_up"), alert=True)
        return END
    await answer(query)
    await clear_buttons(query)
    return await _ask_loneliness(update, context, response_id)


async def not_now(update: Update, context: BotContext) -> int:
    """She'd rather not rate anything just now."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if not _current(context, query.data.split(":")[2]):
        await _stale(update, context)
        return RATING
    await answer(query)
    await clear_buttons(query)
    await reply(update, texts_for(update, context)("feedback.not_now_done"))
    return END


async def loneliness(update: Update, context: BotContext) -> int:
    """She answered (or skipped) "How often do you feel lonely?"."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, nonce, code = query.data.split(":")
    draft = _draft(context)
    if not _current(context, nonce) or draft.get("response_id") is None:
        await _stale(update, context)
        return LONELINESS
    texts = texts_for(update, context)
    chosen = _LONELINESS_CODES.get(code)
    if chosen is not None:
        try:
            async with context.session() as session, session.begin():
                await feedback.record_loneliness(
                    session, sender(update).id, int(draft["response_id"]), chosen
                )
        except NotSignedUp:
            await answer(query, texts("feedback.not_signed_up"), alert=True)
            return END
    await answer(query)
    await clear_buttons(query)
    if chosen in _SIGNPOST:
        await reply(update, texts("feedback.support"))
    nonce = _new_draft(context, draft.get("service"), draft.get("response_id"))
    await reply(update, texts("feedback.ask_comment"), reply_markup=_skip_markup(texts, nonce))
    return COMMENT


async def _finish(update: Update, context: BotContext) -> int:
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)
    await reply(update, texts_for(update, context)("feedback.done"))
    return END


async def comment_text(update: Update, context: BotContext) -> int:
    """She typed a comment."""
    texts = texts_for(update, context)
    text = her_text(update).strip()
    if not text:
        await reply(update, texts("feedback.comment_empty"))
        return COMMENT
    if len(text) > feedback.COMMENT_MAX:
        await reply(update, texts("feedback.comment_too_long", max=feedback.COMMENT_MAX))
        return COMMENT
    try:
        async with context.session() as session, session.begin():
            await feedback.record_comment(
                session,
                sender(update).id,
                text,
                now=context.now(),
                service_ref=_draft(context).get("service"),
            )
    except NotSignedUp:
        await reply(update, texts("feedback.not_signed_up"))
        return END
    return await _finish(update, context)


async def comment_skip(update: Update, context: BotContext) -> int:
    """She has nothing more to add."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if not _current(context, query.data.split(":")[2]):
        await _stale(update, context)
        return COMMENT
    await answer(query)
    await clear_buttons(query)
    return await _finish(update, context)


async def comment_not_text(update: Update, context: BotContext) -> int:
    """Something other than text arrived while we wait for a comment: say so, with Skip."""
    texts = texts_for(update, context)
    nonce = str(_draft(context).get("nonce", ""))
    await reply(update, texts("feedback.comment_not_text"), reply_markup=_skip_markup(texts, nonce))
    return COMMENT


def _prompt_id(query_data: str) -> int:
    return int(query_data.split(":")[2])


async def prompt_rating(update: Update, context: BotContext) -> int | None:
    """She answered one of our feedback questions with a rating."""
    query = update.callback_query
    assert query is not None and query.data is not None
    rating = int(query.data.rsplit(":", 1)[1])
    async with context.session() as session, session.begin():
        response_id = await feedback.answer_prompt(
            session,
            sender(update).id,
            _prompt_id(query.data),
            rating,
            now=context.now(),
            today=context.today(),
        )
    if response_id is None:
        # Not hers, already answered, or she has left: nothing changes.
        await _stale(update, context)
        return None
    await answer(query)
    await clear_buttons(query)
    return await _ask_loneliness(update, context, response_id)


async def prompt_skip(update: Update, context: BotContext) -> None:
    """She'd rather not answer this question."""
    query = update.callback_query
    assert query is not None and query.data is not None
    async with context.session() as session, session.begin():
        skipped = await feedback.skip_prompt(
            session, sender(update).id, _prompt_id(query.data), context.now()
        )
    if not skipped:
        await _stale(update, context)
        return
    await answer(query)
    await clear_buttons(query)
    await reply(update, texts_for(update, context)("feedback.prompt_skipped"))


async def prompt_stop(update: Update, context: BotContext) -> None:
    """She doesn't want feedback questions at all: her consent is withdrawn at once."""
    query = update.callback_query
    assert query is not None and query.data is not None
    message = query.message
    shown = message.text or "" if isinstance(message, Message) else ""
    evidence = consent_evidence(
        update, context, shown, f"button:{query.data}", source="feedback_question"
    )
    try:
        async with context.session() as session, session.begin():
            stopped = await feedback.stop_asking(
                session, sender(update).id, _prompt_id(query.data), evidence
            )
    except NotSignedUp:
        stopped = False
    if not stopped:
        await _stale(update, context)
        return
    await answer(query)
    await clear_buttons(query)
    await reply(update, texts_for(update, context)("feedback.prompt_stopped"))


async def cancel(update: Update, context: BotContext) -> int:
    """/cancel: stop here; whatever she already answered is kept."""
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)
    await reply(update, texts_for(update, context)("feedback.cancelled"))
    return END


async def stale_button(update: Update, context: BotContext) -> None:
    """A feedback button from an earlier message."""
    await _stale(update, context)


_PROMPT = r"^fb:p:\d{1,12}:"


def feedback_conversation() -> ConversationHandler[Any]:
    """Rating, then loneliness, then a comment; each step saved as she answers it."""
    # Buttons are tracked per chat, not per message, on purpose: a nonce in each button's data
    # tells the current message from an older one.
    return _conversation()


def _conversation() -> ConversationHandler[Any]:
    return conversation(
        name="feedback",
        entry_points=[
            CommandHandler("feedback", start_feedback, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(prompt_rating, pattern=_PROMPT + "[1-5]$"),
            CallbackQueryHandler(feedback_about_service, pattern=r"^fb:about:[A-Za-z0-9_-]{1,55}$"),
        ],
        states={
            RATING: [
                CallbackQueryHandler(rate, pattern=r"^fb:r:[0-9a-f]{8}:[1-5]$"),
                CallbackQueryHandler(not_now, pattern=r"^fb:x:[0-9a-f]{8}$"),
            ],
            LONELINESS: [
                CallbackQueryHandler(
                    loneliness, pattern=r"^fb:l:[0-9a-f]{8}:(often|some|occ|hardly|never|skip)$"
                )
            ],
            COMMENT: [
                MessageHandler(filters.TEXT & ~filters.COMMAND, comment_text),
                CallbackQueryHandler(comment_skip, pattern=r"^fb:c:[0-9a-f]{8}:skip$"),
                MessageHandler(~filters.COMMAND, comment_not_text),
            ],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            CallbackQueryHandler(prompt_skip, pattern=_PROMPT + "skip$"),
            CallbackQueryHandler(prompt_stop, pattern=_PROMPT + "stop$"),
            CallbackQueryHandler(stale_button, pattern=r"^fb:"),
        ],
        allow_reentry=True,
    )


def prompt_handlers() -> list[CallbackQueryHandler[BotContext, None]]:
    """The skip and stop buttons on our questions, outside any conversation."""
    return [
        CallbackQueryHandler(prompt_skip, pattern=_PROMPT + "skip$"),
        CallbackQueryHandler(prompt_stop, pattern=_PROMPT + "stop$"),
        CallbackQueryHandler(stale_button, pattern=r"^fb:"),
    ]


def _prompt_markup(texts: Catalogue, prompt_id: int) -> InlineKeyboardMarkup:
    prefix = f"fb:p:{prompt_id}"
    return InlineKeyboardMarkup(
        [
            _rating_buttons(texts, prefix),
            [InlineKeyboardButton(texts("feedback.prompt_skip"), callback_data=f"{prefix}:skip")],
            [InlineKeyboardButton(texts("feedback.prompt_stop"), callback_data=f"{prefix}:stop")],
        ]
    )


async def send_feedback_prompts(context: BotContext) -> None:
    """Hourly: plan "two weeks in" questions, then queue the ones due for the delivery engine."""
    now = context.now()
    async with context.session() as session, session.begin():
        await feedback.plan_two_week_prompts(session, now)
        await feedback.retire_prompts(session, now)
        due = await feedback.claim_due_prompts(session, now, context.settings.quiet_hours)
        # Claimed and queued in one unit of work, so a crash loses no question and repeats none.
        await queue.enqueue(session, [_queued_prompt(prompt, now) for prompt in due], now)
    if due:
        context.delivery.wake()
        logger.info("feedback questions: %d queued", len(due))


def _queued_prompt(prompt: feedback.DuePrompt, now: dt.datetime) -> NewDelivery:
    texts = catalogue(prompt.language_code)
    return NewDelivery(
        prompt.resident_id,
        f"{kinds.FEEDBACK_PROMPT}:{prompt.prompt_id}",
        f"{kinds.FEEDBACK_PROMPT}:{now.date().isoformat()}",
        kinds.FEEDBACK_PROMPT,
        texts(f"feedback.prompt_{prompt.moment.value}"),
        now,
        buttons=_keyed_prompt_buttons(texts, prompt.prompt_id),
        template=render.message_template(f"feedback.prompt_{prompt.moment.value}"),
    )


def _keyed_prompt_buttons(texts: Catalogue, prompt_id: int) -> list[list[dict[str, Any]]]:
    """The question's buttons as a queued row keeps them, worded in her language when sent."""
    prefix = f"fb:p:{prompt_id}"
    ratings = [
        render.button(f"feedback.rating_{n}", callback_data=f"{prefix}:{n}") for n in range(1, 6)
    ]
    rows = [
        ratings,
        [render.button("feedback.prompt_skip", callback_data=f"{prefix}:skip")],
        [render.button("feedback.prompt_stop", callback_data=f"{prefix}:stop")],
    ]
    # Worded as the queued text is (her language at queueing), until the engine words it again.
    return [[b | {"text": str(texts(b[render.TEXT_KEY]))} for b in row] for row in rows]


def schedule_feedback_prompts(application: BotApplication) -> None:
    """Run the feedback question job every hour."""
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("python-telegram-bot's job-queue extra is required")
    job_queue.run_repeating(
        send_feedback_prompts,
        interval=PROMPT_INTERVAL,
        first=PROMPT_FIRST_RUN,
        name="feedback_prompts",
    )


def register(application: BotApplication, flow: ConversationHandler[Any]) -> None:
    """The feedback conversation (`flow`, from feedback_conversation(): the urgent check needs
    the same one), the buttons on our questions, and the hourly job that asks them."""
    application.add_handler(flow)
    application.add_handlers(prompt_handlers())
    schedule_feedback_prompts(application)
