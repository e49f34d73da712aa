"""Line figures: a loss falling while a model fits, quantities against the gap |u - s| between
a frame and its label, and feature vectors over their dimensions.

Inputs are numpy arrays, lists or tensors; values are rounded (``decimals``, or significant
digits for losses that span decades) so saved notebooks stay small and stable. Every builder
returns a plain ``go.Figure``. Introduced in ``notebooks/03_hand_predictor.ipynb`` (loss
curves), ``notebooks/04_pose_alignment.ipynb`` (gaps, features) and
``notebooks/06_three_stage_training.ipynb`` (a training run's curves, stage by stage).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

#: Line colours, in the order series are given.
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#d62728", "#8c564b")


def _vector(values, name: str, length: int | None = None) -> np.ndarray:
    """A float64 (N,) copy of ``values`` (N = ``length`` if given)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or (length is not None and array.shape[0] != length):
        want = f"({length},)" if length is not None else "(N,)"
        raise ValueError(f"{name} must have shape {want}, got {array.shape}")
    return array


def significant(values: np.ndarray, digits: int = 4) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits (zeros stay zero).

    >>> significant(np.array([123456.0, 0.000123456, 0.0]), 3).tolist()
    [123000.0, 0.000123, 0.0]
    """
    values = np.asarray(values, dtype=np.float64)
    safe = np.where(values == 0, 1.0, np.abs(values))
    exponent = np.floor(np.log10(safe))  # (N,)
    factor = 10.0 ** (digits - 1 - exponent)
    return np.where(values == 0, 0.0, np.round(values * factor) / factor)


def loss_curve_figure(steps, loss, *, error_mm=None, loss_name: str = "L_pred",
                      title: str | None = None) -> go.Figure:
    """A loss (log scale) against the optimisation step, and beside it a joint error in mm.

    Args:
        steps: (N,) step numbers.
        loss: (N,) the objective at each step (> 0), e.g. L_pred of Eq. 6.
        error_mm: optional (N,) mean joint error at each step, mm (a second panel).
        loss_name: the loss's name on its axis.
        title: the figure's title.
    """
    x = _vector(steps, "steps")
    y = _vector(loss, "loss", len(x))
    panels = 1 if error_mm is None else 2
    titles = [f"{loss_name} (log scale)"] + (["mean joint error (mm)"] if panels == 2 else [])
    fig = make_subplots(rows=1, cols=panels, subplot_titles=titles, horizontal_spacing=0.12)
    fig.add_trace(go.Scatter(x=x, y=significant(y), mode="lines+markers", name=loss_name,
                             line=dict(color=COLOURS[0]), marker=dict(size=4)), row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    if error_mm is not None:
        error = _vector(error_mm, "error_mm", len(x))
        fig.add_trace(go.Scatter(x=x, y=error.round(2), mode="lines+markers",
                                 name="joint error", line=dict(color=COLOURS[1]),
                                 marker=dict(size=4)), row=1, col=2)
        fig.update_yaxes(rangemode="tozero", row=1, col=2)
    fig.update_xaxes(title_text="step")
    fig.update_layout(title=title, template="plotly_white", showlegend=False,
                      height=340, width=420 * panels,
                      margin=dict(l=60, r=20, t=80 if title else 40, b=50))
    return fig


def gap_curves_figure(gaps, panels: Sequence[tuple[str, Mapping[str, object]]], *,
                      markers: Mapping[str, float] | None = None, title: str | None = None,
                      x_title: str = "|u − s| (frames)", decimals: int = 2) -> go.Figure:
    """Curves against the gap |u - s| (or any x), one panel per quantity, side by side.

    Args:
        gaps: (N,) x values, e.g. 0 .. 64.
        panels: (axis title, {series name: (N,) values}) per panel; NaN values leave a gap. A
            name in several panels keeps one colour and one legend entry.
        markers: vertical dashed lines {label: x}, in every panel (e.g. K/2, max_gap).
        title: the figure's title.
        x_title: the x axis's title.
        decimals: values are rounded to this many decimals.
    """
    x = _vector(gaps, "gaps")
    if not panels:
        raise ValueError("give at least one panel")
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[name for name, _ in panels],
                        horizontal_spacing=0.1)
    colours: dict[str, str] = {}  # a series name keeps its colour (and one legend entry)
    for k, (_, series) in enumerate(panels):
        for name, values in series.items():
            y = _vector(values, f"series {name!r}", len(x)).round(decimals)
            first = name not in colours
            colour = colours.setdefault(name, COLOURS[len(colours) % len(COLOURS)])
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, legendgroup=name,
                                     showlegend=first, line=dict(color=colour, width=2)),
                          row=1, col=k + 1)
        for label, at in (markers or {}).items():
            fig.add_vline(x=float(at), line=dict(dash="dash", color="#7f7f7f", width=1),
                          annotation_text=label, annotation_position="top left",
                          annotation_font_size=10, row=1, col=k + 1)
        fig.update_yaxes(rangemode="tozero", row=1, col=k + 1)
        fig.update_xaxes(title_text=x_title, row=1, col=k + 1)
    fig.update_layout(title=title, template="plotly_white", height=360,
                      width=min(1000, 460 * len(panels)),
                      legend=dict(orientation="h", x=0.0, y=-0.22, yanchor="top"),
                      margin=dict(l=60, r=20, t=80 if title else 40, b=90))
    return fig


def feature_figure(vectors: Mapping[str, object], *, title: str | None = None,
                   decimals: int = 2) -> go.Figure:
    """Feature vectors over their dimensions, one panel each, e.g. z_u^r - z_s^r and
    z_u^theta - z_s^theta (the inputs of phi^r and phi^theta, Eqs. 3-4).

    Args:
        vectors: {panel title: (D,) values}.
        title: the figure's title.
        decimals: values are rounded to this many decimals.
    """
    if not vectors:
        raise ValueError("give at least one vector")
    fig = make_subplots(rows=len(vectors), cols=1, subplot_titles=list(vectors),
                        vertical_spacing=0.16)
    for k, (name, values) in enumerate(vectors.items()):
        y = _vector(values, f"vector {name!r}").round(decimals)
        fig.add_trace(go.Bar(x=np.arange(len(y)), y=y, name=name,
                             marker=dict(color=COLOURS[k % len(COLOURS)], line=dict(width=0))),
                      row=k + 1, col=1)
        fig.update_xaxes(title_text="dimension", row=k + 1, col=1)
    fig.update_layout(title=title, template="plotly_white", showlegend=False, bargap=0,
                      height=200 + 190 * len(vectors), width=820,
                      margin=dict(l=60, r=20, t=80 if title else 40, b=40))
    return fig


def _wrap_title(text: str, width: int = 34) -> str:
    """A panel title longer than ``width`` characters broken into lines (plotly's <br>): after
    its first comma, then wherever a line would still be too long.

    >>> _wrap_title("stage 2: Pose Aligner, L_align on labelled pairs")
    'stage 2: Pose Aligner,<br>L_align on labelled pairs'
    """
    if len(text) <= width:
        return text
    head, comma, rest = text.partition(", ")
    parts = [head + comma.rstrip(), rest] if comma else [text]
    return "<br>".join(line for part in parts for line in textwrap.wrap(part, width))


def stage_curves_figure(curves: Mapping[str, Mapping[str, object]],
                        terms: Mapping[str, Mapping[str, str]] | None = None, *,
                        titles: Mapping[str, str] | None = None, title: str | None = None,
                        digits: int = 3) -> go.Figure:
    """A training run's loss curves, one panel per stage in the order given (log scale).

    Args:
        curves: stage -> {column: (N,) values}, with a ``step`` column (what
            :func:`handkit.train.read_curves` returns).
        terms: stage -> {column: display name} of the columns to draw, the stage's objective
            first (drawn thicker); None draws every column but ``step`` and ``lr``.
        titles: stage -> panel title (default: the stage's name); long titles are wrapped.
        title: the figure's title.
        digits: values are rounded to this many significant digits.

    A name (e.g. "L_pred") has one colour in every panel, and one legend entry.

    Example:
        >>> fig = stage_curves_figure({"stage1": {"step": [0, 1], "total": [2e-3, 1e-3]}})
        >>> [t.name for t in fig.data], fig.layout.yaxis.type
        (['total'], 'log')
    """
    if not curves:
        raise ValueError("give the curves of at least one stage")
    stages = list(curves)
    fig = make_subplots(rows=1, cols=len(stages), horizontal_spacing=0.07,
                        subplot_titles=[_wrap_title((titles or {}).get(s, s)) for s in stages])
    colours: dict[str, str] = {}
    for k, stage in enumerate(stages):
        columns = curves[stage]
        if "step" not in columns:
            raise ValueError(f"the curves of {stage!r} have no 'step' column: {list(columns)}")
        x = _vector(columns["step"], f"{stage} steps")
        chosen = (terms or {}).get(stage) or {c: c for c in columns if c not in ("step", "lr")}
        for position, (column, name) in enumerate(chosen.items()):
            if column not in columns:
                raise ValueError(f"the curves of {stage!r} have no column {column!r}; they "
                                 f"have {list(columns)}")
            y = _vector(columns[column], f"{stage} {column}", len(x))
            colour = colours.setdefault(name, COLOURS[len(colours) % len(COLOURS)])
            fig.add_trace(go.Scatter(x=x, y=significant(y, digits), mode="lines", name=name,
                                     legendgroup=name,
                                     showlegend=sum(t.name == name for t in fig.data) == 0,
                                     line=dict(color=colour, width=3 if position == 0 else 1.5)),
                          row=1, col=k + 1)
        fig.update_yaxes(type="log", exponentformat="power", row=1, col=k + 1)
        fig.update_xaxes(title_text="step", row=1, col=k + 1)
    fig.update_layout(title=title, template="plotly_white", height=380,
                      width=min(940, 290 * len(stages) + 80),
                      legend=dict(orientation="h", x=0.0, y=-0.2, yanchor="top"),
                      margin=dict(l=60, r=20, t=110 if title else 80, b=80))
    return fig
