"""Charts of protected tables as PNG: the rounded figures, as the tables show them."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from bot.services.reports.tables import ProtectedTable

_MAX_SERIES = 12


def _value(value: int) -> float:
    return float(value)


def _series(table: ProtectedTable) -> list[str]:
    # The busiest columns by what is published; a chart with dozens of lines helps nobody.
    def published(column: str) -> float:
        return sum(v for r in table.rows if not math.isnan(v := _value(table.cell(r, column))))

    ranked = sorted(table.columns, key=published, reverse=True)[:_MAX_SERIES]
    return [c for c in table.columns if c in ranked]


def chart_png(table: ProtectedTable) -> bytes | None:
    """The table drawn as lines, stacked bars or grouped bars; None if there is nothing to draw."""
    if not table.rows or not table.columns:
        return None
    columns = _series(table)
    figure = Figure(figsize=(8, 3.6), dpi=96, layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(table.rows)))
    if table.chart == "lines":
        for column in columns:
            values = [_value(table.cell(r, column)) for r in table.rows]
            axes.plot(positions, values, marker="o", label=column)
    elif table.chart == "stacked":
        bottom = [0.0] * len(table.rows)
        for column in columns:
            values = [_value(table.cell(r, column)) for r in table.rows]
            heights = [0.0 if math.isnan(v) else v for v in values]
            axes.bar(positions, heights, bottom=bottom, label=column)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    else:
        width = 0.8 / max(len(columns), 1)
        for i, column in enumerate(columns):
            values = [_value(table.cell(r, column)) for r in table.rows]
            shifted = [p - 0.4 + width * (i + 0.5) for p in positions]
            axes.bar(shifted, [0.0 if math.isnan(v) else v for v in values], width, label=column)
    axes.set_xticks(positions, list(table.rows), rotation=30 if len(table.rows) > 6 else 0)
    axes.set_ylabel("count")
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes.set_ylim(bottom=0)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
