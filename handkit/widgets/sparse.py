"""An ipywidgets explorer for sparse labels: sliders for K, p_unlabelled and the stage-3 gap.

The callback is :func:`sparse_labels`, a plain handkit function: for one video of T frames it
builds S_V (every K-th frame and the last, Sec. II-A), the nearest-label map N(u) (Sec. II-C) and
a batch of stage-3 pairs (Sec. IV), and draws the timeline and the histogram of pair gaps. The
widget only wires controls to it and updates its figures in place
(:mod:`handkit.widgets.common`); ``explorer.result`` holds the last :class:`SparseLabels`, so a
notebook (or a test) can drive the controls headlessly and check what changed. Introduced in
``notebooks/02_sparse_videos.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from IPython.display import Markdown, display

from handkit.data.pairs import (
    STAGE3_MAX_GAP,
    PairSampler,
    labelled_fraction,
    labelled_mask,
    nearest_labelled,
)
from handkit.viz.timeline import pair_gap_histogram, timeline_figure
from handkit.widgets.common import (
    LABEL_SPACING,
    Explorer,
    float_slider,
    int_slider_with_box,
    slider,
)

__all__ = ["SparseLabels", "slider", "sparse_label_explorer", "sparse_labels"]


@dataclass(frozen=True)
class SparseLabels:
    """What the explorer last computed for one video of T frames (N sampled pairs).

    Attributes:
        num_frames: T.
        label_every: K.
        p_unlabelled: probability of the sampler's unlabelled branch.
        max_gap: unlabelled I_u satisfy |u - s| < max_gap.
        labelled: (T,) bool, S_V.
        nearest: (T,) int64, N(u).
        pairs: (N, 4) int64 rows ``(video, s, u, u_is_labelled)`` (video is always 0).
        labelled_fraction: |S_V| / T.
        unlabelled_branch_fraction: share of the N pairs whose I_u is unlabelled.
        nearest_pair_fraction: share of the unlabelled-branch pairs with s = N(u) (the pairs of
            Eq. 10); 0.0 when no pair is unlabelled.
        timeline: figure of S_V and N(u) (``handkit.viz.timeline.timeline_figure``).
        histogram: figure of the gaps s - u by branch (``pair_gap_histogram``).
    """

    num_frames: int
    label_every: int
    p_unlabelled: float
    max_gap: int
    labelled: np.ndarray
    nearest: np.ndarray
    pairs: np.ndarray
    labelled_fraction: float
    unlabelled_branch_fraction: float
    nearest_pair_fraction: float
    timeline: go.Figure
    histogram: go.Figure

    def summary(self) -> str:
        """One line: K, how many frames are labelled and what the pairs are."""
        count = int(self.labelled.sum())
        return (
            f"K = {self.label_every}: {count} of {self.num_frames} frames labelled "
            f"({100 * self.labelled_fraction:.2f} %); {len(self.pairs)} pairs, "
            f"{100 * self.unlabelled_branch_fraction:.1f} % with an unlabelled I_u, "
            f"{100 * self.nearest_pair_fraction:.1f} % of those with s = N(u)"
        )


def _branch_fractions(pairs: np.ndarray, nearest: np.ndarray) -> tuple[float, float]:
    """(share of pairs with unlabelled u, share of those with s = N(u)) for (N, 4) pairs."""
    unlabelled = ~pairs[:, 3].astype(bool)  # (N,)
    if not unlabelled.any():
        return 0.0, 0.0
    s, u = pairs[unlabelled, 1], pairs[unlabelled, 2]
    return float(unlabelled.mean()), float(np.mean(nearest[u] == s))


def sparse_labels(num_frames: int, label_every: int, *, p_unlabelled: float = 0.5,
                  max_gap: int = STAGE3_MAX_GAP, num_pairs: int = 2000, seed: int = 0,
                  show: bool = True) -> SparseLabels:
    """S_V, N(u) and ``num_pairs`` stage-3 pairs of one video of ``num_frames`` frames, drawn.

    Args:
        num_frames: T >= 1.
        label_every: K >= 1.
        p_unlabelled: probability in [0, 1] of drawing an unlabelled I_u.
        max_gap: >= 1; unlabelled I_u satisfy |u - s| < max_gap (paper: 64).
        num_pairs: N >= 1 pairs drawn by ``PairSampler`` (epoch 0 of ``seed``).
        seed: non-negative sampler seed.
        show: display the summary and both figures, as well as returning them.

    >>> state = sparse_labels(300, 128, num_pairs=10, show=False)
    >>> np.flatnonzero(state.labelled).tolist(), state.pairs.shape
    ([0, 128, 256, 299], (10, 4))
    """
    labelled = labelled_mask(num_frames, label_every)  # (T,), validates T and K
    nearest = nearest_labelled(labelled)  # (T,)
    sampler = PairSampler([labelled], p_unlabelled=p_unlabelled, max_gap=max_gap,
                          num_samples=num_pairs, seed=seed)
    pairs = sampler.draw()  # (N, 4)
    unlabelled_share, nearest_share = _branch_fractions(pairs, nearest)
    state = SparseLabels(
        num_frames=int(num_frames), label_every=int(label_every),
        p_unlabelled=float(p_unlabelled), max_gap=int(max_gap),
        labelled=labelled, nearest=nearest, pairs=pairs,
        labelled_fraction=labelled_fraction(num_frames, label_every),
        unlabelled_branch_fraction=unlabelled_share, nearest_pair_fraction=nearest_share,
        timeline=timeline_figure(labelled, nearest=nearest,
                                 title=f"S_V and N(u), label spacing K = {label_every}"),
        histogram=pair_gap_histogram(pairs, title=f"Stage-3 pair gaps, max_gap = {max_gap}"),
    )
    if show:
        for item in _displayed(state):
            display(item)
    return state


def _displayed(state: SparseLabels) -> tuple:
    """What ``show`` displays: the summary line, the timeline and the histogram."""
    return Markdown(state.summary()), state.timeline, state.histogram


def _check_int(value: object, name: str, *, low: int, high: int | None = None) -> None:
    """Raise ValueError unless ``value`` is an int in low..high (the widget reports no errors)."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= low
    if not ok or (high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {span}, got {value!r}")


def sparse_label_explorer(num_frames: int, *, label_every: int = 128, p_unlabelled: float = 0.5,
                          max_gap: int = STAGE3_MAX_GAP, num_pairs: int = 2000, seed: int = 0,
                          max_label_every: int = 256, show: bool = True) -> Explorer:
    """Controls ``label_every`` (K), ``p_unlabelled`` and ``max_gap`` that redraw
    :func:`sparse_labels`.

    K and max_gap each have a slider and a number box for exact values.

    Args:
        num_frames: T of the video explored.
        label_every: initial K, in 1..``max_label_every``.
        p_unlabelled: initial probability of the unlabelled branch, in [0, 1].
        max_gap: initial stage-3 gap, in 1..``max_label_every``.
        num_pairs, seed: passed to :func:`sparse_labels` (fixed while exploring).
        max_label_every: upper end of the K and max_gap sliders, >= 1.
        show: build the live figures below the controls.

    Returns:
        an :class:`~handkit.widgets.common.Explorer`; ``explorer.result`` is the last
        ``SparseLabels``.

    Raises:
        ValueError: for an invalid argument, here, because a widget callback could only log it.
    """
    _check_int(max_label_every, "max_label_every", low=1)
    _check_int(label_every, "label_every", low=1, high=max_label_every)
    _check_int(max_gap, "max_gap", low=1, high=max_label_every)
    _check_int(num_frames, "num_frames", low=1)
    _check_int(num_pairs, "num_pairs", low=1)
    _check_int(seed, "seed", low=0)
    if not 0.0 <= p_unlabelled <= 1.0:
        raise ValueError(f"p_unlabelled must be in [0, 1], got {p_unlabelled!r}")

    k_slider, k_row = int_slider_with_box(LABEL_SPACING, label_every, 1, max_label_every)
    gap_slider, gap_row = int_slider_with_box("max_gap", max_gap, 1, max_label_every)
    p_slider = float_slider("p_unlabelled", p_unlabelled, 0.0, 1.0, step=0.05, width="604px")

    def compute(label_every, p_unlabelled, max_gap):
        return sparse_labels(num_frames, label_every, p_unlabelled=p_unlabelled, max_gap=max_gap,
                             num_pairs=num_pairs, seed=seed, show=False)

    return Explorer(
        controls={"label_every": k_slider, "p_unlabelled": p_slider, "max_gap": gap_slider},
        rows=[k_row, p_slider, gap_row], compute=compute,
        figures_of=lambda state: [state.timeline, state.histogram],
        summary_of=lambda state: state.summary(), show=show,
        note="Sparse-label explorer: run this cell to get controls for K, p_unlabelled and "
             "max_gap and live figures of S_V, N(u) and the stage-3 pair gaps.",
    )
