"""An explorer of the motion x K sweep: pick the frames (all, or a distance bin to the nearest
label), the motion level and the label spacing K; two figures show each method's MPJPE with its
95 % interval against K (at that motion) and against the motion (at that K), and a line names
the winner of the chosen cell. Introduced in ``notebooks/08_experiments.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

from handkit.experiments.motion_sweep import winners
from handkit.viz.motion_map import motion_order, motion_slice_figure
from handkit.widgets.common import DESCRIPTION_WIDTH, LABEL_SPACING, Explorer

__all__ = ["MotionSlices", "motion_slices", "motion_sweep_explorer"]


@dataclass(frozen=True)
class MotionSlices:
    """What the explorer shows for one choice.

    Attributes:
        motion, label_every, distance: the choice.
        winner: the cell's row of :func:`~handkit.experiments.motion_sweep.winners` among the
            shown methods (None: no point there).
        against_k, against_motion: the figures.
    """

    motion: str
    label_every: int
    distance: str
    winner: dict[str, Any] | None
    against_k: go.Figure
    against_motion: go.Figure


def motion_slices(rows: list[dict[str, Any]], *, methods: Sequence[str], motion: str,
                  label_every: int, distance: str = "all") -> MotionSlices:
    """The two slices through (``motion``, ``label_every``) and the winner there."""
    shown = [row for row in rows if row["method"] in methods]
    cell = [row for row in winners(shown) if row["motion"] == motion
            and int(row["label_every"]) == label_every and row["distance"] == distance]
    return MotionSlices(
        motion=motion, label_every=label_every, distance=distance,
        winner=cell[0] if cell else None,
        against_k=motion_slice_figure(rows, methods=methods, distance=distance, motion=motion,
                                      mark=label_every),
        against_motion=motion_slice_figure(rows, methods=methods, distance=distance,
                                           label_every=label_every, mark=motion))


def _summary(result: MotionSlices) -> str:
    win = result.winner
    if win is None:
        return f"No point at {result.motion} motion, K = {result.label_every}."
    frames = "all frames" if result.distance == "all" else f"{result.distance} frames from a label"
    support = ("its interval lies below the runner-up" if win["clear"]
               else "within its interval, so not a clear win")
    return (f"<b>{result.motion}, K = {result.label_every}, {frames}:</b> {win['winner']} wins "
            f"by {win['margin_mm']:.1f} mm over {win['runner_up']} ({support}).")


def motion_sweep_explorer(rows: list[dict[str, Any]], *, methods: Sequence[str],
                          distances: Sequence[str] = ("all", "1-15", "16-31", "32-64"),
                          show: bool = True) -> Explorer:
    """Controls ``distance`` (a dropdown), ``motion`` (a slider over the motion levels, slowest
    first) and ``label_every`` (a slider over the swept K) redrawing :func:`motion_slices`;
    drive them from code with :func:`handkit.widgets.common.slider`."""
    if not rows:
        raise ValueError("the motion sweep has no evaluated point")
    motions = motion_order(rows)
    ks = sorted({int(row["label_every"]) for row in rows})
    style, layout = {"description_width": DESCRIPTION_WIDTH}, widgets.Layout(width="460px")
    controls = {
        "distance": widgets.Dropdown(options=list(distances), value=distances[0],
                                     description="frames", style=style),
        "motion": widgets.SelectionSlider(options=motions, value=motions[0],
                                          description="motion", style=style, layout=layout,
                                          continuous_update=False),
        "label_every": widgets.SelectionSlider(options=[(str(k), k) for k in ks], value=ks[-1],
                                               description=LABEL_SPACING, style=style,
                                               layout=layout, continuous_update=False),
    }

    def compute(distance, motion, label_every):
        return motion_slices(rows, methods=methods, motion=motion, label_every=label_every,
                             distance=distance)

    explorer = Explorer(
        controls=controls, rows=list(controls.values()), compute=compute,
        figures_of=lambda s: [s.against_k, s.against_motion], summary_of=_summary, show=show,
        note="Motion explorer: run this cell to pick frames, motion and K for the figures.")
    if explorer.figures:  # side by side
        explorer.children = (*explorer.children[:-2], widgets.HBox(list(explorer.figures)))
    return explorer
