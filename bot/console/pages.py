"""The console's pages. Each asks the bot's services; none has rules of its own."""

from __future__ import annotations

import asyncio
import base64
import io
import zipfile
from dataclasses import dataclass

from sqlalchemy import func, select
from starlette.responses import Response

from bot.console import housekeeping, sessions
from bot.console.web import Ctx, allowed, not_found, staff_page, to
from bot.languages import language_name, offered_languages
from bot.services.reports.charts import chart
from bot.services.reports.csv_files import table_csv, table_rows
from bot.services.reports.html_report import headline, render_html, unfinished_month
from bot.services.reports.protection import indistinguishable, protect_count
from bot.services.reports.report import Report, build_report
from bot.services.reports.sections import Period
from bot.services.staff import accounts as staff
from bot.services.staff import join_links
from bot.services.staff import moderation as staff_moderation
from bot.services.staff.accounts import Permission
from bot.services.staff.audit import audit_csv, audit_events, record
from bot.services.staff.poster import poster_text, render_poster
from bot.texts import catalogue
from models import (
    Delivery,
    DeliveryStatus,
    ModerationAction,
    StaffMember,
    StaffRole,
)

# The overview's figures, by the report table they come from (the same protected numbers).
OVERVIEW_TABLES = (
    ("signups_by_district", "Sign-ups"),
    ("consent_by_purpose", "Consents given"),
    ("matches_by_month", "Matches"),
    ("scheduled_messages_by_month", "Scheduled messages handled"),
    ("broadcast_reach_by_month", "Broadcast messages handled"),
)
DEFAULT_REPORT_MONTHS = 12


async def _report(ctx: Ctx, period: Period) -> Report:
    settings = ctx.state.settings
    return await build_report(
        ctx.db,
        period,
        ctx.state.gazetteer,
        generated_at=ctx.now,
        base=settings.report_rounding_base,
    )


def _month_total(report: Report, slug: str, month: str) -> int | None:
    """A month's row total, as published; None if the table has no such figure."""
    try:
        table = report.table(slug)
    except KeyError:
        return None
    if table.row_totals is not None:
        return table.row_totals.get(month, 0)
    return None


@staff_page(None, "console.overview")
async def overview(ctx: Ctx) -> Response:
    """Overview: whether the bot is running; for admins, this month and last, protected."""
    settings = ctx.state.settings
    figures: list[tuple[str, int | None, int | None]] = []
    queue: dict[str, int] = {}
    months: tuple[str, ...] = ()
    if allowed(ctx.member, Permission.REPORTS):
        today = ctx.now.astimezone(settings.zone).date()
        period = Period.last_months(today, 2, settings.zone)
        months = period.months()
        report = await _report(ctx, period)
        figures = [
            (title, _month_total(report, slug, months[1]), _month_total(report, slug, months[0]))
            for slug, title in OVERVIEW_TABLES
        ]
        counts = await ctx.db.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        base = settings.report_rounding_base
        # The queue is a count of residents' messages like any other: protected the same way.
        queue = {status.value: protect_count(int(n), base) for status, n in counts}
    return ctx.page(
        "overview.html",
        figures=figures,
        months=months,
        queue=[(s.value, queue.get(s.value, 0)) for s in DeliveryStatus],
        health=await housekeeping.bot_health(ctx.db, ctx.now),
        base=settings.report_rounding_base,
    )


def _period_from(ctx: Ctx) -> tuple[Period, str | None]:
    settings = ctx.state.settings
    today = ctx.now.astimezone(settings.zone).date()
    default = Period.last_months(today, DEFAULT_REPORT_MONTHS, settings.zone)
    first_text = ctx.request.query_params.get("from", "")
    last_text = ctx.request.query_params.get("to", "")
    first = Period.parse_month(first_text) if first_text else default.first
    last = Period.parse_month(last_text) if last_text else default.last
    if first is None or last is None or last < first:
        return default, "Enter months as YYYY-MM, with the first no later than the last"
    return Period(first, last, settings.zone), None


@dataclass(frozen=True)
class ShownTable:
    """A protected table as the page shows it."""

    slug: str
    title: str
    description: str
    header: list[str]
    body: list[list[str]]
    footer: list[str] | None
    chart_src: str | None
    chart_alt: str | None


def _shown(report: Report) -> list[ShownTable]:
    unfinished = unfinished_month(report)
    shown = []
    for table in report.tables:
        header, *body = table_rows(table)
        footer = body.pop() if table.column_totals is not None else None
        drawn = chart(table, unfinished)
        src = (
            "data:image/png;base64," + base64.b64encode(drawn.png).decode("ascii")
            if drawn is not None
            else None
        )
        shown.append(
            ShownTable(
                table.slug,
                table.title,
                table.description,
                [header[0].replace("_", " ").capitalize(), *header[1:]],
                body,
                footer,
                src,
                drawn.alt if drawn is not None else None,
            )
        )
    return shown


@staff_page(Permission.REPORTS, "report.generate")
async def reports_page(ctx: Ctx) -> Response:
    """The council report for a period: the same tables and charts as `bumpbuddies report`."""
    period, error = _period_from(ctx)
    report = await _report(ctx, period)
    # Charts take a moment to draw; other requests carry on meanwhile.
    tables = await asyncio.to_thread(_shown, report)
    base = report.base
    return ctx.page(
        "reports.html",
        period=period,
        error=error,
        error_field="from",
        first=ctx.request.query_params.get("from", f"{period.first:%Y-%m}"),
        last=ctx.request.query_params.get("to", f"{period.last:%Y-%m}"),
        headline=headline(report),
        tables=tables,
        base=base,
        zero=indistinguishable(0, base),
    )


@staff_page(Permission.REPORTS, "report.download")
async def report_download(ctx: Ctx) -> Response:
    """The report as files: one table's CSV, every CSV in a zip, or the HTML report."""
    period, error = _period_from(ctx)
    if error is not None:
        return not_found(ctx.request)
    report = await _report(ctx, period)
    stem = f"bumpbuddies-{period.months()[0]}-to-{period.months()[-1]}"
    what = ctx.request.path_params["what"]
    if what == "html":
        page = await asyncio.to_thread(render_html, report, ctx.state.settings.council_name)
        return _download(page.encode("utf-8"), f"{stem}.html", "text/html; charset=utf-8")
    if what == "csv.zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for table in report.tables:
                archive.writestr(f"{table.slug}.csv", table_csv(table))
        return _download(buffer.getvalue(), f"{stem}-csv.zip", "application/zip")
    slug = what.removesuffix(".csv")
    try:
        table = report.table(slug)
    except KeyError:
        return not_found(ctx.request)
    return _download(table_csv(table).encode("utf-8"), f"{stem}-{slug}.csv", "text/csv")


def _download(body: bytes, filename: str, media_type: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


def _bot_link(ctx: Ctx, payload: str) -> str:
    username = ctx.state.settings.bot_username or "YourBot"
    return join_links.deep_link(username, payload)


async def _links_page(ctx: Ctx, error: str | None = None, made: str | None = None) -> Response:
    links = await join_links.visible_links(ctx.db, ctx.member)
    settings = ctx.state.settings
    today = ctx.now.astimezone(settings.zone).date()
    counts = await join_links.link_counts(
        ctx.db, links, today, settings.zone, settings.report_rounding_base
    )
    rows = [
        (c.link, _bot_link(ctx, c.link.code), c.total, c.by_month)
        for c in sorted(counts, key=lambda c: (c.link.revoked_at is not None, -c.link.id))
    ]
    months = list(counts[0].by_month) if counts else []
    districts = [(d.code, d.name) for d in ctx.state.gazetteer.districts()]
    return ctx.page(
        "links.html",
        rows=rows,
        months=months,
        districts=districts,
        error=error,
        error_field="clinic",
        made=made,
        base=settings.report_rounding_base,
        # Posters can be printed in any language the bot offers.
        poster_languages=[
            (code, language_name(code)) for code in offered_languages(settings) if code != "en"
        ],
        status_code=400 if error else 200,
    )


@staff_page(Permission.JOIN_LINKS, "joinlink.list")
async def links_page(ctx: Ctx) -> Response:
    """Her join links (all of them for an admin) with protected sign-up counts."""
    return await _links_page(ctx)


@staff_page(Permission.JOIN_LINKS, "joinlink.create")
async def links_create(ctx: Ctx) -> Response:
    """A new link for a clinic or team."""
    assert ctx.form is not None
    clinic = str(ctx.form.get("clinic", ""))
    district = str(ctx.form.get("district", "")) or None
    known = {d.code for d in ctx.state.gazetteer.districts()}
    if join_links.clean_clinic(clinic) is None:
        return await _links_page(
            ctx, error=f"Enter the clinic or team name, up to {join_links.CLINIC_MAX} characters"
        )
    if district is not None and district not in known:
        return await _links_page(ctx, error="Choose a district from the list")
    link = await join_links.create_join_link(ctx.db, clinic, district, ctx.now, ctx.member)
    return await _links_page(ctx, made=link.code)


@staff_page(Permission.JOIN_LINKS, "joinlink.revoke")
async def links_revoke(ctx: Ctx) -> Response:
    """Stop counting sign-ups for a link (it still starts sign-up)."""
    await join_links.revoke_join_link(
        ctx.db, int(ctx.request.path_params["link_id"]), ctx.now, ctx.member
    )
    return to(ctx.request, "/links")


@staff_page(Permission.JOIN_LINKS, "joinlink.poster")
async def links_poster(ctx: Ctx) -> Response:
    """The link's QR poster, from the bot's own poster generator."""
    link_id = int(ctx.request.path_params["link_id"])
    kind = ctx.request.path_params["kind"]
    links = await join_links.visible_links(ctx.db, ctx.member)
    link = next((item for item in links if item.id == link_id), None)
    if link is None or kind not in ("png", "pdf"):
        return not_found(ctx.request)
    settings = ctx.state.settings
    # In any language the bot offers (?language=ur); English otherwise.
    wanted = ctx.request.query_params.get("language", "en")
    language = wanted if wanted in offered_languages(settings) else "en"
    text = poster_text(language, settings.council_name, link.clinic, settings.council_logo_path)
    poster = await asyncio.to_thread(render_poster, _bot_link(ctx, link.code), text)
    body, media = (poster.png, "image/png") if kind == "png" else (poster.pdf, "application/pdf")
    suffix = "" if language == "en" else f"-{language}"
    return _download(body, f"poster-{link.code}{suffix}.{kind}", media)


@staff_page(Permission.MODERATE, "moderation.list")
async def moderation_page(ctx: Ctx) -> Response:
    """The open reports about matches, oldest first, with the decisions /moderation offers."""
    reports = await staff_moderation.open_reports(ctx.db)
    done = ctx.request.query_params.get("done")
    return ctx.page(
        "moderation.html",
        reports=reports,
        decisions=[a for a in ModerationAction if a in staff_moderation.DECISIONS],
        done=done if done in {a.value for a in ModerationAction} else None,
    )


@staff_page(Permission.MODERATE, "moderation.decide")
async def moderation_decide(ctx: Ctx) -> Response:
    """A decision, and her notice queued exactly as the bot's /moderation does."""
    assert ctx.form is not None
    report_id = int(ctx.request.path_params["report_id"])
    try:
        action = ModerationAction(str(ctx.form.get("action", "")))
    except ValueError:
        return not_found(ctx.request)
    if action not in staff_moderation.DECISIONS:
        return not_found(ctx.request)
    decided = await staff_moderation.decide(ctx.db, ctx.member, report_id, action, ctx.now)
    if decided is None:
        return to(ctx.request, "/moderation?done=gone")
    if action in (ModerationAction.WARN, ModerationAction.SUSPEND):
        settings = ctx.state.settings
        notice = catalogue(decided.language_code)(
            f"moderation.notice_{action.value}",
            email=settings.council_contact_email,
            phone=settings.council_contact_phone,
        )
        # The bot's delivery engine finds queued rows by itself (it polls while idle).
        await staff_moderation.queue_notice(ctx.db, decided, notice, ctx.now)
    return to(ctx.request, f"/moderation?done={action.value}")


async def _staff_page(
    ctx: Ctx, invite_link: str | None = None, error: str | None = None
) -> Response:
    members = await staff.list_staff(ctx.db)
    return ctx.page(
        "staff.html",
        members=members,
        roles=list(StaffRole),
        invite_link=invite_link,
        error=error,
        error_field="invite-role",
        status_code=400 if error else 200,
    )


@staff_page(Permission.MANAGE_STAFF, "staff.list")
async def staff_list(ctx: Ctx) -> Response:
    """Everyone on the staff list, current first."""
    return await _staff_page(ctx)


def _role(ctx: Ctx) -> StaffRole | None:
    assert ctx.form is not None
    try:
        return StaffRole(str(ctx.form.get("role", "")))
    except ValueError:
        return None


@staff_page(Permission.MANAGE_STAFF, "staff.invite")
async def staff_invite(ctx: Ctx) -> Response:
    """A single-use invitation, shown once."""
    role = _role(ctx)
    if role is None:
        return await _staff_page(ctx, error="Choose a role for the person you are inviting")
    payload = await staff.create_invite(ctx.db, ctx.member, role, ctx.now)
    return await _staff_page(ctx, invite_link=_bot_link(ctx, payload))


@staff_page(Permission.MANAGE_STAFF, "audit.export")
async def audit_download(ctx: Ctx) -> Response:
    """The whole audit trail as CSV, as the bot's /audit sends it (the export itself audited)."""
    record(ctx.db, ctx.now, staff.actor(ctx.member), "audit.export", None, "ok")
    await ctx.db.flush()
    content = audit_csv(await audit_events(ctx.db))
    day = ctx.now.astimezone(ctx.state.settings.zone).date()
    return _download(content.encode("utf-8"), f"bumpbuddies-audit-{day}.csv", "text/csv")


@staff_page(Permission.MANAGE_STAFF, "staff.role")
async def staff_change_role(ctx: Ctx) -> Response:
    """Give a current member another role (the command line's `staff add` for someone there)."""
    role = _role(ctx)
    target = await ctx.db.get(StaffMember, int(ctx.request.path_params["staff_id"]))
    if role is None or target is None or target.revoked_at is not None:
        return await _staff_page(ctx, error="Choose a role for a current member of staff")
    if target.id == ctx.member.id:
        # Like revoking oneself: someone must always be left to manage staff.
        return await _staff_page(ctx, error="You can't change your own role")
    await staff.add_staff(ctx.db, target.telegram_user_id, role, ctx.now, added_by=ctx.member)
    return to(ctx.request, "/staff")


@staff_page(Permission.MANAGE_STAFF, "staff.revoke")
async def staff_remove(ctx: Ctx) -> Response:
    """Take away someone's staff access; her console sessions end with it."""
    removed = await staff.revoke_staff(
        ctx.db, ctx.member, int(ctx.request.path_params["staff_id"]), ctx.now
    )
    if removed is None:
        return await _staff_page(ctx, error="That person is not a current member you can remove")
    await sessions.end_sessions_of(ctx.db, removed.id, ctx.now)
    return to(ctx.request, "/staff")
