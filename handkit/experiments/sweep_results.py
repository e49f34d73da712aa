"""A sweep's outcome as tables and a figure: ``results.csv``, ``results.html`` (and
``results.png``) and the printed table (:mod:`handkit.experiments.sweep` writes them)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handkit.course.run import scalar_numbers
from handkit.experiments.sweep_plan import SweepPlan, SweepPoint
from handkit.files import (
    write_text_atomic,
)
from handkit.viz.sweep import sweep_figure, write_png

#: File names in a sweep folder (see :mod:`handkit.experiments.sweep`).
POINT_FILE = "point.json"
SWEEP_FILE = "sweep.json"
RESULTS_CSV = "results.csv"
FIGURE_HTML = "results.html"
FIGURE_PNG = "results.png"

#: Columns of results.csv besides the parameters and the numbers.
STATUS_COLUMNS = ("status", "seconds")
TRAILING_COLUMNS = ("folder", "cell", "error")


@dataclass(frozen=True)
class PointOutcome:
    """A point after the sweep: ``record`` is its ``point.json`` (status "ok" or "failed",
    seconds, cell, error, message); ``results`` the dict its JSON holds (None if it failed);
    ``skipped``: done by an earlier run, not run again."""

    point: SweepPoint
    record: dict[str, Any]
    results: dict[str, Any] | None
    skipped: bool

    @property
    def ok(self) -> bool:
        return self.record.get("status") == "ok"


@dataclass(frozen=True)
class SweepOutcome:
    """What :func:`run_sweep` did and wrote: the points in grid order and the output paths;
    ``png_note`` is one line saying where the PNG went or why it was skipped."""

    out_dir: Path
    points: tuple[PointOutcome, ...]
    csv_path: Path
    figure_path: Path
    png_note: str

    @property
    def failed(self) -> list[PointOutcome]:
        return [outcome for outcome in self.points if not outcome.ok]


def results_rows(plan: SweepPlan, outcomes: Sequence[PointOutcome]
                 ) -> tuple[list[str], list[dict[str, Any]]]:
    """The results table: (columns, a row per point), rows as name -> value.

    Columns: the swept parameters, the fixed ones, status, seconds, every scalar number of the
    points' JSON (dotted keys; prefixed ``result.`` when named like another column), folder,
    cell, error. A failed point leaves its numbers empty (None).
    """
    reserved = [*plan.grid, *plan.fixed, *STATUS_COLUMNS, *TRAILING_COLUMNS]
    metrics: dict[str, None] = {}
    rows = []
    for outcome in outcomes:
        numbers = {(f"result.{key}" if key in reserved else key): value
                   for key, value in scalar_numbers(outcome.results or {})}
        metrics.update(dict.fromkeys(numbers))
        record = outcome.record
        rows.append({**outcome.point.swept, **plan.fixed, "status": record.get("status"),
                     "seconds": record.get("seconds"), **numbers,
                     "folder": outcome.point.folder, "cell": record.get("cell"),
                     "error": record.get("error")})
    columns = [*plan.grid, *plan.fixed, *STATUS_COLUMNS, *metrics, *TRAILING_COLUMNS]
    return columns, [{column: row.get(column) for column in columns} for row in rows]


def _csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        return json.dumps(value) if isinstance(value, (list, tuple, dict)) else str(value)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([cell(row[column]) for column in columns] for row in rows)
    return buffer.getvalue()


def write_table_and_figure(plan: SweepPlan, outcomes: Sequence[PointOutcome], out_dir: Path
                            ) -> tuple[Path, Path, str]:
    """results.csv, results.html and (where possible) results.png: (csv, html, PNG note)."""
    columns, rows = results_rows(plan, outcomes)
    csv_path = out_dir / RESULTS_CSV
    write_text_atomic(csv_path, _csv_text(columns, rows))
    first_metric = len(plan.grid) + len(plan.fixed) + len(STATUS_COLUMNS)
    failed = sum(not outcome.ok for outcome in outcomes)
    fig = sweep_figure(rows, swept=list(plan.grid),
                       metrics=columns[first_metric:-len(TRAILING_COLUMNS)],
                       title=f"{plan.notebook.stem}: sweep over {', '.join(plan.grid)}"
                       + (f" ({failed} failed point(s) left out)" if failed else ""))
    figure_path = out_dir / FIGURE_HTML
    # plotly.js inside the file (4.6 MB): the figure opens offline and in CI artifacts
    write_text_atomic(figure_path, fig.to_html(include_plotlyjs=True, full_html=True))
    return csv_path, figure_path, write_png(fig, out_dir / FIGURE_PNG)


def format_sweep_table(outcome: SweepOutcome) -> str:
    """Plain text: a line per point with its swept values, status and seconds."""
    header = [*outcome.points[0].point.swept, "status", "seconds"]
    lines = [[*(repr(v) for v in p.point.swept.values()),
              ("ok (earlier run)" if p.skipped else "ok") if p.ok else "FAILED",
              str(p.record.get("seconds"))] for p in outcome.points]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True))
                     .rstrip() for row in [header, ["-" * w for w in widths], *lines])


