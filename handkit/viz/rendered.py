"""Hands rendered to images (handkit's own rasteriser), shown in 2D plotly figures.

A flat rest hand seen from the palm teaches as well in 2D as in 3D, and a 2D figure takes no
WebGL context in the browser (Chromium keeps at most 16 per page; every 3D plotly figure holds
one). :func:`rendered_hands_figure` shades meshes with :func:`handkit.render.render_mesh`,
coloured by a value per vertex (e.g. the size of the pose correctives, or the joint that moves
a vertex most), from one of the views of :mod:`handkit.viz.views`, and lays the images out side
by side with a colour bar each. Introduced in ``notebooks/01_mano_basics.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.colors import sample_colorscale, unlabel_rgb
from plotly.subplots import make_subplots

from handkit.render import render_mesh
from handkit.viz.images import image_trace
from handkit.viz.mesh import to_numpy
from handkit.viz.views import hand_frame

#: Distance of the virtual camera, in hand sizes: far enough to look orthographic.
CAMERA_DISTANCE = 12.0


@dataclass(frozen=True)
class Panel:
    """One hand of :func:`rendered_hands_figure`.

    Attributes:
        verts: (778, 3) vertices, mm.
        values: (778,) a value per vertex, shown by colour.
        title: caption above the image.
        colorbar_title: what the values are (with their unit).
    """

    verts: object
    values: object
    title: str
    colorbar_title: str = ""


def view_rotation(view: str, view_joints, *, side: str = "right") -> np.ndarray:
    """(3, 3) rotation from model to camera axes (x right, y down, z forward) for ``view``.

    Args:
        view: "palm" (the palm faces the camera, fingers up) or "back".
        view_joints: (21, 3) joints defining the hand's directions.
        side: the hand's side.
    """
    frame = hand_frame(view_joints, side=side)
    if view not in ("palm", "back"):
        raise ValueError(f"rendered views are 'palm' or 'back', got {view!r}")
    forward = -frame.palm if view == "palm" else frame.palm  # from the camera into the scene
    down = -frame.fingers
    right = np.cross(down, forward)
    return np.stack([right, down, forward])  # rows: camera axes in model coordinates


def vertex_colours(values: np.ndarray, *, colorscale: str, low: float, high: float) -> np.ndarray:
    """(V, 3) RGB in [0, 1] of (V,) values on a plotly colour scale spanning [low, high]."""
    t = np.clip((values - low) / ((high - low) or 1.0), 0.0, 1.0)
    return np.array([unlabel_rgb(c) for c in sample_colorscale(colorscale, t.tolist())]) / 255.0


def render_hand(verts: np.ndarray, faces, rotation: np.ndarray, colours: np.ndarray, *,
                size_px: int) -> np.ndarray:
    """(S, S, 3) uint8 image of one mesh seen along ``rotation``'s z axis, on white.

    The mesh is centred in the image and fills 90 % of it; the camera stands
    :data:`CAMERA_DISTANCE` hand sizes away, so the view is nearly orthographic.
    """
    local = (verts - verts.mean(0)) @ rotation.T  # (V, 3) camera axes, centred
    size_mm = float(np.abs(local[:, :2]).max()) * 2 / 0.9
    distance = CAMERA_DISTANCE * size_mm
    focal = size_px * distance / size_mm
    centre = (size_px - 1) / 2
    intrinsics = torch.tensor([[focal, 0, centre], [0, focal, centre], [0, 0, 1]],
                              dtype=torch.float64)
    cam = torch.as_tensor(local + [0.0, 0.0, distance])[None]  # (1, V, 3)
    white = torch.ones(1, size_px, size_px, 3, dtype=torch.float64)
    faces_t = torch.as_tensor(np.asarray(faces), dtype=torch.int64)
    rendering = render_mesh(cam, faces_t, intrinsics, (size_px, size_px),
                            colors=torch.as_tensor(colours), background=white,
                            ambient=0.55, supersample=2)
    return (rendering.image[0].numpy() * 255).round().astype(np.uint8)


def rendered_hands_figure(panels: Sequence[Panel], faces, *, view_joints, view: str = "palm",
                          side: str = "right", colorscale: str = "Viridis",
                          title: str | None = None, size_px: int = 320) -> go.Figure:
    """Hands rendered side by side, each coloured by its own per-vertex values, in 2D.

    Args:
        panels: the hands (see :class:`Panel`).
        faces: (1538, 3) faces.
        view_joints: (21, 3) joints defining the view (e.g. the rest pose's).
        view: "palm" or "back".
        side: the hand's side.
        colorscale: a plotly colour scale name.
        title: figure title.
        size_px: side of each rendered image.
    """
    if not panels:
        raise ValueError("give at least one panel")
    rotation = view_rotation(view, view_joints, side=side)
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p.title for p in panels],
                        horizontal_spacing=0.12)
    for k, panel in enumerate(panels):
        verts = to_numpy(panel.verts, shape_tail=(np.shape(panel.verts)[-2], 3), name="verts")
        values = np.asarray(panel.values, dtype=float).reshape(-1)
        if values.shape != (len(verts),):
            raise ValueError(f"panel {k}: values must have shape ({len(verts)},), "
                             f"got {np.shape(panel.values)}")
        low, high = float(values.min()), float(values.max())
        colours = vertex_colours(values, colorscale=colorscale, low=low, high=high)
        image = render_hand(verts, faces, rotation, colours, size_px=size_px)
        fig.add_trace(image_trace(image), row=1, col=k + 1)
        fig.add_trace(_colour_bar(colorscale, low, high, panel.colorbar_title,
                                  x=(k + 1) / len(panels) - 0.02), row=1, col=k + 1)
        fig.update_xaxes(visible=False, range=[-0.5, size_px - 0.5], row=1, col=k + 1)
        fig.update_yaxes(visible=False, range=[size_px - 0.5, -0.5], scaleanchor=f"x{k + 1}",
                         row=1, col=k + 1)
    fig.update_layout(title=title, template="plotly_white", showlegend=False,
                      height=size_px + (80 if title else 50), width=(size_px + 120) * len(panels),
                      margin=dict(l=10, r=10, t=70 if title else 40, b=10))
    return fig


def _colour_bar(colorscale: str, low: float, high: float, title: str, *, x: float) -> go.Scatter:
    """An invisible trace whose only job is to draw a colour bar for [low, high] at ``x``."""
    return go.Scatter(
        x=[None], y=[None], mode="markers", hoverinfo="skip",
        marker=dict(colorscale=colorscale, cmin=round(low, 3), cmax=round(high, 3), color=[low],
                    showscale=True,
                    colorbar=dict(title=dict(text=title), x=x, len=0.85, thickness=12)),
    )
