"""Queued messages rendered when sent, in the language she has then (issue 13).

A row keeps the English text it was queued with (what a staff member or an audit sees, and the
fallback) and, when it can be worded again, a template and its parameters:

- `msg:<catalogue key>` with parameters: a catalogue message;
- `week:<content key>` or `digest:<ward>:<category>`: the council's content, from its translation
  (content_translations) where there is one;
- `broadcast:<id>`: a broadcast, with the staff's translation for her language where there is one.

Buttons may carry a `text_key` (a catalogue key): the button's words are then hers too. A change
of language between queueing and sending therefore applies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.queue import Claimed
from bot.texts import Catalogue, Html, catalogue, load_catalogue
from models import Broadcast, ContentTranslation

MESSAGE = "msg:"
WEEK = "week:"
DIGEST = "digest:"
BROADCAST = "broadcast:"
TEXT_KEY = "text_key"
_DATE = "$date"
_HTML = "$html"
_MESSAGE = "$msg"
_MONTH = "$month"

Buttons = list[list[dict[str, Any]]]


def texts_in(language: str) -> Catalogue:
    """Her catalogue: the language was decided by language_for (offered, or a draft the council
    allowed), so it is read as written."""
    return load_catalogue(language)


def message_template(key: str) -> str:
    """The template of a catalogue message."""
    return f"{MESSAGE}{key}"


def encode_params(**params: Any) -> dict[str, Any]:
    """Parameters as a row stores them: dates and ready HTML keep what they are."""
    encoded: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, dt.date):
            encoded[name] = {_DATE: value.isoformat()}
        elif isinstance(value, Html):
            encoded[name] = {_HTML: str(value)}
        else:
            encoded[name] = value
    return encoded


def month(value: dt.date) -> dict[str, str]:
    """A month and year as a parameter ("March 2027"), written in her language when sent."""
    return {_MONTH: value.isoformat()}


def nested(key: str, **params: Any) -> dict[str, Any]:
    """A parameter that is itself a catalogue message, worded in her language too."""
    return {_MESSAGE: key, "params": encode_params(**params)}


def worded(texts: Catalogue, key: str, params: dict[str, Any]) -> Html:
    """A catalogue message with stored parameters, in that catalogue's language."""
    return texts(key, **{name: _decode(value, texts) for name, value in params.items()})


def _decode(value: Any, texts: Catalogue) -> Any:
    if isinstance(value, dict) and _DATE in value:
        return texts.date(dt.date.fromisoformat(value[_DATE]))
    if isinstance(value, dict) and _MONTH in value:
        return texts.month(dt.date.fromisoformat(value[_MONTH]))
    if isinstance(value, dict) and _HTML in value:
        return Html(value[_HTML])
    if isinstance(value, dict) and _MESSAGE in value:
        inner = {k: _decode(v, texts) for k, v in (value.get("params") or {}).items()}
        return texts(str(value[_MESSAGE]), **inner)
    return value


def button(key: str, **fields: str) -> dict[str, Any]:
    """A button whose words come from the catalogue, in her language when it is sent."""
    return {"text": str(catalogue()(key)), **fields, TEXT_KEY: key}


def _buttons(buttons: Buttons | None, language: str) -> Buttons | None:
    if not buttons:
        return buttons
    if not any(TEXT_KEY in b for row in buttons for b in row):
        return buttons
    texts = texts_in(language)
    worded: Buttons = []
    for row in buttons:
        worded.append([])
        for found in row:
            found = dict(found)
            key = found.pop(TEXT_KEY, None)
            if key is not None and key in texts:
                found["text"] = str(texts(key))
            worded[-1].append(found)
    return worded


async def _translations(
    session: AsyncSession, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    pairs = sorted(set(wanted))
    if not pairs:
        return {}
    rows = await session.execute(
        select(ContentTranslation.language, ContentTranslation.key, ContentTranslation.text).where(
            tuple_(ContentTranslation.language, ContentTranslation.key).in_(pairs)
        )
    )
    return {(language, key): text for language, key, text in rows}


async def _broadcasts(session: AsyncSession, ids: Iterable[int]) -> dict[int, Broadcast]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = await session.scalars(select(Broadcast).where(Broadcast.id.in_(wanted)))
    return {b.id: b for b in found}


def _broadcast_text(broadcast: Broadcast, language: str, params: dict[str, Any]) -> str | None:
    translated = (broadcast.translations or {}).get(language)
    if not translated:
        return None
    texts = texts_in(language)
    council = str(params.get("council", ""))
    heading = texts("broadcast.resident_heading", council=council)
    footer = texts(f"broadcast.resident_footer_{broadcast.purpose.value}", council=council)
    return Html(f"{heading}\n\n{translated}\n\n{footer}")


def _content_key(template: str) -> str | None:
    if template.startswith(WEEK):
        return template.removeprefix(WEEK)
    if template.startswith(DIGEST):
        return template
    return None


async def render(
    session: AsyncSession, claimed: Sequence[Claimed], languages: dict[int, str]
) -> list[Claimed]:
    """Each claimed row worded in her language now (`languages`: row id → her language)."""
    content_wanted = [
        (languages[row.id], key)
        for row in claimed
        if row.template and languages[row.id] != "en"
        for key in [_content_key(row.template)]
        if key is not None
    ]
    translated = await _translations(session, content_wanted)
    broadcasts = await _broadcasts(
        session,
        (
            int(row.template.removeprefix(BROADCAST))
            for row in claimed
            if row.template
            and row.template.startswith(BROADCAST)
            and languages[row.id] != "en"
            and row.template.removeprefix(BROADCAST).isdigit()
        ),
    )
    rendered: list[Claimed] = []
    for row in claimed:
        language = languages[row.id]
        text = row.text
        template = row.template or ""
        if language != "en" and template:
            texts = texts_in(language)
            params = {k: _decode(v, texts) for k, v in (row.params or {}).items()}
            content_key = _content_key(template)
            if template.startswith(MESSAGE):
                key = template.removeprefix(MESSAGE)
                if key in texts:
                    text = texts(key, **params)
            elif content_key is not None:
                text = translated.get((language, content_key), text)
            elif template.startswith(BROADCAST):
                found = broadcasts.get(int(template.removeprefix(BROADCAST) or 0))
                text = (found and _broadcast_text(found, language, params)) or text
        rendered.append(replace(row, text=text, buttons=_buttons(row.buttons, language)))
    return rendered
