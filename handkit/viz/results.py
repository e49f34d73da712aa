"""Figures of experiment results: the synthetic Table I as bars, overall and by distance to the
nearest label. Inputs are the row dicts :mod:`handkit.experiments.table1` writes (``table1.csv``,
``by_distance.csv``); outputs plain ``go.Figure`` s. Introduced in
``notebooks/07_evaluation.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

#: A colour per method, so a method looks the same in every figure.
METHOD_COLOURS = {
    "Baseline": "#7f7f7f",
    "Baseline + Align": "#1f77b4",
    "Control": "#aec7e8",
    "Propagation": "#d62728",
    "Copy nearest label": "#bcbd22",
    "Interpolation": "#2ca02c",
    "Bidirectional": "#ff7f0e",
    "Gated": "#9467bd",
    "Fused": "#8c564b",
    "Fused + Interpolation": "#e377c2",
}
#: Colours of methods :data:`METHOD_COLOURS` does not name, in the order they appear.
OTHER_COLOURS = ("#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
                 "#e6550d")


def figure_methods(rows: Sequence[dict], split: str) -> dict[str, str]:
    """Every method with a row on ``split``, with its colour: the methods of
    :data:`METHOD_COLOURS` in that order, then any other in the order it first appears (a
    figure draws every method it is given)."""
    present = list(dict.fromkeys(r["method"] for r in rows if r["split"] == split))
    methods = {m: c for m, c in METHOD_COLOURS.items() if m in present}
    others = [m for m in present if m not in methods]
    methods |= {m: OTHER_COLOURS[k % len(OTHER_COLOURS)] for k, m in enumerate(others)}
    return methods


def _mean_by(rows: Sequence[dict], key: str, **where) -> float:
    values = [r[key] for r in rows if all(r[k] == v for k, v in where.items())]
    values = [v for v in values if v is not None and not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def _rounded(value: float) -> float | None:
    """0.1 mm, or None for NaN (no frames): plotly draws a gap, and a FigureWidget can send it
    (NaN is not JSON)."""
    return None if np.isnan(value) else round(value, 1)


def table1_figure(rows: Sequence[dict], distance_rows: Sequence[dict], *, split: str = "test",
                  key: str = "mpjpe", title: str | None = None) -> go.Figure:
    """Bars of ``key`` per method (left) and of MPJPE per distance bin and method (right).

    Args:
        rows: dicts with ``seed, split, method`` and metric keys (one per seed and method).
        distance_rows: dicts with ``seed, split, method, distance, mpjpe``.
        split: "test" or "train".
        key: the metric of the left panel (e.g. "mpjpe", "mpvpe", "mpjpe_p").
        title: figure title (default names the split).
    Returns:
        a figure with one bar trace per method of ``rows`` (means over seeds; order of
        :func:`figure_methods`), legend shared.
    """
    methods = figure_methods(rows, split)
    if not methods:
        raise ValueError(f"no rows for split {split!r}; rows hold splits "
                         f"{sorted({r['split'] for r in rows})}")
    bins = list(dict.fromkeys(r["distance"] for r in distance_rows if r["split"] == split))
    fig = make_subplots(rows=1, cols=2, column_widths=[0.4, 0.6], subplot_titles=(
        f"{key.upper()} (mm), {split} unlabelled frames",
        "MPJPE (mm) by distance |u − N(u)| to the nearest label"))
    for method, colour in methods.items():
        value = _mean_by(rows, key, method=method, split=split)
        fig.add_trace(go.Bar(x=[method], y=[round(value, 1)], marker_color=colour, name=method,
                             legendgroup=method, text=[f"{value:.1f}"], textposition="outside"),
                      row=1, col=1)
        by_bin = [_rounded(_mean_by(distance_rows, "mpjpe", method=method, split=split,
                                    distance=b)) for b in bins]  # None: a bin without frames
        fig.add_trace(go.Bar(x=bins, y=by_bin, marker_color=colour, name=method,
                             legendgroup=method, showlegend=False), row=1, col=2)
    fig.update_layout(title=title or f"Synthetic Table I ({split} videos)", barmode="group",
                      template="plotly_white", height=440, legend=dict(orientation="h", y=-0.2),
                      margin=dict(t=70, b=40))
    fig.update_xaxes(showticklabels=False, row=1, col=1)
    fig.update_xaxes(title_text="frames to the nearest label", row=1, col=2)
    return fig
