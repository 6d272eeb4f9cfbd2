"""/privacy: the notice, her current choices, and buttons to change each one."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.context import BotApplication, BotContext
from bot.handlers.common import (
    answer,
    answer_method,
    ask_yes_no,
    consent_evidence,
    deliver_owed,
    edit_message,
    offered_here,
    reply,
    sender,
    texts_for,
)
from bot.services.residents import profile as residents
from bot.services.residents.consent import latest_receipt_id
from bot.services.residents.profile import NotOffered, NotSignedUp, Profile
from bot.texts import Catalogue, Html
from models import OPTIONAL_PURPOSES, ConsentPurpose

_OPTIONAL_BY_NAME = {p.value: p for p in OPTIONAL_PURPOSES}
_CHOICE = re.compile(r"pv:([a-z_]{1,32}):(on|off|yes|no)")


def _notice(texts: Catalogue, context: BotContext) -> Html:
    settings = context.settings
    return texts(
        "privacy.notice",
        council=settings.council_name,
        version=settings.privacy_notice_version,
        notice_url=settings.privacy_notice_url,
        email=settings.council_contact_email,
        phone=settings.council_contact_phone,
        safeguarding_months=settings.safeguarding_retention_months,
    )


def _choices(texts: Catalogue, profile: Profile) -> tuple[Html, InlineKeyboardMarkup]:
    def state(purpose: ConsentPurpose) -> str:
        return texts("privacy.on") if profile.consents.get(purpose) else texts("privacy.off")

    states = {p.value: state(p) for p in OPTIONAL_PURPOSES}
    offered = list(OPTIONAL_PURPOSES)
    if profile.pregnancy_ended_on is not None:
        # Other mums would be told she is due: say why instead of offering a switch.
        states[ConsentPurpose.MATCHING.value] = texts("life.matching_row_after_loss")
        offered.remove(ConsentPurpose.MATCHING)
    text = texts("privacy.choices", health_data=texts("privacy.required_note"), **states)
    rows = []
    for purpose in offered:
        on = bool(profile.consents.get(purpose))
        key, flip = ("privacy.turn_off", "off") if on else ("privacy.turn_on", "on")
        label = texts(key, purpose=texts(f"purpose.{purpose.value}"))
        rows.append([InlineKeyboardButton(label, callback_data=f"pv:{purpose.value}:{flip}")])
    return text, InlineKeyboardMarkup(rows)


async def show_privacy(update: Update, context: BotContext) -> None:
    """Show the privacy notice and, for a resident, her choices with buttons."""
    texts = texts_for(update, context)
    from_button = update.callback_query is not None
    if update.callback_query:
        await answer(update.callback_query)
    async with context.session() as session, session.begin():
        profile = await residents.profile(session, sender(update).id)
        receipt = await _latest_receipt(session, sender(update).id)
    if not from_button:
        # "Change my choices" on the summary wants the switches, not the whole notice again.
        notice = _notice(texts, context)
        if receipt:
            # Not on the choices message: its text is kept as what she saw when she withdraws.
            notice = Html(notice + "\n" + texts("privacy.receipt", receipt=receipt))
        await reply(update, notice)
    if profile is None:
        await reply(update, texts("privacy.not_signed_up"))
        return
    text, markup = _choices(texts, profile)
    await reply(update, text, reply_markup=markup)


async def _latest_receipt(session: AsyncSession, telegram_user_id: int) -> str | None:
    resident = await residents.find_resident(session, telegram_user_id)
    return await latest_receipt_id(session, resident.person_ref) if resident else None


async def _explain(update: Update, context: BotContext, purpose: ConsentPurpose) -> None:
    """Before she turns a purpose on, show what it means, as sign-up did, and ask again."""
    query = update.callback_query
    assert query is not None
    texts = texts_for(update, context)
    await answer(query)
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts("button.yes_please"), callback_data=f"pv:{purpose.value}:yes"
                ),
                InlineKeyboardButton(
                    texts("button.no_thanks"), callback_data=f"pv:{purpose.value}:no"
                ),
            ]
        ]
    )
    text = texts(f"consent.{purpose.value}")
    if not offered_here(query):
        # A made-up press: shown, but not noted as a question a typed yes would answer.
        await edit_message(update, text, markup)
        return
    yes, no = f"pv:{purpose.value}:yes", f"pv:{purpose.value}:no"
    await ask_yes_no(update, context, text, markup, yes=yes, no=no, redraw=True)


async def change_choice(update: Update, context: BotContext) -> None:
    """Turn one optional purpose off at once, or on once she has read what it means again."""
    query = update.callback_query
    assert query is not None and query.data is not None
    texts = texts_for(update, context)
    # Callback data is hers to forge: anything but "pv:<purpose>:on|off|yes|no" is answered kindly.
    match = _CHOICE.fullmatch(query.data)
    purpose = _OPTIONAL_BY_NAME.get(match[1]) if match else None
    if match is None or purpose is None:
        await answer(query, texts("general.bad_button"), alert=True)
        return
    flip = match[2]
    if flip == "on":
        async with context.session() as session, session.begin():
            resident = await residents.find_resident(session, sender(update).id)
            offered = resident is None or await residents.is_offered(session, resident, purpose)
        if not offered:
            await answer(query, texts("life.matching_closed"), alert=True)
            return
        await _explain(update, context, purpose)
        return
    if not offered_here(query):
        # Her choice is recorded with the text of the message she pressed: a choice that
        # message never offered would be recorded with words she was not shown.
        await answer(query, texts("general.stale_button"), alert=True)
        return
    message = query.message
    # A yes is recorded with the explanation she was just shown (the message she pressed),
    # a withdrawal with the choices she turned it off from.
    evidence = consent_evidence(
        update,
        context,
        message.text or "" if isinstance(message, Message) else "",
        answer_method(query),
        source="privacy",
    )
    granted = flip == "yes"
    try:
        async with context.session() as session, session.begin():
            if flip == "no":
                changed = False
            else:
                changed = await residents.set_consent(
                    session, sender(update).id, purpose, granted, evidence
                )
            profile = await residents.profile(session, sender(update).id)
            receipt = await _latest_receipt(session, sender(update).id)
    except NotSignedUp:
        profile = None
    except NotOffered:
        await answer(query, texts("life.matching_closed"), alert=True)
        return
    if profile is None:
        await answer(query, texts("privacy.not_signed_up"), alert=True)
        return
    if changed and purpose is ConsentPurpose.MATCHING and not granted:
        # Take her cards and requests out of other mums' chats now, not at the next job run.
        await deliver_owed(context)
    label = texts(f"purpose.{purpose.value}")
    if flip == "no":
        await answer(query)
    elif not changed:
        await answer(query, texts("privacy.unchanged"))
    else:
        done = texts(f"privacy.changed_{'on' if granted else 'off'}", purpose=label)
        await answer(query, Html(done + " " + texts("privacy.changed_receipt", receipt=receipt)))
    text, markup = _choices(texts, profile)
    await edit_message(update, text, markup)
    if profile.consents.get(ConsentPurpose.MATCHING) and profile.display_name is None:
        # She declined matching at sign-up, so was never asked for the name other mums see.
        await reply(
            update,
            texts("name.needed_for_matching"),
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton(texts("name.choose"), callback_data="ob:sum:name")]]
            ),
        )


def register(application: BotApplication) -> None:
    """/privacy, the buttons that change a choice, and the sign-up summary's "your choices"."""
    application.add_handler(
        CommandHandler("privacy", show_privacy, filters=filters.ChatType.PRIVATE)
    )
    application.add_handler(CallbackQueryHandler(change_choice, pattern=r"^pv:"))
    application.add_handler(CallbackQueryHandler(show_privacy, pattern=r"^ob:sum:choices$"))
