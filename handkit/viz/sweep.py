"""Figures of a parameter sweep (:mod:`handkit.sweep`): each metric against the first swept
parameter, and the optional PNG export."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go


def sweep_figure(rows: Sequence[Mapping[str, Any]], *, swept: Sequence[str],
                 metrics: Sequence[str], title: str = "") -> go.Figure:
    """Each metric against the first swept parameter, a line per value of the others.

    A drop-down menu (top right) picks the metric; the first one shows. The x axis is
    categorical, in grid order; a failed point leaves a gap.

    Args:
        rows: dicts holding the ``swept`` names and the ``metrics`` (None where missing).
        swept: the swept parameter names, in grid order (at least one).
        metrics: the numeric columns to offer.
        title: the figure title.

    Returns:
        ``len(metrics) * G`` scatter traces, G the number of combinations of ``swept[1:]``.
    """
    x_name, others = swept[0], list(swept[1:])
    x_values = list(dict.fromkeys(repr(row[x_name]) for row in rows))
    groups = list(dict.fromkeys(tuple(row[name] for name in others) for row in rows))
    fig = go.Figure()
    for index, metric in enumerate(metrics):
        for group in groups:
            members = {repr(row[x_name]): row for row in rows
                       if tuple(row[name] for name in others) == group}
            y = [members[x].get(metric) if x in members else None for x in x_values]
            name = ", ".join(f"{n}={v!r}" for n, v in zip(others, group, strict=True)) or metric
            fig.add_trace(go.Scatter(
                x=x_values, y=y, mode="lines+markers", name=name, visible=index == 0,
                hovertemplate=f"{x_name}=%{{x}}<br>{metric}=%{{y}}<extra>{name}</extra>"))
    buttons = [
        dict(label=metric, method="update",
             args=[{"visible": [i // len(groups) == index for i in range(len(fig.data))]},
                   {"yaxis.title.text": metric}])
        for index, metric in enumerate(metrics)
    ]
    fig.update_layout(
        title=title, template="plotly_white", height=460, xaxis_title=x_name,
        yaxis_title=metrics[0] if metrics else "(no numbers)", xaxis_type="category",
        legend_title_text=", ".join(others),
        updatemenus=[dict(buttons=buttons, x=1, xanchor="right", y=1.04, yanchor="bottom")]
        if len(metrics) > 1 else [],
        margin=dict(t=110))
    return fig


def write_png(fig: go.Figure, path: Path) -> str:
    """Write the PNG where kaleido and a system Chromium exist; the one-line note says how it
    went (a missing or failing exporter is a note, never an error)."""
    if importlib.util.find_spec("kaleido") is None:
        return "PNG skipped: kaleido is not installed (the HTML figure has everything)"
    if not any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        return "PNG skipped: no system Chromium (Debian/Ubuntu: apt-get install chromium)"
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.write_image(str(tmp), format="png", width=900, height=460)
        os.replace(tmp, path)
    except Exception as error:  # exporter versions fail in many ways; the PNG is optional
        tmp.unlink(missing_ok=True)
        return f"PNG skipped: {type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
    return f"PNG: {path}"


#: Colours of the methods (shared with the Table I figures).
def _colour(method: str) -> str | None:
    from handkit.viz.results import METHOD_COLOURS

    return METHOD_COLOURS.get(method)


def metric_column(method: str, distance: str = "all") -> str:
    """The ``results.csv`` column of a method's MPJPE: over all unlabelled frames ("all") or in
    a distance bin ("1-15", ...), as notebook 08 writes them."""
    return f"mpjpe.{method}" if distance == "all" else f"by_distance.{method}.{distance}"


def sweep_slice_figure(rows: Sequence[Mapping[str, Any]], *, against: str,
                       methods: Sequence[str], distance: str = "all", log_x: bool = False,
                       title: str | None = None) -> go.Figure:
    """MPJPE of each method against one swept parameter (the others fixed by the caller).

    Args:
        rows: sweep rows (e.g. :func:`handkit.k_lambda.slice_rows`), sorted by ``against``.
        against: the parameter on the x axis, e.g. "label_every".
        methods: Table I method names.
        distance: "all" or a distance bin such as "1-15".
        log_x: a log x axis (K doubles from point to point).
    """
    fig = go.Figure()
    x = [row[against] for row in rows]
    for method in methods:
        column = metric_column(method, distance)
        y = [None if row.get(column) is None else round(float(row[column]), 1) for row in rows]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=method,
                                 line=dict(color=_colour(method))))
    frames = "all unlabelled frames" if distance == "all" else f"|u − N(u)| in {distance}"
    fig.update_layout(title=title, template="plotly_white", height=380, width=460,
                      xaxis_title=against, yaxis_title=f"MPJPE (mm), {frames}",
                      xaxis_type="log" if log_x else None, showlegend=True,
                      legend=dict(orientation="h", y=-0.3), margin=dict(t=50, b=110, l=60, r=10))
    if log_x:
        fig.update_xaxes(tickvals=x, ticktext=[f"{v:g}" for v in x])
    return fig
