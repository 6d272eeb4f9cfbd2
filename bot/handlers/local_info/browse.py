"""/services: local services near her, by category, a page at a time, with distances in miles."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.handlers.common import answer, edit_message, reply, sender, texts_for
from bot.services.local_info.content import (
    ContentSet,
    NearbyService,
    nearby_services,
    render_service,
)
from bot.services.places.geo import Ward
from bot.services.residents.profile import find_resident
from bot.texts import Catalogue, Html

PER_PAGE = 4
_HOME = "sv:home"


async def _her_ward(update: Update, context: BotContext) -> Ward | None:
    async with context.session() as session, session.begin():
        resident = await find_resident(session, sender(update).id)
        code = resident.ward_code if resident else None
    return context.gazetteer.ward(code) if code else None


def _categories(
    texts: Catalogue, content: ContentSet, nearby: list[NearbyService]
) -> tuple[Html, InlineKeyboardMarkup]:
    present = {n.service.category for n in nearby}
    buttons = [
        InlineKeyboardButton(c.label, callback_data=f"sv:c:{c.code}:0")
        for c in content.categories
        if c.code in present
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return texts("services.choose"), InlineKeyboardMarkup(rows)


async def _ready(update: Update, context: BotContext) -> tuple[ContentSet, Ward] | None:
    """Her ward and the content, or a kind word about why not."""
    texts = texts_for(update, context)
    content = context.content
    ward = await _her_ward(update, context)
    if update.callback_query is not None:
        await answer(update.callback_query)
    if content is None:
        await reply(update, texts("services.not_ready"))
        return None
    if ward is None:
        await reply(update, texts("services.need_area"))
        return None
    # The directory in the language of the words around it, English where not translated.
    return content.for_language(texts.language), ward


async def _send_categories(
    update: Update, context: BotContext, content: ContentSet, ward: Ward, *, edit: bool
) -> None:
    texts = texts_for(update, context)
    nearby = nearby_services(content, ward)
    if not nearby:
        await reply(update, texts("services.none"))
        return
    text, markup = _categories(texts, content, nearby)
    if edit:
        # Pressing the button of the page already shown changes nothing: nothing to redraw.
        await edit_message(update, text, markup, or_send=False)
    else:
        await reply(update, text, reply_markup=markup)


async def show_services(update: Update, context: BotContext) -> None:
    """/services (or the "all categories" button): the categories with something near her."""
    ready = await _ready(update, context)
    if ready is not None:
        await _send_categories(update, context, *ready, edit=update.callback_query is not None)


async def show_category(update: Update, context: BotContext) -> None:
    """A category button: one page of services, nearest first."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, code, page_text = query.data.split(":")
    ready = await _ready(update, context)
    if ready is None:
        return
    content, ward = ready
    texts = texts_for(update, context)
    category = content.category(code)
    nearby = nearby_services(content, ward, code) if category else []
    page = int(page_text)
    if category is None or not nearby or page * PER_PAGE >= len(nearby):
        # Forged, or the directory changed since this message: show what there is now.
        await reply(update, texts("services.changed"))
        await _send_categories(update, context, content, ward, edit=False)
        return
    shown = nearby[page * PER_PAGE : (page + 1) * PER_PAGE]
    nav = []
    if page > 0:
        nav.append(
            InlineKeyboardButton(texts("services.back"), callback_data=f"sv:c:{code}:{page - 1}")
        )
    if (page + 1) * PER_PAGE < len(nearby):
        nav.append(
            InlineKeyboardButton(texts("services.more"), callback_data=f"sv:c:{code}:{page + 1}")
        )
    rows = [nav] if nav else []
    rows.append([InlineKeyboardButton(texts("services.categories"), callback_data=_HOME)])
    text = texts(
        "services.page",
        label=category.label,
        first=page * PER_PAGE + 1,
        last=page * PER_PAGE + len(shown),
        total=len(nearby),
        services=Html("\n\n".join(render_service(n, texts.language) for n in shown)),
    )
    await edit_message(update, text, InlineKeyboardMarkup(rows), or_send=False)


SERVICES_PATTERN = r"^sv:c:[a-z][a-z0-9_]{1,30}:\d{1,3}$"
HOME_PATTERN = rf"^{_HOME}$"
