"""Figures of sparsely labelled videos: S_V, the nearest label N(u) and stage-3 pair gaps.

Paper: Sec. II-A (S_V), Sec. II-C (N(u)), Sec. IV (pair sampling). Introduced in
``notebooks/02_sparse_videos.ipynb``. Inputs are numpy arrays (or CPU tensors); outputs are plain
``go.Figure`` s with no random ids, so notebook outputs stay stable.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from handkit.data.pairs import nearest_labelled

LABELLED_COLOUR = "#d62728"
UNLABELLED_COLOUR = "#1f77b4"


def _line(x: np.ndarray, y: np.ndarray, *, name: str, colour: str) -> go.Scatter:
    return go.Scatter(x=x, y=y, mode="lines", line=dict(color=colour, shape="hv"), name=name)


def _markers(x: np.ndarray, y: np.ndarray, *, name: str) -> go.Scatter:
    return go.Scatter(
        x=x, y=y, mode="markers", marker=dict(color=LABELLED_COLOUR, size=8), name=name
    )


def timeline_figure(
    labelled: np.ndarray, *, nearest: np.ndarray | None = None, title: str | None = None
) -> go.Figure:
    """A video's timeline: labelled frames S_V, N(u) (top) and the offset u - N(u) (bottom).

    Args:
        labelled: (T,) bool mask of S_V.
        nearest: (T,) int map N(u); default ``nearest_labelled(labelled)``.
        title: optional figure title.

    Returns:
        Figure with three traces: N(u) against u, the labelled frames (x = y = s, since N(s) = s)
        and u - N(u) against u, which stays within [-K/2, K/2] for labels K apart.
    """
    mask = np.asarray(labelled)
    exact = nearest_labelled(mask)  # (T,), also validates the mask
    nearest = exact if nearest is None else np.asarray(nearest)
    if nearest.shape != mask.shape:
        raise ValueError(f"nearest must have shape {mask.shape} like labelled, got {nearest.shape}")
    frames = np.arange(mask.size)  # (T,)
    s = np.flatnonzero(mask)  # (L,)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4])
    fig.add_trace(_line(frames, nearest, name="N(u)", colour=UNLABELLED_COLOUR), row=1, col=1)
    fig.add_trace(_markers(s, s, name="labelled s ∈ S_V"), row=1, col=1)
    fig.add_trace(_line(frames, frames - nearest, name="u − N(u)", colour="#7f7f7f"), row=2, col=1)
    fig.update_xaxes(title_text="frame u", row=2, col=1)
    fig.update_yaxes(title_text="N(u)", row=1, col=1)
    fig.update_yaxes(title_text="u − N(u)", row=2, col=1)
    fig.update_layout(title=title, height=420, margin=dict(t=40 if title else 10))
    return fig


def pair_gap_histogram(
    pairs: np.ndarray, *, bin_size: int = 1, title: str | None = None
) -> go.Figure:
    """Histogram of the gaps s - u of stage-3 pairs, one trace per branch of the sampler.

    Args:
        pairs: (N, 4) rows ``(video, s, u, u_is_labelled)`` as drawn by
            ``handkit.data.pairs.PairSampler``.
        bin_size: width of a bin in frames, >= 1.
        title: optional figure title.

    Returns:
        Figure with two overlaid histograms: unlabelled I_u, then labelled I_u.
    """
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 4:
        raise ValueError(f"pairs must have shape (N, 4), got {pairs.shape}")
    if bin_size < 1:
        raise ValueError(f"bin_size must be >= 1, got {bin_size}")
    gaps = pairs[:, 1].astype(np.int64) - pairs[:, 2]  # (N,) s - u
    u_is_labelled = pairs[:, 3].astype(bool)  # (N,)
    fig = go.Figure()
    for name, colour, branch in (
        ("unlabelled I_u", UNLABELLED_COLOUR, ~u_is_labelled),
        ("labelled I_u", LABELLED_COLOUR, u_is_labelled),
    ):
        fig.add_trace(
            go.Histogram(x=gaps[branch], name=name, marker_color=colour, xbins=dict(size=bin_size))
        )
    fig.update_layout(
        barmode="overlay", title=title, xaxis_title="gap s − u (frames)", yaxis_title="pairs"
    )
    fig.update_traces(opacity=0.6)
    return fig
