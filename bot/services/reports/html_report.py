"""The report as one self-contained HTML file: tables, and charts embedded as PNG."""

from __future__ import annotations

import base64
from html import escape

from bot.services.reports.charts import chart_png
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
"""


def _table_html(table: ProtectedTable) -> str:
    header, *body = table_rows(table)
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


def _section_html(table: ProtectedTable) -> str:
    parts = [
        f'<section id="{escape(table.slug)}">',
        f"<h2>{escape(table.title)}</h2>",
        f"<p>{escape(table.description)}</p>",
    ]
    png = chart_png(table)
    if png is not None:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<img alt="Chart: {escape(table.title)}" src="data:image/png;base64,{data}">')
    parts += [_table_html(table), "</section>"]
    return "\n".join(parts)


def render_html(report: Report, council_name: str) -> str:
    """The whole report; every number in it is a sum of rounded cells."""
    base = report.base
    zero, first = indistinguishable(0, base), indistinguishable(base, base)
    contents = "".join(
        f'<li><a href="#{escape(t.slug)}">{escape(t.title)}</a></li>' for t in report.tables
    )
    sections = "\n".join(_section_html(table) for table in report.tables)
    generated = f"{report.generated_at:%d %B %Y %H:%M} UTC"
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
