"""Console broadcasts: compose, preview, exact audience, send now or later, cancel, progress.

The rules are the bot's (bot/services/broadcasts.py): the audience is a SQL condition worked out
when it goes, consent included; times must be in the future and outside quiet hours, as in the bot.
"""

from __future__ import annotations

import datetime as dt
import html

from starlette.responses import JSONResponse, Response

from bot.console.web import Ctx, not_found, staff_page, to
from bot.delivery import queue
from bot.services.staff import broadcasts
from bot.services.staff.accounts import Permission
from bot.services.staff.broadcasts import Audience
from bot.texts import catalogue
from models import Broadcast, BroadcastPurpose, BroadcastStatus, DeliveryStatus, StaffRole

PURPOSES = {
    BroadcastPurpose.LOCAL_INFO: "Local information (only residents who said yes to it)",
    BroadcastPurpose.SERVICE: "Service announcement about Bump Buddies (everyone signed up)",
}
KINDS = {"everyone": "Everyone", "districts": "Some districts", "trimester": "One trimester"}


def _audience(ctx: Ctx) -> Audience | str:
    assert ctx.form is not None
    kind = str(ctx.form.get("kind", "everyone"))
    if kind == "districts":
        known = {d.code for d in ctx.state.gazetteer.districts()}
        codes = tuple(str(c) for c in ctx.form.getlist("districts") if str(c) in known)
        if not codes:
            return "Choose at least one district"
        return Audience("districts", codes=codes)
    if kind == "trimester":
        trimester = str(ctx.form.get("trimester", ""))
        if trimester not in ("1", "2", "3"):
            return "Choose a trimester"
        return Audience("trimester", trimester=int(trimester))
    return Audience()


def _today(ctx: Ctx) -> dt.date:
    return ctx.now.astimezone(ctx.state.settings.zone).date()


async def _compose(ctx: Ctx, error: str | None = None, text: str = "") -> Response:
    mine = await broadcasts.scheduled_broadcasts(ctx.db, ctx.member)
    going = [
        b
        for b in await broadcasts.sending_broadcasts(ctx.db)
        if ctx.member.role is StaffRole.ADMIN or b.created_by_id == ctx.member.id
    ]
    return ctx.page(
        "broadcasts.html",
        purposes=PURPOSES,
        kinds=KINDS,
        districts=[(d.code, d.name) for d in ctx.state.gazetteer.districts()],
        scheduled=mine,
        sending=going,
        error=error,
        error_field="text",
        text=text,
        limit=broadcasts.TEXT_MAX,
        status_code=400 if error else 200,
    )


@staff_page(Permission.BROADCAST, "broadcast.list")
async def compose_page(ctx: Ctx) -> Response:
    """The compose form, and what is scheduled or going."""
    return await _compose(ctx)


@staff_page(Permission.BROADCAST, "broadcast.draft")
async def create(ctx: Ctx) -> Response:
    """A draft from the form; then its preview and exact audience."""
    assert ctx.form is not None
    typed = str(ctx.form.get("text", "")).strip()
    if not typed or len(typed) > broadcasts.TEXT_MAX:
        return await _compose(
            ctx, f"Enter the message, up to {broadcasts.TEXT_MAX:,} characters", typed
        )
    if link := broadcasts.insecure_link(typed):
        return await _compose(ctx, f"Links must start with https:// ({link} does not)", typed)
    audience = _audience(ctx)
    if isinstance(audience, str):
        return await _compose(ctx, audience, typed)
    try:
        purpose = BroadcastPurpose(str(ctx.form.get("purpose", "")))
    except ValueError:
        return await _compose(ctx, "Choose what kind of message this is", typed)
    # Staff type plain text here; the bot's drafts hold Telegram HTML, so it is escaped.
    draft = await broadcasts.create_draft(
        ctx.db,
        ctx.member,
        html.escape(typed, quote=False),
        ctx.now,
        paid=ctx.state.settings.broadcast_paid,
    )
    broadcasts.revise(draft, ctx.now, purpose=purpose, audience=audience.as_json())
    return to(ctx.request, f"/broadcasts/{draft.id}")


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
    if audience.kind == "districts":
        names = {d.code: d.name for d in ctx.state.gazetteer.districts()}
        return "Residents in " + ", ".join(names.get(c, c) for c in audience.codes)
    if audience.kind == "trimester":
        return f"Residents in trimester {audience.trimester}"
    if audience.kind == "everyone":
        return "Everyone signed up"
    return audience.kind


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
