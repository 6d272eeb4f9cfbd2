"""/baby and the buttons under week messages: her baby has arrived, or she's no longer pregnant."""

from __future__ import annotations

import datetime as dt
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotApplication, BotContext
from bot.handlers.common import (
    answer,
    answer_method,
    ask_yes_no,
    clear_buttons,
    consent_evidence,
    conversation,
    deliver_owed,
    her_text,
    reply,
    sender,
    texts_for,
)
from bot.services.residents import life_events
from bot.services.residents.consent import ConsentContext
from bot.services.residents.life_events import BirthDateProblem, Outcome
from bot.texts import Catalogue, Html
from models import LifeStage

CHOOSING, BIRTH_DATE, CONFIRM_ENDED = range(3)
END = ConversationHandler.END


def _evidence(update: Update, context: BotContext) -> ConsentContext:
    """Her answer changes her consent choices: the question she answered is the evidence."""
    query = update.callback_query
    message = query.message if query else None
    return consent_evidence(
        update,
        context,
        message.text or "" if isinstance(message, Message) else "",
        answer_method(query) if query else "button:",
        source="life_events",
    )


async def _stage(update: Update, context: BotContext) -> Outcome | LifeStage:
    async with context.session() as session, session.begin():
        return await life_events.can_tell(session, sender(update).id)


async def _refuse(update: Update, texts: Catalogue, outcome: Outcome) -> int:
    """Say kindly why this can't be done; a button press gets a pop-up, a command a reply."""
    key = {
        Outcome.NOT_SIGNED_UP: "life.not_signed_up",
        Outcome.ONBOARDING: "life.finish_signup",
        Outcome.ALREADY: "life.already_born",
        Outcome.STALE: "life.not_pregnant_now",
        Outcome.SAVED: "life.closed",
    }[outcome]
    if update.callback_query is not None:
        await answer(update.callback_query, texts(key), alert=True)
    else:
        await reply(update, texts(key))
    return END


async def show_menu(update: Update, context: BotContext) -> int:
    """/baby: tell us the baby has arrived, or that she's no longer pregnant."""
    texts = texts_for(update, context)
    stage = await _stage(update, context)
    if isinstance(stage, Outcome):
        return await _refuse(update, texts, stage)
    if stage is LifeStage.BABY:
        return await _refuse(update, texts, Outcome.ALREADY)
    if stage is LifeStage.ENDED:
        await _after_loss(update, context, texts)
        return END
    await reply(update, texts("life.menu"), reply_markup=_menu_markup(texts))
    return CHOOSING


def _menu_markup(texts: Catalogue) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts("life.born_button"), callback_data="le:born")],
            [InlineKeyboardButton(texts("life.ended_button"), callback_data="le:ended")],
            [InlineKeyboardButton(texts("life.close_button"), callback_data="le:close")],
        ]
    )


def _ended_markup(texts: Catalogue) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts("life.ended_yes"), callback_data="le:end:yes")],
            [InlineKeyboardButton(texts("life.ended_no"), callback_data="le:end:no")],
        ]
    )


async def ask_again(update: Update, context: BotContext, state: object) -> None:
    """The question /baby is waiting for, once more, with its buttons."""
    texts = texts_for(update, context)
    if state == CHOOSING:
        await reply(update, texts("life.menu"), reply_markup=_menu_markup(texts))
    elif state == BIRTH_DATE:
        markup = _date_buttons(texts, context.today())
        await reply(update, texts("life.ask_birth_date"), reply_markup=markup)
    elif state == CONFIRM_ENDED:
        await _ask_ended(update, context, texts)


async def close_menu(update: Update, context: BotContext) -> int:
    """She opened /baby but nothing has changed."""
    query = update.callback_query
    assert query is not None
    await answer(query, texts_for(update, context)("life.closed"))
    await clear_buttons(query)
    return END


def _date_buttons(texts: Catalogue, today: dt.date) -> InlineKeyboardMarkup:
    yesterday = today - dt.timedelta(days=1)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts("life.today"), callback_data=f"le:bd:{today}"),
                InlineKeyboardButton(texts("life.yesterday"), callback_data=f"le:bd:{yesterday}"),
            ]
        ]
    )


async def baby_arrived(update: Update, context: BotContext) -> int:
    """ "My baby has arrived" (under a week message, the check-in or /baby): ask the date."""
    query = update.callback_query
    assert query is not None
    texts = texts_for(update, context)
    stage = await _stage(update, context)
    if isinstance(stage, Outcome):
        return await _refuse(update, texts, stage)
    if stage is not LifeStage.PREGNANT:
        # Her news has moved on since this message: the button no longer applies.
        outcome = Outcome.ALREADY if stage is LifeStage.BABY else Outcome.STALE
        return await _refuse(update, texts, outcome)
    await answer(query)
    await reply(
        update, texts("life.ask_birth_date"), reply_markup=_date_buttons(texts, context.today())
    )
    return BIRTH_DATE


async def _save_birth(update: Update, context: BotContext, born_on: dt.date) -> int:
    texts = texts_for(update, context)
    async with context.session() as session, session.begin():
        outcome = await life_events.record_birth(session, sender(update).id, born_on, context.now())
    if outcome is not Outcome.SAVED:
        return await _refuse(update, texts, outcome)
    if update.callback_query is not None:
        await answer(update.callback_query)
        await clear_buttons(update.callback_query)
    await reply(update, texts("life.birth_saved", born=texts.date(born_on)))
    return END


async def birth_date_button(update: Update, context: BotContext) -> int:
    """She tapped "today" or "yesterday"."""
    query = update.callback_query
    assert query is not None and query.data is not None
    try:
        chosen = dt.date.fromisoformat(query.data.removeprefix("le:bd:"))
    except ValueError:
        chosen = None
    # An old button, or made-up data: the date is checked like a typed one.
    checked = life_events.check_birth_date(chosen, context.today()) if chosen else None
    if not isinstance(checked, dt.date):
        await answer(query, texts_for(update, context)("life.birth_date_button_bad"), alert=True)
        return BIRTH_DATE
    return await _save_birth(update, context, checked)


async def birth_date_text(update: Update, context: BotContext) -> int:
    """She typed her baby's birth date."""
    parsed = life_events.parse_birth_date(her_text(update), context.today())
    if isinstance(parsed, BirthDateProblem):
        await reply(update, texts_for(update, context)(f"life.{parsed.value}"))
        return BIRTH_DATE
    return await _save_birth(update, context, parsed)


async def ask_ended(update: Update, context: BotContext) -> int:
    """ "I'm no longer pregnant": check gently before anything stops."""
    query = update.callback_query
    assert query is not None
    texts = texts_for(update, context)
    stage = await _stage(update, context)
    if isinstance(stage, Outcome):
        return await _refuse(update, texts, stage)
    if stage is LifeStage.ENDED:
        await answer(query, texts("life.already_ended"), alert=True)
        return END
    await answer(query)
    await clear_buttons(query)
    await _ask_ended(update, context, texts)
    return CONFIRM_ENDED


async def _ask_ended(update: Update, context: BotContext, texts: Catalogue) -> None:
    """Should pregnancy messages stop? A typed yes or no answers like the buttons."""
    markup = _ended_markup(texts)
    text = texts("life.ended_confirm")
    await ask_yes_no(update, context, text, markup, yes="le:end:yes", no="le:end:no")


def _support(texts: Catalogue, context: BotContext) -> Html:
    if context.content is None:
        return Html("")
    content = context.content.for_language(texts.language)
    lines = [texts("life.support_intro", message=content.loss_message)]
    for organisation in content.loss_support:
        details = " – ".join(p for p in (organisation.phone, organisation.note) if p)
        lines.append(
            texts(
                "life.support_org",
                name=organisation.name,
                details=f" – {details}" if details else "",
                url=organisation.url,
            )
        )
    return Html("\n".join(lines))


async def _offer_keep_or_delete(update: Update, texts: Catalogue) -> None:
    await reply(
        update,
        texts("life.ended_choice"),
        reply_markup=InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(texts("life.keep_button"), callback_data="le:keep")],
                [InlineKeyboardButton(texts("life.delete_button"), callback_data="le:delete")],
            ]
        ),
    )


async def _after_loss(update: Update, context: BotContext, texts: Catalogue) -> None:
    """/baby once she has told us: what she gets now, or the choice she hasn't made yet."""
    async with context.session() as session, session.begin():
        state = await life_events.after_loss(session, sender(update).id)
    if state is not None and state.kept:
        key = "life.after_loss_local_info" if state.local_info else "life.after_loss_nothing"
        await reply(update, texts(key))
        return
    await reply(update, texts("life.already_ended"))
    await _offer_keep_or_delete(update, texts)


async def confirm_ended(update: Update, context: BotContext) -> int:
    """She confirmed (or not) that pregnancy messages should stop."""
    query = update.callback_query
    assert query is not None and query.data is not None
    texts = texts_for(update, context)
    await answer(query)
    await clear_buttons(query)
    if query.data != "le:end:yes":
        await reply(update, texts("life.ended_kept"))
        return END
    async with context.session() as session, session.begin():
        outcome = await life_events.record_pregnancy_ended(
            session, sender(update).id, context.today(), _evidence(update, context)
        )
    if outcome is Outcome.ALREADY:
        # A second tap on an old confirmation: say where she stands, ask nothing twice.
        await _after_loss(update, context, texts)
        return END
    if outcome is not Outcome.SAVED:
        return await _refuse(update, texts, outcome)
    # Her cards and requests leave other mums' chats now, not at the next job run.
    await deliver_owed(context)
    support = _support(texts, context)
    await reply(update, support or texts("life.support_fallback"))
    await _offer_keep_or_delete(update, texts)
    return END


async def keep_local_info(update: Update, context: BotContext) -> None:
    """After a loss: keep her account for general local information only."""
    query = update.callback_query
    assert query is not None
    texts = texts_for(update, context)
    async with context.session() as session, session.begin():
        outcome = await life_events.keep_for_local_info(
            session, sender(update).id, _evidence(update, context)
        )
    if outcome not in (Outcome.SAVED, Outcome.ALREADY):
        await _refuse(update, texts, outcome)
        return
    await answer(query)
    await clear_buttons(query)
    await reply(update, texts("life.kept_local_info"))


async def still_waiting(update: Update, context: BotContext) -> None:
    """The overdue check-in: no news yet."""
    query = update.callback_query
    assert query is not None
    texts = texts_for(update, context)
    stage = await _stage(update, context)
    if stage is not LifeStage.PREGNANT:
        await _refuse(update, texts, stage if isinstance(stage, Outcome) else Outcome.STALE)
        return
    await answer(query)
    await clear_buttons(query)
    await reply(update, texts("life.still_waiting"))


async def cancel(update: Update, context: BotContext) -> int:
    """/cancel while we wait for a birth date."""
    await reply(update, texts_for(update, context)("life.ended_kept"))
    return END


def register(
    application: BotApplication, handlers: list[BaseHandler[Any, Any, Any]] | None = None
) -> None:
    """The /baby conversation and the stateless buttons of a life event ("delete everything"
    after a loss is data_rights' own); `handlers` are life_event_handlers() when the urgent
    check and the last-resort reply need the same conversation."""
    application.add_handlers(handlers if handlers is not None else life_event_handlers())


def life_event_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The /baby conversation and the stateless buttons of a life event."""
    return [
        _conversation(),
        CallbackQueryHandler(keep_local_info, pattern=r"^le:keep$"),
        CallbackQueryHandler(still_waiting, pattern=r"^le:wait$"),
    ]


def _conversation() -> ConversationHandler[Any]:
    # Buttons are tracked per chat on purpose; stale ones are checked against what we hold.
    return conversation(
        name="life_events",
        entry_points=[
            CommandHandler("baby", show_menu, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(baby_arrived, pattern=r"^le:born$"),
            CallbackQueryHandler(ask_ended, pattern=r"^le:ended$"),
        ],
        states={
            CHOOSING: [
                CallbackQueryHandler(baby_arrived, pattern=r"^le:born$"),
                CallbackQueryHandler(ask_ended, pattern=r"^le:ended$"),
                CallbackQueryHandler(close_menu, pattern=r"^le:close$"),
            ],
            BIRTH_DATE: [
                CallbackQueryHandler(birth_date_button, pattern=r"^le:bd:[0-9-]{10}$"),
                MessageHandler(filters.TEXT & ~filters.COMMAND, birth_date_text),
            ],
            CONFIRM_ENDED: [CallbackQueryHandler(confirm_ended, pattern=r"^le:end:(yes|no)$")],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        allow_reentry=True,
    )
