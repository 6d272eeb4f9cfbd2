"""/broadcast: compose, preview exactly, choose the audience, confirm, send or schedule, cancel.

The draft lives in the database, so every button names the broadcast and its revision
(`bc:<id>:<revision>:<action>[:<argument>]`); a press from an older card, someone else's
broadcast or made-up data does nothing and says so kindly.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotApplication, BotContext
from bot.delivery.queue import BatchProgress
from bot.handlers.common import (
    answer,
    ask_yes_no,
    conversation,
    edit_message,
    fallback_message,
    guard,
    reply,
    texts_for,
)
from bot.languages import offered_languages
from bot.services.staff import broadcasts
from bot.services.staff.accounts import Permission
from bot.services.staff.broadcasts import Audience, Desk, Step
from bot.texts import Catalogue, Html, catalogue, long_date
from models import Broadcast, BroadcastPurpose, DeliveryStatus, StaffMember

logger = logging.getLogger(__name__)

TEXT, DUE_RANGE, BUTTON, WHEN, TRANSLATION, DRAFT = range(6)
# Views of a button that leave her draft's card (or one of its pickers) up, still a draft.
_DRAFT_VIEWS = frozenset(
    {"card", "preview", "districts", "wards", "wards_of", "trimester", "now", "confirm_at"}
)
END = ConversationHandler.END
_DRAFT_KEY = "broadcast_draft"
_DATE = r"(\d{1,2})/(\d{1,2})/(\d{4})"
_RANGE = re.compile(rf"\s*{_DATE}\s*(?:to|-|–|until)\s*{_DATE}\s*", re.IGNORECASE)
_WHEN = re.compile(rf"\s*(?:{_DATE}\s+)?(\d{{1,2}})[:.](\d{{2}})\s*")
_BUTTON = re.compile(r"\s*(.{1,40}?)\s*\|\s*(https://\S{1,290})\s*")
_DATA = re.compile(r"bc:(\d{1,9}):(\d{1,9}):([a-z]{2,8})(?::([A-Za-z0-9]{1,12}))?")


def _desk_of(application: BotApplication) -> Desk:
    data = application.bot_data
    assert data.sessionmaker is not None and data.clock is not None
    assert data.settings is not None and data.gazetteer is not None
    return Desk(data.sessionmaker, data.clock, data.settings, data.gazetteer, data.delivery)


def _desk(context: BotContext) -> Desk:
    return _desk_of(context.application)  # type: ignore[arg-type]


def _data(broadcast: Broadcast, action: str, argument: str = "") -> str:
    tail = f":{argument}" if argument else ""
    return f"bc:{broadcast.id}:{broadcast.revision}:{action}{tail}"


def _button(texts: Catalogue, key: str, broadcast: Broadcast, action: str, arg: str = "") -> Any:
    return InlineKeyboardButton(texts(key), callback_data=_data(broadcast, action, arg))


def _audience_label(texts: Catalogue, context: BotContext, audience: Audience) -> str:
    gazetteer = context.gazetteer
    if audience.kind == "districts":
        names = [d.name for code in audience.codes if (d := gazetteer.district(code))]
        return texts("broadcast.aud_districts_label", names=", ".join(names) or "–")
    if audience.kind == "wards":
        names = [w.name for code in audience.codes if (w := gazetteer.ward(code))]
        return texts("broadcast.aud_wards_label", names=", ".join(names) or "–")
    if audience.kind == "due_dates" and audience.first and audience.last:
        return texts(
            "broadcast.aud_due_label",
            first=long_date(audience.first),
            last=long_date(audience.last),
        )
    if audience.kind == "trimester":
        return texts(f"broadcast.aud_trimester_{audience.trimester}")
    return texts(f"broadcast.aud_{audience.kind}_label")


def preview_markup(broadcast: Broadcast) -> InlineKeyboardMarkup | None:
    """The link button residents will see."""
    buttons = broadcasts.buttons_of(broadcast)
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(**button) for button in row] for row in buttons]
    )


async def _card(
    context: BotContext, texts: Catalogue, broadcast: Broadcast
) -> tuple[Html, InlineKeyboardMarkup]:
    audience = Audience.from_json(broadcast.audience)
    count = await broadcasts.recipients_now(_desk(context), broadcast)
    text = texts(
        "broadcast.card",
        number=broadcast.id,
        purpose=texts(f"broadcast.purpose_{broadcast.purpose.value}"),
        audience=_audience_label(texts, context, audience),
        button=broadcast.button_text or texts("broadcast.no_button"),
        count=f"{count:,}",
    )
    other = (
        BroadcastPurpose.SERVICE
        if broadcast.purpose is BroadcastPurpose.LOCAL_INFO
        else BroadcastPurpose.LOCAL_INFO
    )
    rows = [
        [_button(texts, f"broadcast.switch_to_{other.value}", broadcast, "kind", other.value)],
        [
            _button(texts, "broadcast.aud_everyone", broadcast, "aud", "everyone"),
            _button(texts, "broadcast.aud_districts", broadcast, "aud", "districts"),
            _button(texts, "broadcast.aud_wards", broadcast, "aud", "wards"),
        ],
        [
            _button(texts, "broadcast.aud_due_dates", broadcast, "due"),
            _button(texts, "broadcast.aud_trimester", broadcast, "aud", "trimester"),
            _button(texts, "broadcast.aud_postnatal", broadcast, "aud", "postnatal"),
        ],
        [_button(texts, "broadcast.set_button", broadcast, "btn")],
    ]
    if broadcast.button_text:
        rows[-1].append(_button(texts, "broadcast.remove_button", broadcast, "nobtn"))
    if len(offered_languages(context.settings)) > 1:
        # Written in English; a translation per offered language is optional.
        rows.append([_button(texts, "broadcast.add_translation", broadcast, "tr")])
        if broadcast.translations:
            languages = ", ".join(sorted(broadcast.translations))
            text = Html(f"{text}\n{texts('broadcast.card_translations', languages=languages)}")
    if broadcasts.complete(audience) and count:
        rows.append(
            [
                _button(texts, "broadcast.send_now", broadcast, "now"),
                _button(texts, "broadcast.schedule", broadcast, "when"),
            ]
        )
    rows.append([_button(texts, "broadcast.discard", broadcast, "discard")])
    return text, InlineKeyboardMarkup(rows)


def _resident_text(context: BotContext, broadcast: Broadcast) -> Html:
    # Residents' texts come from the default catalogue, whoever on the staff composed it.
    return broadcasts.resident_text(catalogue(), broadcast, context.settings.council_name)


async def _show_preview(
    update: Update, context: BotContext, texts: Catalogue, broadcast: Broadcast
) -> None:
    await reply(update, texts("broadcast.preview_intro"))
    # Exactly what residents will get: the same heading, text, last line, parse mode and button.
    await reply(update, _resident_text(context, broadcast), reply_markup=preview_markup(broadcast))


async def _send_card(
    update: Update, context: BotContext, texts: Catalogue, broadcast: Broadcast
) -> None:
    text, markup = await _card(context, texts, broadcast)
    await reply(update, text, reply_markup=markup)


async def start(update: Update, context: BotContext) -> int:
    """/broadcast: ask for the message."""
    if await guard(update, context, Permission.BROADCAST, "broadcast.start") is None:
        return END
    await reply(update, texts_for(update, context)("broadcast.ask_text", max=broadcasts.TEXT_MAX))
    return TEXT


async def text_given(update: Update, context: BotContext) -> int:
    """She sent the message: keep it as a draft and show the preview and the card."""
    member = await guard(update, context, Permission.BROADCAST, "broadcast.draft")
    if member is None:
        return END
    texts = texts_for(update, context)
    message = update.effective_message
    # text_html keeps her bold, italics and links, and escapes everything else.
    html = message.text_html if message and message.text else ""
    if not html or len(html) > broadcasts.TEXT_MAX:
        await reply(update, texts("broadcast.text_invalid", max=broadcasts.TEXT_MAX))
        return TEXT
    insecure = broadcasts.insecure_link(html)
    if insecure is not None:
        await reply(update, texts("broadcast.text_http", link=insecure))
        return TEXT
    broadcast = await broadcasts.start_draft(_desk(context), member, html)
    if context.user_data is not None:
        context.user_data[_DRAFT_KEY] = broadcast.id
    await _show_preview(update, context, texts, broadcast)
    await _send_card(update, context, texts, broadcast)
    return DRAFT


async def _pending_draft(
    update: Update, context: BotContext, member: StaffMember
) -> Broadcast | None:
    draft_id = (context.user_data or {}).get(_DRAFT_KEY)
    if not isinstance(draft_id, int):
        return None
    return await broadcasts.pending_draft(_desk(context), member, draft_id)


async def _her_draft(
    update: Update, context: BotContext, action: str
) -> tuple[StaffMember, Broadcast] | None:
    """Her draft waiting for this step, if she may still broadcast; otherwise she has been told
    why not (no permission, or no draft: sent, scheduled or discarded meanwhile, say in the
    console) and the caller ends the flow."""
    member = await guard(update, context, Permission.BROADCAST, action)
    if member is None:
        return None
    broadcast = await _pending_draft(update, context, member)
    if broadcast is None:
        await reply(update, texts_for(update, context)("broadcast.no_draft"))
        return None
    return member, broadcast


async def _input(
    update: Update,
    context: BotContext,
    state: int,
    parse: Callable[[str, Broadcast], Awaitable[dict[str, Any] | str]],
) -> int:
    found = await _her_draft(update, context, "broadcast.edit")
    if found is None:
        return END
    member, broadcast = found
    texts = texts_for(update, context)
    message = update.effective_message
    parsed = await parse(message.text or "" if message else "", broadcast)
    if isinstance(parsed, Html):
        await reply(update, parsed)
        return state
    if isinstance(parsed, str):
        await reply(update, texts(parsed))
        return state
    current = await broadcasts.revise_draft(_desk(context), member, broadcast.id, **parsed)
    if current is None:
        await reply(update, texts("broadcast.no_draft"))
        return END
    if "button_text" in parsed:
        await _show_preview(update, context, texts, current)
    await _send_card(update, context, texts, current)
    return DRAFT


def _date(day: str, month: str, year: str) -> dt.date | None:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


async def due_range_given(update: Update, context: BotContext) -> int:
    """She typed a due-date range."""

    async def parse(text: str, broadcast: Broadcast) -> dict[str, Any] | str:
        match = _RANGE.fullmatch(text)
        first = _date(*match.group(1, 2, 3)) if match else None
        last = _date(*match.group(4, 5, 6)) if match else None
        if first is None or last is None or last < first:
            return "broadcast.due_invalid"
        return {"audience": Audience("due_dates", first=first, last=last).as_json()}

    return await _input(update, context, DUE_RANGE, parse)


async def button_given(update: Update, context: BotContext) -> int:
    """She typed the link button's words and address."""

    texts = texts_for(update, context)

    async def parse(text: str, broadcast: Broadcast) -> dict[str, Any] | str:
        insecure = broadcasts.insecure_link(text)
        if insecure is not None:
            return texts("broadcast.button_http", link=insecure)
        match = _BUTTON.fullmatch(text)
        if match is None:
            return "broadcast.button_invalid"
        return {"button_text": match.group(1), "button_url": match.group(2)}

    return await _input(update, context, BUTTON, parse)


async def translation_given(update: Update, context: BotContext) -> int:
    """She typed a translation, like "pl: Dzień dobry…"."""
    message = update.effective_message
    # Her formatting kept, as for the English text.
    html = message.text_html if message and message.text else ""
    offered = offered_languages(context.settings)

    async def parse(text: str, broadcast: Broadcast) -> dict[str, Any] | str:
        found = broadcasts.translation_of(html, offered)
        if found is None:
            return "broadcast.translation_invalid"
        if broadcasts.insecure_link(found[1]) is not None:
            return "broadcast.translation_invalid"
        return {"translations": broadcasts.with_translation(broadcast, *found)}

    return await _input(update, context, TRANSLATION, parse)


class _Tomorrow:
    """A bare time that has already gone today: she is asked whether she meant tomorrow."""

    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment


def _parse_when(text: str, context: BotContext) -> dt.datetime | _Tomorrow | str:
    match = _WHEN.fullmatch(text)
    if match is None:
        return "broadcast.when_invalid"
    zone = context.settings.zone
    today = context.today()
    day = _date(*match.group(1, 2, 3)) if match.group(1) else today
    hour, minute = int(match.group(4)), int(match.group(5))
    if day is None or hour > 23 or minute > 59:
        return "broadcast.when_invalid"
    moment = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)
    if context.settings.quiet_hours.contains(moment):
        return "broadcast.when_quiet"
    if not match.group(1) and moment <= context.now():
        # Never move it to tomorrow silently: she may have mistyped, or meant "now".
        tomorrow = dt.datetime.combine(day + dt.timedelta(days=1), moment.time(), tzinfo=zone)
        return _Tomorrow(tomorrow.astimezone(dt.UTC))
    if moment <= context.now():
        return "broadcast.when_past"
    return moment.astimezone(dt.UTC)


async def when_given(update: Update, context: BotContext) -> int:
    """She typed when to send it: confirm with the exact count."""
    found = await _her_draft(update, context, "broadcast.schedule")
    if found is None:
        return END
    _, broadcast = found
    texts = texts_for(update, context)
    message = update.effective_message
    when = _parse_when(message.text or "" if message else "", context)
    if isinstance(when, str):
        await reply(update, texts(when, **context.settings.quiet_hours.labels()))
        return WHEN
    if isinstance(when, _Tomorrow):
        await _ask_tomorrow(update, context, texts, broadcast, when.moment)
        return WHEN
    await _confirm(update, context, texts, broadcast, when, edit=False)
    return END


async def _ask_tomorrow(
    update: Update,
    context: BotContext,
    texts: Catalogue,
    broadcast: Broadcast,
    moment: dt.datetime,
) -> None:
    local = moment.astimezone(context.settings.zone)
    time, date = f"{local:%H:%M}", long_date(local.date())
    epoch = str(int(moment.timestamp()))
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts("broadcast.tomorrow_yes", time=time),
                    callback_data=_data(broadcast, "tmrw", epoch),
                )
            ],
            [_button(texts, "broadcast.tomorrow_no", broadcast, "when")],
        ]
    )
    question = texts("broadcast.tomorrow_ask", time=time, date=date)
    yes, no = _data(broadcast, "tmrw", epoch), _data(broadcast, "when")
    await ask_yes_no(update, context, question, markup, yes=yes, no=no)


async def _confirm(
    update: Update,
    context: BotContext,
    texts: Catalogue,
    broadcast: Broadcast,
    when: dt.datetime | None,
    *,
    edit: bool,
) -> None:
    count = await broadcasts.recipients_confirmed(_desk(context), broadcast)
    if when is None:
        quiet = context.settings.quiet_hours.contains(context.now())
        text = texts("broadcast.confirm_now", count=f"{count:,}")
        if quiet:
            text = Html(
                text
                + "\n\n"
                + texts("broadcast.confirm_quiet", **context.settings.quiet_hours.labels())
            )
        go = _data(broadcast, "go", "0")
    else:
        local = when.astimezone(context.settings.zone)
        text = texts(
            "broadcast.confirm_at",
            count=f"{count:,}",
            time=f"{local:%H:%M}",
            date=long_date(local.date()),
        )
        go = _data(broadcast, "go", str(int(when.timestamp())))
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts("broadcast.confirm_yes"), callback_data=go)],
            [_button(texts, "broadcast.back", broadcast, "card")],
        ]
    )
    # "No" goes back to the broadcast's card, as the Back button does.
    yes, no = go, _data(broadcast, "card")
    await ask_yes_no(update, context, text, markup, yes=yes, no=no, redraw=edit)


def _picker(
    texts: Catalogue,
    broadcast: Broadcast,
    items: list[tuple[str, str]],
    chosen: tuple[str, ...],
    action: str,
    back: tuple[str, str, str],
) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            ("✓ " if code in chosen else "") + name, callback_data=_data(broadcast, action, code)
        )
        for code, name in items
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(
        [
            _button(texts, back[0], broadcast, back[1], back[2]),
            _button(texts, "broadcast.done", broadcast, "card"),
        ]
    )
    return InlineKeyboardMarkup(rows)


# A button that asks her to type something: what it asks, and the state that awaits it.
_PROMPTS = {
    "due": ("broadcast.ask_due", DUE_RANGE),
    "btn": ("broadcast.ask_button", BUTTON),
    "when": ("broadcast.ask_when", WHEN),
    "tr": ("broadcast.ask_translation", TRANSLATION),
}


async def on_button(update: Update, context: BotContext) -> int | None:
    """Every broadcast button: checked to be hers, current and well-formed before it acts."""
    query = update.callback_query
    assert query is not None and query.data is not None
    member = await guard(update, context, Permission.BROADCAST, "broadcast.button")
    if member is None:
        return END
    texts = texts_for(update, context)
    # A made-up or old button leaves whatever she is doing where it was (None keeps the state).
    match = _DATA.fullmatch(query.data)
    if match is None:
        await answer(query, texts("general.bad_button"), alert=True)
        return None
    broadcast_id, revision, action, argument = match.groups()
    pressed = await broadcasts.press(
        _desk(context), member, int(broadcast_id), int(revision), action, argument or ""
    )
    broadcast, step = pressed.broadcast, pressed.step
    if broadcast is None:
        # Someone else's broadcast, or a card from before a change: nothing happens.
        await answer(query, texts("general.stale_button"), alert=True)
        return None
    if step is None:
        await answer(query, texts("general.bad_button"), alert=True)
        return None
    await answer(query)
    if context.user_data is not None:
        context.user_data[_DRAFT_KEY] = broadcast.id
    await _show(update, context, texts, broadcast, step)
    if step.view == "prompt":
        return _PROMPTS[step.argument][1]
    return DRAFT if step.view in _DRAFT_VIEWS else END


async def _show(
    update: Update, context: BotContext, texts: Catalogue, broadcast: Broadcast, step: Step
) -> None:
    """After the commit: show the result of a button."""
    view = step.view
    if view in ("card", "preview"):
        if view == "preview":
            await _show_preview(update, context, texts, broadcast)
        text, markup = await _card(context, texts, broadcast)
        await edit_message(update, text, markup)
    elif view == "districts":
        audience = Audience.from_json(broadcast.audience)
        items = [(d.code, d.name) for d in context.gazetteer.districts()]
        chosen = audience.codes if audience.kind == "districts" else ()
        back = ("broadcast.back", "card", "")
        markup = _picker(texts, broadcast, items, chosen, "dt", back)
        await edit_message(update, texts("broadcast.pick_districts"), markup)
    elif view == "wards":
        items = [(d.code, d.name) for d in context.gazetteer.districts()]
        markup = _picker(texts, broadcast, items, (), "wd", ("broadcast.back", "card", ""))
        await edit_message(update, texts("broadcast.pick_ward_district"), markup)
    elif view == "wards_of":
        audience = Audience.from_json(broadcast.audience)
        wards = context.gazetteer.wards_in(step.argument)
        chosen = audience.codes if audience.kind == "wards" else ()
        back = ("broadcast.other_district", "aud", "wards")
        markup = _picker(texts, broadcast, [(w.code, w.name) for w in wards], chosen, "wt", back)
        district = context.gazetteer.district(step.argument)
        name = district.name if district else ""
        await edit_message(update, texts("broadcast.pick_wards", district=name), markup)
    elif view == "trimester":
        markup = InlineKeyboardMarkup(
            [
                [
                    _button(texts, f"broadcast.aud_trimester_{n}", broadcast, "tri", str(n))
                    for n in (1, 2, 3)
                ],
                [_button(texts, "broadcast.back", broadcast, "card")],
            ]
        )
        await edit_message(update, texts("broadcast.pick_trimester"), markup)
    elif view == "prompt":
        await reply(update, texts(_PROMPTS[step.argument][0]))
    elif view == "now":
        await _confirm(update, context, texts, broadcast, None, edit=True)
    elif view == "confirm_at":
        when = dt.datetime.fromtimestamp(int(step.argument), dt.UTC)
        await _confirm(update, context, texts, broadcast, when, edit=True)
    elif view == "discard":
        await edit_message(update, texts("broadcast.discarded", number=broadcast.id), None)
    elif view == "nobody":
        await edit_message(update, texts("broadcast.nobody"), None)
    elif view == "scheduled":
        await _scheduled(update, context, texts, broadcast)
    elif view == "sending":
        await _start_sending(update, context, texts, broadcast)
    elif view == "stopped":
        await edit_message(update, _stopped_text(texts, broadcast, int(step.argument)), None)
    elif view == "called_off":
        await edit_message(update, texts("broadcast.called_off", number=broadcast.id), None)


def _stopped_text(texts: Catalogue, broadcast: Broadcast, stopped: int) -> Html:
    """Stopped mid-send: how many messages will now not go, in words that fit the number."""
    if stopped == 0:
        return texts("broadcast.stopped_none", number=broadcast.id)
    return texts("broadcast.stopped", number=broadcast.id, stopped=f"{stopped:,}")


async def _scheduled(
    update: Update, context: BotContext, texts: Catalogue, broadcast: Broadcast
) -> None:
    assert broadcast.send_at is not None
    local = broadcast.send_at.astimezone(context.settings.zone)
    markup = InlineKeyboardMarkup(
        [[_button(texts, "broadcast.cancel_scheduled", broadcast, "stop")]]
    )
    await edit_message(
        update,
        texts(
            "broadcast.scheduled",
            number=broadcast.id,
            time=f"{local:%H:%M}",
            date=long_date(local.date()),
        ),
        markup,
    )


async def _start_sending(
    update: Update, context: BotContext, texts: Catalogue, broadcast: Broadcast
) -> None:
    query = update.callback_query
    assert query is not None
    text = texts("broadcast.starting", number=broadcast.id, total=f"{broadcast.recipients or 0:,}")
    markup = InlineKeyboardMarkup([[_button(texts, "broadcast.stop", broadcast, "stop")]])
    await edit_message(update, text, markup)
    message = query.message
    shown_at = (message.chat.id, message.message_id) if message is not None else None
    screen = _ProgressScreen(context.bot, texts.language)
    await broadcasts.sending(_desk(context), broadcast, shown_at, screen)


def _eta(seconds: float) -> str:
    seconds = max(int(seconds), 1)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def progress_text(
    texts: Catalogue, broadcast: Broadcast, progress: BatchProgress, rate: float
) -> Html:
    """The live progress message: sent, failed, not reachable, left, time to go."""
    counts = progress.counts
    return texts(
        "broadcast.progress",
        number=broadcast.id,
        sent=f"{counts.get(DeliveryStatus.SENT, 0):,}",
        failed=f"{counts.get(DeliveryStatus.FAILED, 0):,}",
        unreachable=f"{counts.get(DeliveryStatus.SKIPPED, 0):,}",
        left=f"{progress.left:,}",
        eta=_eta(progress.left / rate),
    )


def final_text(texts: Catalogue, broadcast: Broadcast, progress: BatchProgress) -> Html:
    """The final report that replaces the progress message."""
    counts = progress.counts
    return texts(
        "broadcast.final",
        number=broadcast.id,
        sent=f"{counts.get(DeliveryStatus.SENT, 0):,}",
        failed=f"{counts.get(DeliveryStatus.FAILED, 0):,}",
        unreachable=f"{counts.get(DeliveryStatus.SKIPPED, 0):,}",
        cancelled=f"{counts.get(DeliveryStatus.CANCELLED, 0):,}",
    )


class _ProgressScreen:
    """The sender's progress message in her chat (broadcasts.ProgressMessage)."""

    def __init__(self, bot: Bot, language: str) -> None:
        self._bot = bot
        self._texts = catalogue(language)

    async def announce(self, broadcast: Broadcast, chat_id: int) -> tuple[int, int] | None:
        texts = self._texts
        total = f"{broadcast.recipients or 0:,}"
        try:
            message = await self._bot.send_message(
                chat_id,
                texts("broadcast.starting", number=broadcast.id, total=total),
                parse_mode=ParseMode.HTML,
                reply_markup=InlineKeyboardMarkup(
                    [[_button(texts, "broadcast.stop", broadcast, "stop")]]
                ),
            )
        except TelegramError:
            logger.warning("could not tell the sender that a scheduled broadcast started")
            return None
        return message.chat.id, message.message_id

    async def update(self, broadcast: Broadcast, progress: BatchProgress, rate: float) -> None:
        stop = _button(self._texts, "broadcast.stop", broadcast, "stop")
        text = progress_text(self._texts, broadcast, progress, rate)
        await self._edit(broadcast, text, InlineKeyboardMarkup([[stop]]))

    async def final(self, broadcast: Broadcast, progress: BatchProgress) -> None:
        await self._edit(broadcast, final_text(self._texts, broadcast, progress), None)

    async def _edit(
        self, broadcast: Broadcast, text: Html, markup: InlineKeyboardMarkup | None
    ) -> None:
        chat_id, message_id = broadcast.progress_chat_id, broadcast.progress_message_id
        try:
            await self._bot.edit_message_text(
                text, chat_id, message_id, parse_mode=ParseMode.HTML, reply_markup=markup
            )
        except TelegramError:
            logger.debug("progress message could not be edited")


async def release_scheduled(context: BotContext) -> None:
    """Job: queue scheduled broadcasts whose time has come, then wake the engine."""
    await release_and_watch(context.application)  # type: ignore[arg-type]


async def release_and_watch(application: BotApplication) -> list[Broadcast]:
    """Queue due broadcasts and watch their progress (broadcasts.release_and_watch)."""
    screen = _ProgressScreen(application.bot, "en")
    return await broadcasts.release_and_watch(_desk_of(application), screen)


async def resume(application: BotApplication) -> None:
    """At start-up: keep watching broadcasts that were sending when the bot stopped."""
    await broadcasts.resume(_desk_of(application), _ProgressScreen(application.bot, "en"))


def _excerpt(html_text: str, limit: int = 80) -> str:
    plain = " ".join(html.unescape(re.sub(r"<[^>]*>", "", html_text)).split())
    return plain if len(plain) <= limit else plain[: limit - 1].rstrip() + "…"


async def list_scheduled(update: Update, context: BotContext) -> None:
    """/scheduled: broadcasts waiting for their time, each with its own cancel button."""
    member = await guard(update, context, Permission.BROADCAST, "broadcast.list")
    if member is None:
        return
    texts = texts_for(update, context)
    waiting = await broadcasts.list_scheduled(_desk(context), member)
    if not waiting:
        await reply(update, texts("broadcast.scheduled_none"))
        return
    await reply(update, texts("broadcast.scheduled_heading", count=len(waiting)))
    for broadcast in waiting:
        assert broadcast.send_at is not None
        local = broadcast.send_at.astimezone(context.settings.zone)
        text = texts(
            "broadcast.scheduled_item",
            number=broadcast.id,
            time=f"{local:%H:%M}",
            date=long_date(local.date()),
            purpose=texts(f"broadcast.purpose_short_{broadcast.purpose.value}"),
            audience=_audience_label(texts, context, Audience.from_json(broadcast.audience)),
            excerpt=_excerpt(broadcast.text),
        )
        stop = _button(texts, "broadcast.cancel_scheduled", broadcast, "stop")
        await reply(update, text, reply_markup=InlineKeyboardMarkup([[stop]]))


async def cancel_compose(update: Update, context: BotContext) -> int:
    """/cancel while composing: the draft stays, unsent."""
    await reply(update, texts_for(update, context)("broadcast.compose_cancelled"))
    return END


async def draft_waiting(update: Update, context: BotContext) -> int:
    """Anything but a button while her draft's card is up: its card again, as it stands."""
    member = await guard(update, context, Permission.BROADCAST, "broadcast.edit")
    if member is None:
        return END
    broadcast = await _pending_draft(update, context, member)
    if broadcast is None:
        # Sent, scheduled or discarded meanwhile (in the console, say): the message was not
        # about a draft, so it gets the answer any message nobody waits for gets.
        await fallback_message(update, context)
        return END
    texts = texts_for(update, context)
    await reply(update, texts("broadcast.draft_waiting"))
    await _send_card(update, context, texts, broadcast)
    return DRAFT


def _ask_again(state: int) -> Callable[[Update, BotContext], Coroutine[Any, Any, int]]:
    """For a sticker or photo where text is wanted: the state's question again."""

    async def ask_again(update: Update, context: BotContext) -> int:
        """Not text where text is wanted: the question again."""
        texts = texts_for(update, context)
        if state == TEXT:
            await reply(update, texts("broadcast.ask_text", max=broadcasts.TEXT_MAX))
        else:
            await reply(update, texts(next(key for key, s in _PROMPTS.values() if s == state)))
        return state

    return ask_again


def broadcast_conversation() -> ConversationHandler[Any]:
    """/broadcast and its buttons; text is only awaited after a button asked for it."""
    text = filters.TEXT & ~filters.COMMAND
    # Buttons are tracked per chat and user on purpose: each press is checked against the
    # database (owner, revision), so PTB's per_message tracking is not needed.
    return conversation(
        name="broadcast",
        entry_points=[
            CommandHandler("broadcast", start, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(on_button, pattern=r"^bc:"),
        ],
        states={
            state: [
                MessageHandler(text, given),
                MessageHandler(~filters.COMMAND, _ask_again(state)),
            ]
            for state, given in (
                (TEXT, text_given),
                (DUE_RANGE, due_range_given),
                (BUTTON, button_given),
                (WHEN, when_given),
                (TRANSLATION, translation_given),
            )
        }
        | {DRAFT: [MessageHandler(~filters.COMMAND, draft_waiting)]},
        fallbacks=[
            CommandHandler("cancel", cancel_compose),
            CallbackQueryHandler(on_button, pattern=r"^bc:"),
        ],
        # A draft left waiting stops catching her messages after an hour (the draft stays, and
        # its card's buttons still work).
        conversation_timeout=dt.timedelta(hours=1),
        allow_reentry=True,
    )
