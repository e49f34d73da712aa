"""Figures that explain the metrics of Sec. V-B and where the errors are: the same prediction
before and after T, SD and P alignment; an F-score picture; error along a video's timeline
and against the distance to the nearest label. Plain ``go.Figure`` s; numbers rounded so saved
notebooks stay stable. Introduced in ``notebooks/07_evaluation.ipynb``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from handkit.mano.model import OUTPUT_PARENTS
from handkit.metrics import (
    nearest_distances,
    procrustes_align,
    scaled_depth_align,
    translation_align,
)
from handkit.viz.mesh import to_numpy
from handkit.viz.results import METHOD_COLOURS

GT_COLOUR = "#2ca02c"
PRED_COLOUR = "#d62728"
#: Which plane each alignment figure panel shows: camera x (right) and y (down), or x and z.
PLANES = {"front": (0, 1), "top": (0, 2)}


def _bones(points: np.ndarray, dims: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """x, y of the 21-joint skeleton as one NaN-separated path in the chosen plane."""
    path = np.vstack([np.vstack([points[p], points[c], np.full(3, np.nan)])
                      for c, p in enumerate(OUTPUT_PARENTS) if p >= 0])
    return path[:, dims[0]].round(1), path[:, dims[1]].round(1)


def alignment_figure(pred_joints, gt_joints, *, plane: str = "front",
                     title: str | None = None) -> go.Figure:
    """One prediction against its ground truth, raw and after T, SD and P alignment (Sec. V-B).

    Args:
        pred_joints, gt_joints: (21, 3) mm, camera space.
        plane: "front" (x right, y down: what the camera sees) or "top" (x, z: depth up).
    Returns:
        four panels with both skeletons; each title gives that alignment's MPJPE.
    """
    pred = to_numpy(pred_joints, shape_tail=(21, 3), name="pred_joints")
    gt = to_numpy(gt_joints, shape_tail=(21, 3), name="gt_joints")
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {tuple(PLANES)}, got {plane!r}")
    dims = PLANES[plane]
    aligned = {
        "raw": pred,
        "T: wrists meet": translation_align(pred[None], gt[None])[0],
        "SD: scale, then depth": scaled_depth_align(pred[None], gt[None])[0],
        "P: scale, rotation, shift": procrustes_align(pred[None], gt[None])[0],
    }
    errors = {k: float(np.linalg.norm(v - gt, axis=-1).mean()) for k, v in aligned.items()}
    fig = make_subplots(rows=1, cols=4, horizontal_spacing=0.04,
                        subplot_titles=[f"{k}<br>{errors[k]:.1f} mm" for k in aligned])
    for col, points in enumerate(aligned.values(), start=1):
        for name, values, colour in (("ground truth", gt, GT_COLOUR),
                                     ("prediction", points, PRED_COLOUR)):
            x, y = _bones(values, dims)
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name,
                                     legendgroup=name, showlegend=col == 1,
                                     line=dict(color=colour, width=2), marker=dict(size=3)),
                          row=1, col=col)
        fig.update_yaxes(scaleanchor=f"x{col}", autorange="reversed" if plane == "front"
                         else True, showticklabels=col == 1, row=1, col=col)
    axis = "xyz"
    fig.update_xaxes(title_text=f"{axis[dims[0]]} (mm)")
    fig.update_yaxes(title_text=f"{axis[dims[1]]} (mm)", row=1, col=1)
    fig.update_annotations(font_size=12)
    fig.update_layout(title=title, template="plotly_white", height=380, width=960,
                      legend=dict(orientation="h", y=-0.18), margin=dict(t=90, b=60))
    return fig


def fscore_figure(pred_verts, gt_verts, *, threshold_mm: float = 5.0, plane: str = "front",
                  title: str | None = None) -> go.Figure:
    """The F-score of one frame (Sec. V-B), after Procrustes: vertices coloured by whether their
    nearest point of the other set is closer than the threshold (precision: predicted points;
    recall: ground-truth points).

    Args:
        pred_verts, gt_verts: (V, 3) mm.
        threshold_mm: e.g. 5 or 15.
    """
    pred = to_numpy(pred_verts, shape_tail=(np.shape(pred_verts)[-2], 3), name="pred_verts")
    gt = to_numpy(gt_verts, shape_tail=(np.shape(gt_verts)[-2], 3), name="gt_verts")
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {tuple(PLANES)}, got {plane!r}")
    pred = procrustes_align(pred[None], gt[None])[0]
    near_pred = nearest_distances(pred, gt) < threshold_mm  # precision hits
    near_gt = nearest_distances(gt, pred) < threshold_mm  # recall hits
    precision, recall = float(near_pred.mean()), float(near_gt.mean())
    f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    dims = PLANES[plane]
    panels = ((f"prediction: precision {precision:.2f}", pred, near_pred),
              (f"ground truth: recall {recall:.2f}", gt, near_gt))
    fig = make_subplots(rows=1, cols=2, subplot_titles=[p[0] for p in panels],
                        horizontal_spacing=0.06)
    for col, (_, points, hit) in enumerate(panels, start=1):
        for label, mask, colour in ((f"< {threshold_mm:g} mm", hit, "#1f77b4"),
                                    (f">= {threshold_mm:g} mm", ~hit, "#ff7f0e")):
            fig.add_trace(go.Scatter(
                x=points[mask, dims[0]].round(1), y=points[mask, dims[1]].round(1),
                mode="markers", marker=dict(size=3, color=colour), name=label,
                legendgroup=label, showlegend=col == 1), row=1, col=col)
        fig.update_yaxes(scaleanchor=f"x{col}", autorange="reversed", row=1, col=col)
    fig.update_layout(title=title or f"F@{threshold_mm:g} mm = {f:.3f} (after P alignment)",
                      template="plotly_white", height=420, width=820,
                      legend=dict(orientation="h", y=-0.12), margin=dict(t=80, b=50))
    return fig


def timeline_error_figure(frame: np.ndarray, errors: Mapping[str, np.ndarray],
                          label_frames: Sequence[int], *, title: str | None = None,
                          max_mm: float | None = None) -> go.Figure:
    """Per-frame MPJPE along one video for several methods, labelled frames marked.

    Args:
        frame: (N,) frame numbers of the evaluated (unlabelled) frames, increasing.
        errors: method name -> (N,) MPJPE in mm.
        label_frames: the video's labelled frames (drawn as vertical lines).
        max_mm: top of the y axis (default: the largest error).
    """
    frame = np.asarray(frame)
    fig = go.Figure()
    for name, values in errors.items():
        values = np.asarray(values, dtype=float)
        if values.shape != frame.shape:
            raise ValueError(f"errors[{name!r}] must have shape {frame.shape}, got "
                             f"{values.shape}")
        fig.add_trace(go.Scatter(x=frame, y=values.round(1), mode="lines", name=name,
                                 line=dict(color=METHOD_COLOURS.get(name), width=1.5)))
    top = max_mm or float(max(np.nanmax(v) for v in errors.values()))
    for s in label_frames:
        fig.add_vline(x=int(s), line=dict(color="#999999", dash="dot", width=1))
    fig.update_layout(title=title, template="plotly_white", height=360, width=940,
                      xaxis_title="frame u (dotted: labelled frames)", yaxis_title="MPJPE (mm)",
                      yaxis_range=[0, round(top * 1.05, 1)],
                      legend=dict(orientation="h", y=-0.25), margin=dict(t=50, b=80))
    return fig


def distance_error_figure(distance: np.ndarray, errors: Mapping[str, np.ndarray], *,
                          bin_width: int = 4, title: str | None = None) -> go.Figure:
    """Mean MPJPE against the distance |u - N(u)| to the nearest label, one line per method.

    Args:
        distance: (N,) frames to the nearest label of each evaluated frame.
        errors: method name -> (N,) MPJPE in mm.
        bin_width: frames per point of the curves.
    """
    distance = np.asarray(distance)
    edges = np.arange(1, int(distance.max()) + bin_width + 1, bin_width)
    centres = (edges[:-1] + edges[1:] - 1) / 2
    fig = go.Figure()
    for name, values in errors.items():
        values = np.asarray(values, dtype=float)
        means = [float(values[(distance >= a) & (distance < b)].mean())
                 if ((distance >= a) & (distance < b)).any() else None
                 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        fig.add_trace(go.Scatter(x=centres, y=[None if m is None else round(m, 1)
                                               for m in means],
                                 mode="lines+markers", name=name,
                                 line=dict(color=METHOD_COLOURS.get(name))))
    fig.update_layout(title=title, template="plotly_white", height=380, width=940,
                      xaxis_title="|u − N(u)| (frames to the nearest label)",
                      yaxis_title="mean MPJPE (mm)", legend=dict(orientation="h", y=-0.25),
                      margin=dict(t=50, b=80))
    return fig
