"""/report for admins: the council report, its CSV files, and residents' comments."""

from __future__ import annotations

import asyncio
import io
import zipfile

from telegram import InputFile, Update
from telegram.constants import ParseMode

from bot.context import BotContext
from bot.handlers.common import guard, reply, texts_for
from bot.services.reports.csv_files import rate_text, table_csv
from bot.services.reports.exports import comments_csv
from bot.services.reports.html_report import render_html
from bot.services.reports.protection import indistinguishable
from bot.services.reports.report import Report, build_report
from bot.services.reports.sections import Period
from bot.services.staff.accounts import Permission
from bot.texts import Catalogue, Html

DEFAULT_MONTHS = 12


def _summary_lines(texts: Catalogue, report: Report) -> Html:
    lines = []
    for table in report.tables:
        if table.grand_total is not None:
            lines.append(
                texts("report.line_total", title=table.title, total=table.show(table.grand_total))
            )
        elif table.share_of_first_column:
            lines += [
                texts(
                    "report.line_share",
                    title=table.title,
                    row=row,
                    share=rate_text(table.share(row)),
                )
                for row in table.rows
                if table.share(row) is not None
            ]
    return Html("\n".join(lines))


def _csv_zip(report: Report) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in report.tables:
            archive.writestr(f"{table.slug}.csv", table_csv(table))
    return buffer.getvalue()


def _period(context: BotContext, months: list[str]) -> Period | None:
    today = context.today()
    if not months:
        return Period.last_months(today, DEFAULT_MONTHS, context.settings.zone)
    parsed = [Period.parse_month(m) for m in months[:2]]
    if len(months) > 2 or any(p is None for p in parsed):
        return None
    first, last = parsed[0], parsed[-1]
    assert first is not None and last is not None
    if last < first:
        return None
    return Period(first, last, context.settings.zone)


async def send_report(update: Update, context: BotContext) -> None:
    """/report [comments] [YYYY-MM [YYYY-MM]]: admins only; anyone else sees an unknown command."""
    if await guard(update, context, Permission.REPORTS, "report.generate") is None:
        return
    texts = texts_for(update, context)
    args = list(context.args or [])
    wants_comments = bool(args) and args[0].lower() == "comments"
    period = _period(context, args[1:] if wants_comments else args)
    chat = update.effective_chat
    if period is None or chat is None:
        await reply(update, texts("report.bad_period"))
        return
    stem = f"bumpbuddies-{period.months()[0]}-to-{period.months()[-1]}"
    if wants_comments:
        async with context.session() as session, session.begin():
            text = await comments_csv(session, period)
        if text.count("\n") <= 1:
            await reply(update, texts("report.no_comments", period=period.label()))
            return
        await chat.send_document(
            InputFile(text.encode("utf-8"), filename=f"{stem}-comments.csv"),
            caption=texts("report.comments_caption", period=period.label()),
            parse_mode=ParseMode.HTML,
        )
        return
    base = context.settings.report_rounding_base
    async with context.session() as session, session.begin():
        report = await build_report(
            session,
            period,
            context.gazetteer,
            generated_at=context.now(),
            base=base,
        )
    # Charts take a moment to draw; the bot keeps answering others meanwhile.
    page = await asyncio.to_thread(render_html, report, context.settings.council_name)
    await reply(
        update,
        texts(
            "report.summary",
            period=period.label(),
            lines=_summary_lines(texts, report),
            base=base,
            zero_up_to=indistinguishable(0, base)[-1],
        ),
    )
    await chat.send_document(
        InputFile(page.encode("utf-8"), filename=f"{stem}.html"),
        caption=texts("report.html_caption"),
        parse_mode=ParseMode.HTML,
    )
    await chat.send_document(
        InputFile(_csv_zip(report), filename=f"{stem}-csv.zip"),
        caption=texts("report.csv_caption"),
        parse_mode=ParseMode.HTML,
    )
