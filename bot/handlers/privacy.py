"""/privacy: the notice, her current choices, and buttons to change each one."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.context import BotContext
from bot.handlers.common import answer, reply, sender, texts_for
from bot.handlers.matching import deliver_owed
from bot.services import residents
from bot.services.consent import ConsentContext
from bot.services.residents import NotOffered, NotSignedUp, Profile
from bot.texts import Catalogue, Html
from models import OPTIONAL_PURPOSES, ConsentPurpose

_OPTIONAL_BY_NAME = {p.value: p for p in OPTIONAL_PURPOSES}
_CHOICE = re.compile(r"pv:([a-z_]{1,32}):(on|off)")


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
    texts = texts_for(update)
    from_button = update.callback_query is not None
    if update.callback_query:
        await answer(update.callback_query)
    async with context.session() as session, session.begin():
        profile = await residents.profile(session, sender(update).id)
    if not from_button:
        # "Change my choices" on the summary wants the switches, not the whole notice again.
        await reply(update, _notice(texts, context))
    if profile is None:
        await reply(update, texts("privacy.not_signed_up"))
        return
    text, markup = _choices(texts, profile)
    await reply(update, text, reply_markup=markup)


async def change_choice(update: Update, context: BotContext) -> None:
    """Turn one optional purpose on or off; a withdrawal takes effect at once."""
    query = update.callback_query
    assert query is not None and query.data is not None
    texts = texts_for(update)
    # Callback data is hers to forge: anything but "pv:<purpose>:on|off" gets a kind answer.
    match = _CHOICE.fullmatch(query.data)
    purpose = _OPTIONAL_BY_NAME.get(match[1]) if match else None
    if match is None or purpose is None:
        await answer(query, texts("general.bad_button"), alert=True)
        return
    flip = match[2]
    message = query.message
    evidence = ConsentContext(
        notice_version=context.settings.privacy_notice_version,
        shown_text=message.text or "" if isinstance(message, Message) else "",
        method=f"button:{query.data}",
        source="privacy",
        now=context.now(),
    )
    try:
        async with context.session() as session, session.begin():
            changed = await residents.set_consent(
                session, sender(update).id, purpose, flip == "on", evidence
            )
            profile = await residents.profile(session, sender(update).id)
    except NotSignedUp:
        await answer(query, texts("privacy.not_signed_up"), alert=True)
        return
    except NotOffered:
        await answer(query, texts("life.matching_closed"), alert=True)
        return
    if changed and purpose is ConsentPurpose.MATCHING and flip == "off":
        # Take her cards and requests out of other mums' chats now, not at the next job run.
        await deliver_owed(context)
    label = texts(f"purpose.{purpose.value}")
    if not changed:
        await answer(query, texts("privacy.unchanged"))
    else:
        await answer(query, texts(f"privacy.changed_{flip}", purpose=label))
    assert profile is not None
    text, markup = _choices(texts, profile)
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest:
        # An old /privacy message may no longer be editable; the new state is sent instead.
        await reply(update, text, reply_markup=markup)
    if profile.consents.get(ConsentPurpose.MATCHING) and profile.display_name is None:
        # She declined matching at sign-up, so was never asked for the name other mums see.
        await reply(
            update,
            texts("name.needed_for_matching"),
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton(texts("name.choose"), callback_data="ob:sum:name")]]
            ),
        )
