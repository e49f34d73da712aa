"""An explorer of a finished sweep over K and lambda_align: pick the frames (all, or a distance
bin to the nearest label) and the value of the other parameter; two figures show MPJPE against
K and against lambda_align, updated in place. Introduced in ``notebooks/08_experiments.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

from handkit.experiments.k_lambda import slice_rows
from handkit.viz.sweep import sweep_slice_figure
from handkit.widgets.common import DESCRIPTION_WIDTH, LABEL_SPACING, Explorer, slider

__all__ = ["SweepSlices", "slider", "sweep_explorer", "sweep_slices"]


@dataclass(frozen=True)
class SweepSlices:
    """The two slices the explorer shows.

    Attributes:
        at_lambda: the lambda_align of the "against K" slice; at_k: the K of the other.
        distance: "all" or a distance bin.
        against_k, against_lambda: the figures.
    """

    at_lambda: float
    at_k: float
    distance: str
    against_k: go.Figure
    against_lambda: go.Figure


def sweep_slices(rows: list[dict[str, Any]], *, methods: Sequence[str], at_lambda: float,
                 at_k: float, distance: str = "all") -> SweepSlices:
    """MPJPE against K at ``at_lambda``, and against lambda_align at ``at_k``."""
    by_k = slice_rows(rows, against="label_every", at={"lambda_align": at_lambda})
    by_lambda = slice_rows(rows, against="lambda_align", at={"label_every": at_k})
    return SweepSlices(
        at_lambda=at_lambda, at_k=at_k, distance=distance,
        against_k=sweep_slice_figure(by_k, against="label_every", methods=methods,
                                     distance=distance, log_x=True,
                                     title=f"against {LABEL_SPACING}, λ_align = {at_lambda:g}"),
        against_lambda=sweep_slice_figure(by_lambda, against="lambda_align", methods=methods,
                                          distance=distance,
                                          title=f"against λ_align, label spacing K = {at_k:g}"))


def _labelled(values: Sequence[float]) -> list[tuple[str, float]]:
    """Slider options shown as "16" and "0.01" rather than "16.0" (the table's floats)."""
    return [(f"{value:g}", value) for value in values]


def sweep_explorer(rows: list[dict[str, Any]], *, methods: Sequence[str],
                   distances: Sequence[str] = ("all", "1-15", "16-31", "32-64"),
                   show: bool = True) -> Explorer:
    """Controls ``distance`` (a dropdown of frames: all, or a distance bin), ``at_lambda`` and
    ``at_k`` (sliders over the swept values) redrawing :func:`sweep_slices`; drive them from
    code with ``slider(explorer, "distance")``."""
    if not rows:
        raise ValueError("the sweep table has no finished row")
    lambdas = sorted({r["lambda_align"] for r in rows})
    ks = sorted({r["label_every"] for r in rows})
    style, layout = {"description_width": DESCRIPTION_WIDTH}, widgets.Layout(width="460px")
    controls = {
        "distance": widgets.Dropdown(options=list(distances), value=distances[0],
                                     description="frames", style=style),
        "at_lambda": widgets.SelectionSlider(options=_labelled(lambdas),
                                             value=lambdas[len(lambdas) // 2],
                                             description="λ_align", style=style, layout=layout,
                                             continuous_update=False),
        "at_k": widgets.SelectionSlider(options=_labelled(ks), value=ks[-1],
                                        description=LABEL_SPACING,
                                        style=style,
                                        layout=layout, continuous_update=False),
    }

    def compute(distance, at_lambda, at_k):
        return sweep_slices(rows, methods=methods, at_lambda=at_lambda, at_k=at_k,
                            distance=distance)

    explorer = Explorer(
        controls=controls, rows=list(controls.values()), compute=compute,
        figures_of=lambda s: [s.against_k, s.against_lambda], show=show,
        note="Sweep explorer: run this cell to pick frames, λ_align and K for the figures.")
    if explorer.figures:  # side by side
        explorer.children = (*explorer.children[:-2], widgets.HBox(list(explorer.figures)))
    return explorer
