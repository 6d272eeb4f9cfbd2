"""Console broadcasts: compose, preview, exact audience, send now or later, cancel, progress.

The rules are the bot's (bot/services/broadcasts.py): the audience is a SQL condition worked out
when it goes, consent included; times must be in the future and outside quiet hours, as in the bot.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

from starlette.responses import HTMLResponse, JSONResponse, Response

from bot.console.web import Ctx, not_found, staff_page, to
from bot.delivery import queue
from bot.languages import language_name, offered_languages
from bot.services.staff import broadcasts
from bot.services.staff.accounts import Permission
from bot.services.staff.broadcasts import Audience
from bot.texts import catalogue
from models import Broadcast, BroadcastPurpose, BroadcastStatus, DeliveryStatus, StaffRole

PURPOSES = {
    BroadcastPurpose.LOCAL_INFO: "Local information (only residents who said yes to it)",
    BroadcastPurpose.SERVICE: "Service announcement about Bump Buddies (everyone signed up)",
}
# Every audience the bot's /broadcast offers, in its order.
KINDS = {
    "everyone": "Everyone",
    "districts": "Some districts",
    "wards": "Some neighbourhoods (wards)",
    "due_dates": "Due dates between two dates",
    "trimester": "One trimester",
    "postnatal": "Residents whose baby is due or born (past the due date)",
}
assert tuple(KINDS) == broadcasts.AUDIENCE_KINDS


@dataclass(frozen=True)
class Composed:
    """The compose form read: a draft's makings, or what is wrong with it (and which field)."""

    text: str
    purpose: BroadcastPurpose
    audience: Audience
    button_text: str | None
    button_url: str | None
    error: str | None = None
    error_field: str = "text"
    # Staff's translations by language code (plain text, as typed).
    translations: tuple[tuple[str, str], ...] = ()


def _date_field(ctx: Ctx, name: str) -> dt.date | None:
    assert ctx.form is not None
    try:
        return dt.date.fromisoformat(str(ctx.form.get(name, "")))
    except ValueError:
        return None


def _audience(ctx: Ctx) -> Audience | tuple[str, str]:
    """The audience chosen, or (what is wrong, the field to fix)."""
    assert ctx.form is not None
    kind = str(ctx.form.get("kind", "everyone"))
    gazetteer = ctx.state.gazetteer
    if kind == "districts":
        known = {d.code for d in gazetteer.districts()}
        codes = tuple(str(c) for c in ctx.form.getlist("districts") if str(c) in known)
        if not codes:
            return "Choose at least one district", "districts"
        return Audience("districts", codes=codes)
    if kind == "wards":
        codes = tuple(str(c) for c in ctx.form.getlist("wards") if gazetteer.ward(str(c)))
        if not codes:
            return "Choose at least one neighbourhood", "wards"
        return Audience("wards", codes=codes)
    if kind == "due_dates":
        first, last = _date_field(ctx, "due_first"), _date_field(ctx, "due_last")
        if first is None or last is None or last < first:
            return "Enter two due dates, the first no later than the last", "due-first"
        return Audience("due_dates", first=first, last=last)
    if kind == "trimester":
        trimester = str(ctx.form.get("trimester", ""))
        if trimester not in ("1", "2", "3"):
            return "Choose a trimester", "trimester"
        return Audience("trimester", trimester=int(trimester))
    if kind == "postnatal":
        return Audience("postnatal")
    return Audience()


def _composed(ctx: Ctx) -> Composed:
    """Read and check the compose form with the bot's rules."""
    assert ctx.form is not None
    typed = str(ctx.form.get("text", "")).strip()
    try:
        purpose = BroadcastPurpose(str(ctx.form.get("purpose", "")))
    except ValueError:
        purpose = BroadcastPurpose.LOCAL_INFO
    button_text = " ".join(str(ctx.form.get("button_text", "")).split()) or None
    button_url = str(ctx.form.get("button_url", "")).strip() or None
    audience = _audience(ctx)
    chosen = audience if isinstance(audience, Audience) else Audience()
    translations = tuple(
        (code, str(ctx.form.get(f"translation_{code}", "")).strip())
        for code, _ in _translation_languages(ctx)
        if str(ctx.form.get(f"translation_{code}", "")).strip()
    )
    made = Composed(typed, purpose, chosen, button_text, button_url, translations=translations)

    def wrong(error: str, field_id: str) -> Composed:
        return Composed(
            typed, purpose, chosen, button_text, button_url, error, field_id, translations
        )

    for code, words in translations:
        if len(words) > broadcasts.TEXT_MAX:
            limit = f"Keep each translation to {broadcasts.TEXT_MAX:,} characters"
            return wrong(limit, f"translation-{code}")
        if link := broadcasts.insecure_link(words):
            return wrong(f"Links must start with https:// ({link} does not)", f"translation-{code}")

    if not typed or len(typed) > broadcasts.TEXT_MAX:
        return wrong(f"Enter the message, up to {broadcasts.TEXT_MAX:,} characters", "text")
    if link := broadcasts.insecure_link(typed):
        return wrong(f"Links must start with https:// ({link} does not)", "text")
    if (button_text is None) != (button_url is None):
        return wrong("Enter both the button's words and its address, or neither", "button-text")
    if button_text is not None and len(button_text) > broadcasts.BUTTON_TEXT_MAX:
        return wrong(
            f"Keep the button's words to {broadcasts.BUTTON_TEXT_MAX} characters", "button-text"
        )
    if button_url is not None and (
        not button_url.startswith(broadcasts.LINK_SCHEME)
        or len(button_url) > broadcasts.BUTTON_URL_MAX
        or any(c.isspace() for c in button_url)
    ):
        return wrong("The button's address must start with https://", "button-url")
    if isinstance(audience, tuple):
        return wrong(*audience)
    return made


def _draft_like(made: Composed) -> Broadcast:
    """An unsaved broadcast, for rendering what residents would get."""
    return Broadcast(
        purpose=made.purpose,
        # Staff type plain text here; the bot's drafts hold Telegram HTML, so it is escaped.
        text=html.escape(made.text, quote=False),
        button_text=made.button_text,
        button_url=made.button_url,
    )


def _translation_languages(ctx: Ctx) -> list[tuple[str, str]]:
    """The offered languages other than English, with their names, for translation boxes."""
    offered = offered_languages(ctx.state.settings)
    return [(code, language_name(code)) for code in offered if code != "en"]


def _today(ctx: Ctx) -> dt.date:
    return ctx.now.astimezone(ctx.state.settings.zone).date()


async def _compose(ctx: Ctx, made: Composed | None = None) -> Response:
    mine = await broadcasts.scheduled_broadcasts(ctx.db, ctx.member)
    going = [
        b
        for b in await broadcasts.sending_broadcasts(ctx.db)
        if ctx.member.role is StaffRole.ADMIN or b.created_by_id == ctx.member.id
    ]
    gazetteer = ctx.state.gazetteer
    districts = gazetteer.districts()
    error = made.error if made is not None else None
    return ctx.page(
        "broadcasts.html",
        purposes=PURPOSES,
        kinds=KINDS,
        districts=[(d.code, d.name) for d in districts],
        wards=[(d.name, [(w.code, w.name) for w in gazetteer.wards_in(d.code)]) for d in districts],
        scheduled=mine,
        sending=going,
        made=made,
        form=ctx.form,
        error=error,
        error_field=made.error_field if made is not None else "text",
        limit=broadcasts.TEXT_MAX,
        button_limit=broadcasts.BUTTON_TEXT_MAX,
        translation_languages=_translation_languages(ctx),
        status_code=400 if error else 200,
    )


@staff_page(Permission.BROADCAST, "broadcast.list")
async def compose_page(ctx: Ctx) -> Response:
    """The compose form, and what is scheduled or going."""
    return await _compose(ctx)


@staff_page(Permission.BROADCAST, "broadcast.draft")
async def create(ctx: Ctx) -> Response:
    """A draft from the form; then its page, with the preview, exact audience and send."""
    made = _composed(ctx)
    if made.error is not None:
        return await _compose(ctx, made)
    draft = await broadcasts.create_draft(
        ctx.db, ctx.member, _draft_like(made).text, ctx.now, paid=ctx.state.settings.broadcast_paid
    )
    broadcasts.revise(
        draft,
        ctx.now,
        purpose=made.purpose,
        audience=made.audience.as_json(),
        button_text=made.button_text,
        button_url=made.button_url,
        # Plain text like the English, escaped the same way.
        translations={c: html.escape(t, quote=False) for c, t in made.translations} or None,
    )
    return to(ctx.request, f"/broadcasts/{draft.id}")


@staff_page(Permission.BROADCAST, "broadcast.preview")
async def preview(ctx: Ctx) -> Response:
    """The compose page's live preview: the message as residents get it, and who would get it.

    Nothing is stored: this is the compose form's current state, rendered by the bot's own
    resident_text and counted by its own audience rule.
    """
    made = _composed(ctx)
    count = None
    if made.error_field not in ("districts", "wards", "due-first", "trimester"):
        count = await broadcasts.count_recipients(ctx.db, made.audience, made.purpose, _today(ctx))
    shown = broadcasts.resident_text(
        catalogue(), _draft_like(made), ctx.state.settings.council_name
    )
    template = ctx.state.templates.get_template("_preview.html")
    return HTMLResponse(
        template.render(
            preview=shown if made.text else None,
            button_text=made.button_text,
            button_url=made.button_url,
            problem=made.error,
            count=count,
            audience=_describe(ctx, made.audience),
        )
    )


async def _visible(ctx: Ctx) -> Broadcast | None:
    return await broadcasts.stoppable_broadcast(
        ctx.db, ctx.member, int(ctx.request.path_params["broadcast_id"])
    )


@staff_page(Permission.BROADCAST, "broadcast.show")
async def show(ctx: Ctx) -> Response:
    """A broadcast: its preview as residents see it, exact audience, and what can be done."""
    broadcast = await _visible(ctx)
    if broadcast is None:
        return not_found(ctx.request)
    audience = Audience.from_json(broadcast.audience)
    count = await broadcasts.count_recipients(ctx.db, audience, broadcast.purpose, _today(ctx))
    progress = await queue.batch_progress(ctx.db, broadcasts.batch_of(broadcast.id))
    preview = broadcasts.resident_text(catalogue(), broadcast, ctx.state.settings.council_name)
    error = ctx.request.query_params.get("error")
    return ctx.page(
        "broadcast.html",
        broadcast=broadcast,
        purpose=PURPOSES[broadcast.purpose],
        audience=_describe(ctx, audience),
        count=count,
        preview=preview,
        progress=_progress(broadcast, progress),
        error={
            "time": "Choose a time in the future, outside quiet hours",
            "nobody": "Nobody would get this message",
        }.get(error or ""),
        error_field="send-at",
        quiet=ctx.state.settings.quiet_hours.labels(),
        zone=str(ctx.state.settings.zone),
    )


def _describe(ctx: Ctx, audience: Audience) -> str:
    """The audience in words, as the page and the preview say it."""
    gazetteer = ctx.state.gazetteer
    if audience.kind == "districts":
        names = {d.code: d.name for d in gazetteer.districts()}
        return "Residents in " + ", ".join(names.get(c, c) for c in audience.codes)
    if audience.kind == "wards":
        wards = [gazetteer.ward(c) for c in audience.codes]
        return "Residents in " + ", ".join(
            f"{w.name} ({w.district_name})" if w else c
            for w, c in zip(wards, audience.codes, strict=True)
        )
    if audience.kind == "due_dates" and audience.first and audience.last:
        return f"Residents due between {audience.first:%-d %B %Y} and {audience.last:%-d %B %Y}"
    if audience.kind == "trimester":
        return f"Residents in trimester {audience.trimester}"
    if audience.kind == "postnatal":
        return "Residents past their due date"
    return "Everyone signed up"


def _progress(broadcast: Broadcast, progress: queue.BatchProgress) -> dict[str, object]:
    counts = progress.counts
    return {
        "status": broadcast.status.value,
        "finished": broadcast.status in (BroadcastStatus.DONE, BroadcastStatus.CANCELLED),
        "total": progress.total,
        "sent": counts.get(DeliveryStatus.SENT, 0),
        "failed": counts.get(DeliveryStatus.FAILED, 0),
        "unreachable": counts.get(DeliveryStatus.SKIPPED, 0),
        "cancelled": counts.get(DeliveryStatus.CANCELLED, 0),
        "left": progress.left,
    }


@staff_page(Permission.BROADCAST, "broadcast.progress")
async def progress_json(ctx: Ctx) -> Response:
    """For the page's polling: how far it has got (and it is marked done once nothing is left)."""
    broadcast = await _visible(ctx)
    if broadcast is None:
        return JSONResponse({}, status_code=404)
    if broadcast.status is BroadcastStatus.SENDING:
        # The bot's own watcher does this too; whichever looks first marks it done, once.
        await broadcasts.finish(ctx.db, broadcast.id, ctx.now)
    progress = await queue.batch_progress(ctx.db, broadcasts.batch_of(broadcast.id))
    return JSONResponse(_progress(broadcast, progress))


def _send_at(ctx: Ctx) -> dt.datetime | str | None:
    """None for now; the chosen time in the council's zone; or "bad"."""
    assert ctx.form is not None
    if ctx.form.get("when") != "later":
        return None
    try:
        local = dt.datetime.fromisoformat(str(ctx.form.get("send_at", "")))
    except ValueError:
        return "bad"
    when = local.replace(tzinfo=ctx.state.settings.zone).astimezone(dt.UTC)
    if when <= ctx.now or ctx.state.settings.quiet_hours.contains(when):
        return "bad"
    return when


@staff_page(Permission.BROADCAST, "broadcast.send")
async def send(ctx: Ctx) -> Response:
    """Send now, or schedule: her own draft only, to the audience counted at that moment."""
    broadcast = await broadcasts.own_broadcast(
        ctx.db, ctx.member, int(ctx.request.path_params["broadcast_id"])
    )
    if broadcast is None or broadcast.status is not BroadcastStatus.DRAFT:
        return not_found(ctx.request)
    path = f"/broadcasts/{broadcast.id}"
    when = _send_at(ctx)
    if when == "bad":
        return to(ctx.request, path + "?error=time")
    audience = Audience.from_json(broadcast.audience)
    count = await broadcasts.count_recipients(ctx.db, audience, broadcast.purpose, _today(ctx))
    if count == 0:
        return to(ctx.request, path + "?error=nobody")
    at = when if isinstance(when, dt.datetime) else ctx.now
    await broadcasts.schedule(ctx.db, ctx.member, broadcast, at, ctx.now, count)
    if when is None:
        # Queued now; the bot's delivery engine finds the rows by itself and sends them.
        await broadcasts.release_due(
            ctx.db,
            ctx.now,
            _today(ctx),
            only=broadcast.id,
            texts=catalogue(),
            council=ctx.state.settings.council_name,
        )
    return to(ctx.request, path)


@staff_page(Permission.BROADCAST, "broadcast.cancel")
async def cancel(ctx: Ctx) -> Response:
    """Stop it: a draft is thrown away, a scheduled one never goes, a sending one stops."""
    broadcast = await _visible(ctx)
    if broadcast is None:
        return not_found(ctx.request)
    if broadcast.status is BroadcastStatus.DRAFT:
        await broadcasts.discard(ctx.db, ctx.member, broadcast, ctx.now)
    elif broadcast.status in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING):
        await broadcasts.cancel(ctx.db, ctx.member, broadcast, ctx.now)
    return to(ctx.request, f"/broadcasts/{broadcast.id}")
