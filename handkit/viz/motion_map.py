"""The motion x K sweep in figures: the map of who wins (per motion level and label spacing K,
the method with the lowest MPJPE in each distance bin,
:func:`handkit.experiments.motion_sweep.winners`), and slices of it (MPJPE with its 95 %
interval against K at one motion level, or against the motion level at one K)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from handkit.data.motion import MOTION_LEVELS
from handkit.experiments.table1_format import MODE_NAMES
from handkit.inference import MODE_TITLES
from handkit.viz.results import METHOD_COLOURS

#: Bins shown, in order (the overall error last).
BINS = ("1-15", "16-31", "32-64", "all")


#: Mode titles (:data:`handkit.inference.MODE_TITLES`) -> their Table I names, for the colours.
TABLE1_NAMES = {MODE_TITLES[mode]: name for mode, name in MODE_NAMES.items()}


def _colour(method: str) -> str:
    """A mode title's colour: that of its Table I row (:data:`METHOD_COLOURS`)."""
    return METHOD_COLOURS.get(TABLE1_NAMES.get(method, method), "#888888")


def motion_order(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The motion levels of ``rows``, slowest first (:data:`MOTION_LEVELS`' order; others
    after, as they appear)."""
    known = list(MOTION_LEVELS)
    present = list(dict.fromkeys(row["motion"] for row in rows))
    return sorted(present, key=lambda m: known.index(m) if m in known else len(known))


def _clear(row: Mapping[str, Any]) -> bool:
    """``clear`` as written by the sweep, or as read back from ``winners.csv`` (text)."""
    return row["clear"] in (True, "True")


def winner_map_figure(winners: Sequence[Mapping[str, Any]], *, seed: int | None = None
                      ) -> go.Figure:
    """One panel per distance bin: a cell per (K, motion level) coloured by the winning method
    and labelled with it and its margin over the runner-up (mm; "~" where the winner's 95 %
    interval reaches the runner-up's mean).

    Args:
        winners: rows with motion, label_every, seed, distance, winner, runner_up, margin_mm,
            clear (as :func:`~handkit.experiments.motion_sweep.winners` returns them, or read
            back from ``winners.csv``).
        seed: the seed shown (default: the first in ``winners``).
    Returns:
        A figure with one scatter trace per winning method (square markers), legend = methods.
    """
    rows = [row for row in winners if seed is None or int(row["seed"]) == seed]
    if rows and seed is None:
        rows = [row for row in rows if row["seed"] == rows[0]["seed"]]
    bins = [b for b in BINS if any(row["distance"] == b for row in rows)]
    motions = motion_order(rows)
    ks = sorted({int(row["label_every"]) for row in rows})
    fig = make_subplots(rows=1, cols=max(len(bins), 1), shared_yaxes=True,
                        subplot_titles=[f"{b} frames from a label" if b != "all" else "all frames"
                                        for b in bins] or [""])
    shown: set[str] = set()
    for column, distance in enumerate(bins, start=1):
        for method in dict.fromkeys(row["winner"] for row in rows):
            cells = [row for row in rows if row["distance"] == distance and row["winner"] == method]
            if not cells:
                continue
            fig.add_trace(go.Scatter(
                x=[str(row["label_every"]) for row in cells], y=[row["motion"] for row in cells],
                mode="markers+text", name=method, legendgroup=method,
                showlegend=method not in shown,
                marker=dict(symbol="square", size=46, color=_colour(method), opacity=0.85),
                text=[f"{'' if _clear(row) else '~'}{float(row['margin_mm']):.1f}"
                      for row in cells],
                textfont=dict(color="white", size=12),
                customdata=[[row["runner_up"]] for row in cells],
                hovertemplate=(f"K=%{{x}}, %{{y}}<br>{method}<br>%{{text}} mm better than "
                               "%{customdata[0]}<extra></extra>")), row=1, col=column)
            shown.add(method)
        fig.update_xaxes(type="category", categoryorder="array",
                         categoryarray=[str(k) for k in ks], title_text="K", row=1, col=column)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=motions[::-1])
    fig.update_layout(template="plotly_white", height=380 + 30 * len(motions),
                      title="Lowest MPJPE per label spacing K and motion (number: margin over "
                            "the runner-up, mm; ~: within the winner's interval)",
                      legend=dict(orientation="h", y=-0.25), margin=dict(t=90))
    return fig


def _points(rows: Sequence[Mapping[str, Any]], method: str, distance: str, key: str,
            value: Any) -> dict[Any, Mapping[str, Any]]:
    """The rows of ``method`` in bin ``distance`` whose ``key`` is ``value``, by their other
    coordinate (K or motion)."""
    other = "motion" if key == "label_every" else "label_every"
    return {row[other]: row for row in rows if row["method"] == method
            and row["distance"] == distance and row[key] == value and row["mpjpe"] is not None}


def motion_slice_figure(rows: Sequence[Mapping[str, Any]], *, methods: Sequence[str],
                        distance: str = "all", motion: str | None = None,
                        label_every: int | None = None, mark: Any = None) -> go.Figure:
    """MPJPE of each method with its 95 % interval over test videos: against K at motion level
    ``motion``, or against the motion level at ``label_every`` (give exactly one).

    Args:
        rows: the sweep's long rows of one seed (``results_long.csv`` read back with
            :func:`~handkit.experiments.motion_sweep.read_long`).
        methods: mode titles (:data:`handkit.inference.MODE_TITLES` values), one trace each.
        distance: "all" or a distance bin such as "1-15".
        mark: an x value (a K, or a motion level) to mark with a dashed line, e.g. the one an
            explorer has selected.
    Returns:
        One trace per method, always (a method without a point in this slice has no marker),
        so an explorer can update the figure in place.
    """
    if (motion is None) == (label_every is None):
        raise ValueError("give exactly one of motion and label_every")
    key, value = ("motion", motion) if motion is not None else ("label_every", label_every)
    if key == "motion":
        x = sorted({int(row["label_every"]) for row in rows})
    else:
        x = motion_order(rows)
    fig = go.Figure()
    for method in methods:
        points = _points(rows, method, distance, key, value)
        y = [points[v]["mpjpe"] if v in points else None for v in x]
        low = [points[v]["ci_low"] if v in points else None for v in x]
        high = [points[v]["ci_high"] if v in points else None for v in x]
        fig.add_trace(go.Scatter(
            x=[str(v) for v in x], y=y, mode="lines+markers", name=method,
            line=dict(color=_colour(method)),
            error_y=dict(type="data", symmetric=False,
                         array=[None if h is None or m is None else h - m
                                for h, m in zip(high, y, strict=True)],
                         arrayminus=[None if lo is None or m is None else m - lo
                                     for lo, m in zip(low, y, strict=True)])))
    frames = "all unlabelled frames" if distance == "all" else f"|u − N(u)| in {distance}"
    title = (f"against K, {motion} motion" if key == "motion"
             else f"against the motion, label spacing K = {label_every}")
    fig.update_layout(title=title, template="plotly_white", height=400, width=480,
                      xaxis=dict(type="category", title="K" if key == "motion" else "motion"),
                      yaxis_title=f"MPJPE (mm), {frames}", legend=dict(orientation="h", y=-0.3),
                      margin=dict(t=50, b=130, l=60, r=10))
    if mark is not None and str(mark) in map(str, x):  # shapes place categories by index
        at = [str(v) for v in x].index(str(mark))
        fig.add_shape(type="line", x0=at, x1=at, y0=0, y1=1, yref="paper",
                      line=dict(color="#555555", dash="dash", width=1))
    if all(v is None for trace in fig.data for v in trace.y):
        fig.add_annotation(text="no point of the sweep in this slice", xref="paper",
                           yref="paper", x=0.5, y=0.5, showarrow=False)
    return fig
