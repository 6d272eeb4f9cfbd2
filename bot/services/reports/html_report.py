"""The report as one self-contained HTML file: a headline, then tables with charts as PNG."""

from __future__ import annotations

import base64
from html import escape

from bot.services.reports.charts import Unfinished, chart, month_label, row_label
from bot.services.reports.csv_files import table_rows
from bot.services.reports.protection import RATE_MIN_BASES, indistinguishable
from bot.services.reports.report import Report
from bot.services.reports.tables import ProtectedTable

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0 2rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th[scope=row], thead th:first-child { text-align: left; }
tfoot, td.total { font-weight: bold; }
.note { background: #f4f4f4; padding: 0.75rem; }
img { max-width: 100%; }
.headline { font-size: 1.05rem; }
.nochart { color: #555; font-style: italic; }
"""


def unfinished_month(report: Report) -> Unfinished | None:
    """The report's last month, if it was still going when the report was made."""
    made = report.generated_at.astimezone(report.period.zone).date()
    last = report.period.last
    if (made.year, made.month) == (last.year, last.month):
        return Unfinished(f"{last:%Y-%m}", made)
    return None


def _find(report: Report, slug: str) -> ProtectedTable | None:
    return next((t for t in report.tables if t.slug == slug), None)


def headline(report: Report) -> list[str]:
    """A few sentences a councillor reads first, in the same rounded figures as the tables."""
    lines = []
    unfinished = unfinished_month(report)
    signups = _find(report, "signups_by_district")
    if signups is not None and signups.grand_total is not None:
        lines.append(f"{signups.show(signups.grand_total)} mums-to-be signed up.")
        totals = signups.row_totals or {}
        if totals and max(totals.values()) > 0:
            row, most = max(totals.items(), key=lambda item: item[1])
            month = row_label(signups, row, unfinished)
            lines.append(f"The busiest month for sign-ups was {month}, with {signups.show(most)}.")
    for slug, words in (
        ("ratings_by_month", "feedback ratings were given"),
        ("broadcast_reach_by_month", "broadcast messages were handled"),
        ("scheduled_messages_by_month", "scheduled messages were handled"),
    ):
        table = _find(report, slug)
        if table is not None and table.grand_total is not None:
            lines.append(f"{table.show(table.grand_total)} {words}.")
    if unfinished is not None:
        lines.append(
            f"{month_label(unfinished.month)} is not over yet: its figures run to "
            f"{unfinished.as_of.day} {unfinished.as_of:%B}."
        )
    return lines


def generated_text(report: Report) -> str:
    """When the report was made, in the council's time (UK time for UK councils)."""
    local = report.generated_at.astimezone(report.period.zone)
    name = str(report.period.zone)
    zone = "UK time" if name in ("Europe/London", "GB") else name
    return f"{local.day} {local:%B %Y} at {local:%H:%M} ({zone})"


def _table_html(table: ProtectedTable, unfinished: Unfinished | None) -> str:
    header, *body = table_rows(table)
    header = [header[0].replace("_", " ").capitalize(), *header[1:]]
    labels = {row: row_label(table, row, unfinished) for row in table.rows}
    body = [[labels.get(row[0], row[0]), *row[1:]] for row in body]
    footer = body.pop() if table.column_totals is not None else None
    lines = [f'<table class="counts" data-slug="{escape(table.slug)}">', "<thead><tr>"]
    lines += [f'<th scope="col">{escape(cell)}</th>' for cell in header]
    lines.append("</tr></thead><tbody>")
    for row in body:
        lines.append(f'<tr><th scope="row">{escape(row[0])}</th>')
        lines += [f"<td>{escape(cell)}</td>" for cell in row[1:]]
        lines.append("</tr>")
    lines.append("</tbody>")
    if footer is not None:
        lines.append(f'<tfoot><tr><th scope="row">{escape(footer[0])}</th>')
        lines += [f"<td>{escape(cell)}</td>" for cell in footer[1:]]
        lines.append("</tr></tfoot>")
    lines.append("</table>")
    return "".join(lines)


def _section_html(table: ProtectedTable, unfinished: Unfinished | None) -> str:
    parts = [
        f'<section id="{escape(table.slug)}">',
        f"<h2>{escape(table.title)}</h2>",
        f"<p>{escape(table.description)}</p>",
    ]
    drawn = chart(table, unfinished)
    if drawn is not None:
        data = base64.b64encode(drawn.png).decode("ascii")
        parts.append(f'<img alt="{escape(drawn.alt)}" src="data:image/png;base64,{data}">')
    else:
        parts.append('<p class="nochart">No chart: nothing above zero to show in this period.</p>')
    parts += [_table_html(table, unfinished), "</section>"]
    return "\n".join(parts)


def render_html(report: Report, council_name: str) -> str:
    """The whole report; every number in it is a sum of rounded cells."""
    base = report.base
    zero, first = indistinguishable(0, base), indistinguishable(base, base)
    contents = "".join(
        f'<li><a href="#{escape(t.slug)}">{escape(t.title)}</a></li>' for t in report.tables
    )
    unfinished = unfinished_month(report)
    sections = "\n".join(_section_html(table, unfinished) for table in report.tables)
    generated = generated_text(report)
    summary = "".join(f"<li>{escape(line)}</li>" for line in headline(report))
    return f"""<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>Bump Buddies report: {escape(report.period.label())}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Bump Buddies report: {escape(report.period.label())}</h1>
<p>{escape(council_name)}. Generated {escape(generated)}. Months are calendar months in UK time.</p>
<section id="headline" class="headline"><h2>In short</h2><ul>{summary}</ul></section>
<p class="note">To protect residents, every count is rounded to the nearest {base} month by
month: {zero[0]} to {zero[-1]} show as 0, {first[0]} to {first[-1]} as {base}, and so on. Every
figure for more than one month and every total is added up from those rounded figures, and every
rate worked out from them, so no two reports, for any months, can be set against each other to
reveal a small number. Totals can differ a little from the true count, and two tables of the
same people (by district and by join link, say) may not add up to quite the same. A rate is
shown only when its total is {RATE_MIN_BASES * base} or more. Comments residents wrote are not
in this report.</p>
<nav><h2>Contents</h2><ul>{contents}</ul></nav>
{sections}
</body>
</html>
"""
