"""The report's charts and page: every series, honest stacks, month names, alt text, headline."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from bot.sandbox.fake_api import FakeTelegram
from bot.services.places.geo import default_gazetteer
from bot.services.reports.charts import Unfinished, alt_text, chart, chart_figure
from bot.services.reports.html_report import render_html
from bot.services.reports.report import Report
from bot.services.reports.sections import Period
from bot.services.reports.tables import ProtectedTable
from models import StaffRole
from tests.factories import make_staff, new_resident_user, onboard
from tests.harness import BotHarness

LONDON = ZoneInfo("Europe/London")
MONTHS = tuple(f"2026-{m:02d}" for m in range(1, 13))
DISTRICTS = tuple(d.name for d in default_gazetteer().districts())


def protected(
    cells: Mapping[tuple[str, str], int],
    *,
    rows: tuple[str, ...] = MONTHS,
    columns: tuple[str, ...] = DISTRICTS,
    row_totals: Mapping[str, int] | None = None,
    chart: str = "stacked",
    title: str = "Sign-ups by month and district",
    row_dim: str = "month",
    column_totals: Mapping[str, int] | None = None,
    grand_total: int | None = None,
) -> ProtectedTable:
    return ProtectedTable(
        slug="signups_by_district",
        title=title,
        description="",
        row_dim=row_dim,
        col_dim="district",
        rows=rows,
        columns=columns,
        base=5,
        cells=dict(cells),
        row_totals=dict(row_totals) if row_totals is not None else None,
        column_totals=column_totals,
        grand_total=grand_total,
        chart=chart,
    )


def busy(value: int = 5) -> dict[tuple[str, str], int]:
    return {(m, d): value for m in MONTHS for d in DISTRICTS}


def bar_heights_by_position(table: ProtectedTable) -> dict[float, float]:
    figure = chart_figure(table)
    assert figure is not None
    heights: dict[float, float] = defaultdict(float)
    for patch in figure.axes[0].patches:
        if isinstance(patch, Rectangle):
            heights[round(patch.get_x() + patch.get_width() / 2, 3)] += patch.get_height()
    return dict(heights)


def test_every_district_is_in_the_chart_each_in_its_own_colour() -> None:
    assert len(DISTRICTS) > 12
    figure = chart_figure(protected(busy()))
    assert figure is not None

    legend = figure.axes[0].get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == list(DISTRICTS)
    colours = {
        label: to_hex(patch.get_facecolor())
        for label, patch in zip(
            [t.get_text() for t in legend.get_texts()], legend.legend_handles, strict=True
        )
        if isinstance(patch, Rectangle)
    }
    assert len(set(colours.values())) == len(DISTRICTS)


def test_nothing_published_above_zero_gives_no_chart_and_the_page_says_why() -> None:
    empty = protected({(m, d): 0 for m in MONTHS for d in DISTRICTS})
    assert chart(empty) is None

    page = render_html(_report([empty]), "Essex County Council")
    assert "<img" not in page
    assert "No chart: nothing above zero to show in this period." in page


def test_months_are_named_and_the_unfinished_month_is_marked() -> None:
    unfinished = Unfinished("2026-12", dt.date(2026, 12, 4))
    figure = chart_figure(protected(busy()), unfinished)
    assert figure is not None

    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert labels[0] == "Jan 2026"
    assert labels[-1] == "Dec 2026 (to 4 Dec)"
    note = figure._supxlabel.get_text()  # type: ignore[attr-defined]
    assert "Dec 2026 is not over yet: counted up to 4 December." in note


def test_alt_text_says_what_the_chart_shows() -> None:
    cells = busy()
    cells[("2026-11", DISTRICTS[0])] = 40
    totals = {m: 5 * len(DISTRICTS) for m in MONTHS}
    totals["2026-11"] = 5 * len(DISTRICTS) + 35
    unfinished = Unfinished("2026-12", dt.date(2026, 12, 4))

    alt = alt_text(protected(cells, row_totals=totals), unfinished)

    assert alt.startswith(
        "Stacked bar chart: Sign-ups by month and district, by month, Jan 2026 to Dec 2026"
    )
    assert f"One colour for each district ({len(DISTRICTS)}): {DISTRICTS[0]}," in alt
    assert f"Highest: Nov 2026, {5 * len(DISTRICTS) + 35} in all." in alt
    assert "Every number is rounded to protect residents." in alt
    assert alt.endswith("Dec 2026 is not over yet.")


def _report(tables: list[ProtectedTable], generated: dt.datetime | None = None) -> Report:
    period = Period(dt.date(2026, 1, 1), dt.date(2026, 12, 1), LONDON)
    made = generated or dt.datetime(2026, 12, 4, 15, 20, tzinfo=dt.UTC)
    return Report(period, made, 5, tables)


def test_the_page_gives_times_in_uk_time_and_a_headline_first() -> None:
    table = protected(
        busy(),
        row_totals={m: 5 * len(DISTRICTS) for m in MONTHS} | {"2026-07": 100},
        column_totals={d: 60 for d in DISTRICTS},
        grand_total=1040,
    )
    summer = dt.datetime(2026, 7, 10, 11, 5, tzinfo=dt.UTC)
    period = Period(dt.date(2026, 1, 1), dt.date(2026, 7, 1), LONDON)

    page = render_html(Report(period, summer, 5, [table]), "Essex County Council")

    assert "Generated 10 July 2026 at 12:05 (UK time)" in page
    headline = re.search(r'<section id="headline".*?</section>', page, re.S)
    assert headline is not None and page.index(headline.group(0)) < page.index("<nav>")
    assert "<li>1040 mums-to-be signed up.</li>" in headline.group(0)
    assert "The busiest month for sign-ups was Jul 2026 (to 10 Jul), with 100." in page
    assert "Jul 2026 is not over yet: its figures run to 10 July." in page
    assert '<th scope="row">Jan 2026</th>' in page


async def test_an_admins_report_has_a_headline_and_charts_with_alt_text(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    admin = fake.new_user("Ada", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), StaffRole.ADMIN, admin.id)
    for i in range(6):
        await onboard(bot, new_resident_user(fake, f"Mum{i}"))  # rounded, 6 reads as 5

    _, page, _ = await bot.send(admin, "/report")

    assert page.document is not None
    html = page.document[1].decode("utf-8")
    assert "<li>5 mums-to-be signed up.</li>" in html
    alts = re.findall(r'<img alt="([^"]+)"', html)
    assert alts and all(len(alt) > 80 for alt in alts)
    assert any(alt.startswith("Stacked bar chart: Sign-ups by month and district") for alt in alts)
    assert "Nov 2026 (to 30 Nov)" in html
    assert "(UK time)" in html and " UTC" not in html
