"""Reports as JSON, CSV, PNG and SVG: the CSV writer, the chart renderer (matplotlib, headless) and
the response helpers every report route uses.

Routes serve a report as JSON by default, as CSV with ``?format=csv`` or ``Accept: text/csv``, and its
chart at ``.../chart.png`` and ``.../chart.svg``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic_core import to_json

from libs.common.errors import ValidationFailed


class ChartFormat(StrEnum):
    png = "png"
    svg = "svg"


MEDIA_TYPES = {ChartFormat.png: "image/png", ChartFormat.svg: "image/svg+xml"}


def wants_csv(request: Request, format_: str | None) -> bool:
    if format_ is not None and format_ not in ("json", "csv"):
        raise ValidationFailed.for_field("format", "must be json or csv")
    return format_ == "csv" or (format_ is None and "text/csv" in request.headers.get("accept", ""))


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula: text starting with = + - @ or a tab gets a
    leading apostrophe (OWASP's advice); numbers, negative amounts included, stay numbers."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS) and not _NUMBER.match(text):
        return "'" + text
    return text


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """One header row, then one row per mapping; None is empty, Decimals as written, no cell a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([safe_cell(c) for c in columns])
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
    return out.getvalue()


def csv_response(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def json_response(content: Any) -> Response:
    """A report as JSON, encoded here: the bytes FastAPI makes of ``content`` returned by a route
    (pydantic's serializer: Decimals as strings), but in the caller's thread (a report's worker,
    libs/common/offload.py) rather than on the event loop."""
    return Response(to_json(content, by_alias=True), media_type="application/json")


@dataclass
class Chart:
    """A line chart: x labels, named series (None = no point), named horizontal reference lines."""

    title: str
    x_labels: list[str]
    series: dict[str, list[float | Decimal | None]] = field(default_factory=dict)
    reference_lines: dict[str, float | Decimal] = field(default_factory=dict)
    y_label: str = ""
    x_label: str = ""
    y_percent: bool = False
    bars: dict[str, list[float | Decimal | None]] = field(default_factory=dict)


def render(chart: Chart, chart_format: ChartFormat) -> bytes:
    """The chart's bytes. Safe in a worker thread (routes render in the service's WorkerPool): a
    ``Figure`` of its own, never pyplot, whose registry of open figures is shared by every thread."""
    # Imported on the first chart, not at start-up: matplotlib's import would slow every start, chart or
    # not (figures: docs/performance.md#from-the-codes-comments).
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    figure = Figure(figsize=(10, 5), dpi=100)
    axes = figure.subplots()
    positions = list(range(len(chart.x_labels)))
    width = 0.8 / max(len(chart.bars), 1)
    for index, (name, values) in enumerate(chart.bars.items()):
        xs = [
            p + (index - (len(chart.bars) - 1) / 2) * width
            for p, v in zip(positions, values, strict=True)
            if v is not None
        ]
        ys = [float(v) for v in values if v is not None]
        axes.bar(xs, ys, width=width, label=name, alpha=0.6)
    for name, values in chart.series.items():
        points = [(p, float(v)) for p, v in zip(positions, values, strict=True) if v is not None]
        if points:
            axes.plot([p for p, _ in points], [v for _, v in points], marker="o", markersize=3, label=name)
    for index, (name, value) in enumerate(chart.reference_lines.items()):
        axes.axhline(float(value), linestyle="--", color=f"C{index + 3}", label=name)
    step = max(1, len(chart.x_labels) // 16)
    axes.set_xticks(positions[::step], chart.x_labels[::step], rotation=45, ha="right")
    if chart.y_percent:
        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    axes.set_title(chart.title)
    axes.set_ylabel(chart.y_label)
    axes.set_xlabel(chart.x_label)
    axes.grid(True, alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="best", fontsize="small")
    else:
        axes.text(0.5, 0.5, "no data yet", transform=axes.transAxes, ha="center", va="center")
    figure.tight_layout()
    buffer = io.BytesIO()
    # A fixed date in the metadata keeps the bytes of one chart the same from run to run.
    metadata: dict[str, Any] = {"Date": None} if chart_format is ChartFormat.svg else {}
    figure.savefig(buffer, format=chart_format.value, metadata=metadata)
    return buffer.getvalue()


def chart_response(chart: Chart, chart_format: ChartFormat) -> Response:
    return Response(render(chart, chart_format), media_type=MEDIA_TYPES[chart_format])
