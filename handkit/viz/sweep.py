"""Figures of a parameter sweep (:mod:`handkit.experiments.sweep`): each metric against the first
swept parameter, and the optional PNG export."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from handkit.viz.results import METHOD_COLOURS


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


#: Chromium switches for a headless screenshot (root in a container needs --no-sandbox).
CHROMIUM_ARGS = ("--no-sandbox", "--no-first-run", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update")


def system_chromium() -> str | None:
    """The system Chromium (Debian/Ubuntu package ``chromium``) or Chrome, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def write_png(fig: go.Figure, path: Path, *, width: int = 900, height: int = 460) -> str:
    """Write the figure as a PNG with the system Chromium, through kaleido where it is
    installed, else through Playwright (a handkit dependency) drawing the figure's HTML, offline;
    the one-line note says how it went (a missing or failing exporter is a note, never an
    error)."""
    chromium = system_chromium()
    if chromium is None:
        return "PNG skipped: no system Chromium (Debian/Ubuntu: apt-get install chromium)"
    kaleido = importlib.util.find_spec("kaleido") is not None
    if not kaleido and importlib.util.find_spec("playwright") is None:
        return "PNG skipped: neither kaleido nor playwright is installed (the HTML has everything)"
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if kaleido:
            fig.write_image(str(tmp), format="png", width=width, height=height)
        else:
            _screenshot(fig, tmp, chromium=chromium, width=width, height=height)
        os.replace(tmp, path)
    except Exception as error:  # exporters and browsers fail in many ways; the PNG is optional
        tmp.unlink(missing_ok=True)
        return f"PNG skipped: {type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
    return f"PNG: {path}"


def _screenshot(fig: go.Figure, out: Path, *, chromium: str, width: int, height: int) -> None:
    """The figure drawn by plotly.js (inlined: no network) in headless Chromium, as a PNG."""
    from playwright.sync_api import sync_playwright

    sized = go.Figure(fig).update_layout(width=width, height=height)
    html = sized.to_html(include_plotlyjs=True, full_html=True, config={"staticPlot": True})
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": width + 40, "height": height + 40})
            page.set_content(html)
            page.wait_for_selector(".main-svg", timeout=30_000)
            page.locator(".plotly-graph-div").first.screenshot(path=str(out), type="png")
        finally:
            browser.close()


def metric_column(method: str, distance: str = "all") -> str:
    """The ``results.csv`` column of a method's MPJPE: over all unlabelled frames ("all") or in
    a distance bin ("1-15", ...), as notebook 08 writes them."""
    return f"mpjpe.{method}" if distance == "all" else f"by_distance.{method}.{distance}"


def interval_columns(method: str, distance: str = "all") -> tuple[str, str]:
    """The ``results.csv`` columns of the 95 % interval of :func:`metric_column`'s MPJPE over
    the test videos (sweeps made before notebook 08 wrote intervals have none)."""
    return f"ci_low.{method}.{distance}", f"ci_high.{method}.{distance}"


def _error_bars(rows: Sequence[Mapping[str, Any]], method: str, distance: str,
                y: Sequence[float | None]) -> dict | None:
    """plotly ``error_y`` of the intervals of ``rows`` (None when no row has one)."""
    low_column, high_column = interval_columns(method, distance)
    lows = [row.get(low_column) for row in rows]
    highs = [row.get(high_column) for row in rows]
    if all(v is None for v in lows):
        return None
    return dict(type="data", symmetric=False,
                array=[None if h is None or v is None else float(h) - v
                       for h, v in zip(highs, y, strict=True)],
                arrayminus=[None if lo is None or v is None else v - float(lo)
                            for lo, v in zip(lows, y, strict=True)])


def sweep_slice_figure(rows: Sequence[Mapping[str, Any]], *, against: str,
                       methods: Sequence[str], distance: str = "all", log_x: bool = False,
                       title: str | None = None) -> go.Figure:
    """MPJPE of each method against one swept parameter (the others fixed by the caller).

    Args:
        rows: sweep rows (e.g. :func:`handkit.experiments.k_lambda.slice_rows`), sorted
            by ``against``.
        against: the parameter on the x axis, e.g. "label_every".
        methods: Table I method names.
        distance: "all" or a distance bin such as "1-15".
            Rows with :func:`interval_columns` draw their 95 % intervals as error bars.
        log_x: a log x axis (K doubles from point to point).
    """
    fig = go.Figure()
    x = [row[against] for row in rows]
    for method in methods:
        column = metric_column(method, distance)
        y = [None if row.get(column) is None else round(float(row[column]), 1) for row in rows]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=method,
                                 line=dict(color=METHOD_COLOURS.get(method)),
                                 error_y=_error_bars(rows, method, distance, y)))
    frames = "all unlabelled frames" if distance == "all" else f"|u − N(u)| in {distance}"
    fig.update_layout(title=title, template="plotly_white", height=380, width=460,
                      xaxis_title=against, yaxis_title=f"MPJPE (mm), {frames}",
                      xaxis_type="log" if log_x else None, showlegend=True,
                      legend=dict(orientation="h", y=-0.3), margin=dict(t=50, b=110, l=60, r=10))
    if log_x:
        fig.update_xaxes(tickvals=x, ticktext=[f"{v:g}" for v in x])
    if all(value is None for trace in fig.data for value in trace.y):
        fig.add_annotation(text=f"no frame is {distance} frames from a label here"
                           if distance != "all" else "no finished point in this slice",
                           xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False)
    return fig
