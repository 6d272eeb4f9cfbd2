"""Charts of protected tables as PNG, each with alt text that says what it shows.

Every column is drawn (every district, every join link), each in its own colour, from the rounded
figures exactly as the tables show them. A table with nothing above zero gets no chart at all.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from bot.services.reports.tables import ProtectedTable

_LONG_LABEL = 14
_HATCHES = ("", "//", "..", "xx")


@dataclass(frozen=True)
class Chart:
    """A chart and the words that stand in for it for anyone who can't see it."""

    png: bytes
    alt: str


@dataclass(frozen=True)
class Unfinished:
    """The report's last month is still going: counted up to `as_of` (local date)."""

    month: str
    as_of: dt.date


def month_label(key: str) -> str:
    """ "2026-01" as people read it, "Jan 2026"; anything else unchanged."""
    try:
        return f"{dt.date.fromisoformat(key + '-01'):%b %Y}"
    except ValueError:
        return key


def row_label(table: ProtectedTable, row: str, unfinished: Unfinished | None = None) -> str:
    """A row's label for people: month names, and the month still going marked as such."""
    if table.row_dim != "month":
        return row
    label = month_label(row)
    if unfinished is not None and row == unfinished.month:
        return f"{label} (to {unfinished.as_of.day} {unfinished.as_of:%b})"
    return label


def series_colours(count: int) -> list[Any]:
    """`count` colours that can be told apart: tab10, then tab20 (dark ones first), then more."""
    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    tab20 = colormaps["tab20"]
    palette = [tab20(i) for i in range(0, 20, 2)] + [tab20(i) for i in range(1, 20, 2)]
    palette += [colormaps["tab20b"](i) for i in range(20)]
    palette += [colormaps["tab20c"](i) for i in range(20)]
    return [palette[i % len(palette)] for i in range(count)]


def _hatch(index: int) -> str:
    # Past the palette, colours repeat: a hatch keeps those series apart.
    return _HATCHES[(index // 60) % len(_HATCHES)]


def _stacked(axes: Axes, table: ProtectedTable, positions: list[float]) -> None:
    colours = series_colours(len(table.columns))
    bottom = [0.0] * len(table.rows)
    for i, column in enumerate(table.columns):
        heights = [float(table.cell(r, column)) for r in table.rows]
        axes.bar(
            positions,
            heights,
            bottom=bottom,
            label=column,
            color=colours[i],
            hatch=_hatch(i),
            width=0.75,
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]


def _grouped(axes: Axes, table: ProtectedTable, positions: list[float], across: bool) -> None:
    colours = series_colours(len(table.columns))
    width = 0.8 / max(len(table.columns), 1)
    for i, column in enumerate(table.columns):
        shifted = [p - 0.4 + width * (i + 0.5) for p in positions]
        heights = [float(table.cell(r, column)) for r in table.rows]
        draw = axes.barh if across else axes.bar
        draw(shifted, heights, width, label=column, color=colours[i], hatch=_hatch(i))


def _lines(axes: Axes, table: ProtectedTable, positions: list[float]) -> None:
    colours = series_colours(len(table.columns))
    for i, column in enumerate(table.columns):
        values = [float(table.cell(r, column)) for r in table.rows]
        style = ("-", "--", ":", "-.")[(i // 10) % 4]
        axes.plot(positions, values, marker="o", label=column, color=colours[i], linestyle=style)


def chart_figure(table: ProtectedTable, unfinished: Unfinished | None = None) -> Figure | None:
    """The table drawn; None when nothing above zero is published (an empty chart helps nobody)."""
    if not table.rows or not table.columns or not any(table.published_numbers()):
        return None
    labels = [row_label(table, r, unfinished) for r in table.rows]
    across = table.chart == "bars" and max(len(label) for label in labels) > _LONG_LABEL
    rows_high = max(3.6, 0.28 * len(table.rows) * max(len(table.columns), 2) / 2 + 1.5)
    height = min(rows_high, 12.0) if across else 4.2
    figure = Figure(figsize=(9, height), dpi=96, layout="constrained")
    axes = figure.add_subplot()
    positions = [float(p) for p in range(len(table.rows))]
    notes: list[str] = []
    if table.chart == "stacked":
        _stacked(axes, table, positions)
    elif table.chart == "lines":
        _lines(axes, table, positions)
    else:
        _grouped(axes, table, positions, across)
    if across:
        axes.set_yticks(positions, labels)
        axes.invert_yaxis()
        axes.set_xlabel("Number")
        axes.set_xlim(left=0)
    else:
        many = len(labels) > 6
        rotation, align = (40, "right") if many else (0, "center")
        axes.set_xticks(positions, labels, rotation=rotation, ha=align)
        axes.set_ylabel("Number")
        # Headroom for the marks above the bars, so none runs into the title.
        axes.set_ylim(bottom=0, top=axes.get_ylim()[1] * 1.08)
    axes.set_title(table.title, fontsize=12, loc="left")
    axes.grid(axis="x" if across else "y", alpha=0.3)
    axes.set_axisbelow(True)
    columns = len(table.columns)
    axes.legend(
        title=table.col_dim.replace("_", " ").capitalize(),
        fontsize="small",
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        ncols=2 if columns > 16 else 1,
    )
    if unfinished is not None and unfinished.month in table.rows and not across:
        # The month still going is drawn paler: its bars will grow.
        where = positions[table.rows.index(unfinished.month)]
        for patch in axes.patches:
            if (
                isinstance(patch, Rectangle)
                and abs(patch.get_x() + patch.get_width() / 2 - where) < 0.45
            ):
                patch.set_alpha(0.55)
    if unfinished is not None and unfinished.month in table.rows:
        notes.append(
            f"{month_label(unfinished.month)} is not over yet: counted up to "
            f"{unfinished.as_of.day} {unfinished.as_of:%B}."
        )
    if notes:
        figure.supxlabel("\n".join(notes), fontsize=8, x=0.01, ha="left", color="#444444")
    return figure


def alt_text(table: ProtectedTable, unfinished: Unfinished | None = None) -> str:
    """What the chart shows, in words: kind, span, series, the biggest figure."""
    kind = {"stacked": "Stacked bar chart", "lines": "Line chart"}.get(table.chart, "Bar chart")
    labels = [row_label(table, r, unfinished) for r in table.rows]
    if table.row_dim == "month":
        span = f"by month, {labels[0]} to {labels[-1]}" if len(labels) > 1 else labels[0]
    else:
        span = f"by {table.row_dim.replace('_', ' ')}: " + ", ".join(labels)
    names = list(table.columns)
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    parts = [
        f"{kind}: {table.title}, {span}.",
        f"One {'line' if table.chart == 'lines' else 'colour'} for each "
        f"{table.col_dim.replace('_', ' ')} ({len(names)}): {shown}.",
    ]
    if table.chart == "stacked" and table.row_totals is not None:
        row, total = max(table.row_totals.items(), key=lambda item: item[1])
        parts.append(f"Highest: {row_label(table, row, unfinished)}, {total} in all.")
    else:
        row, column, value = max(
            ((r, c, table.cell(r, c)) for r in table.rows for c in table.columns),
            key=lambda item: item[2],
        )
        parts.append(f"Highest: {row_label(table, row, unfinished)} – {column}: {value}.")
    parts.append("Every number is rounded to protect residents.")
    if unfinished is not None and unfinished.month in table.rows:
        parts.append(f"{month_label(unfinished.month)} is not over yet.")
    return " ".join(parts)


def chart(table: ProtectedTable, unfinished: Unfinished | None = None) -> Chart | None:
    """The chart as PNG with its alt text; None if there is nothing to draw."""
    figure = chart_figure(table, unfinished)
    if figure is None:
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return Chart(buffer.getvalue(), alt_text(table, unfinished))
