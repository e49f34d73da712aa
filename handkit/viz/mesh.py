"""Plotly figures of hand meshes, skeletons and their projection into an image.

Every builder takes numpy arrays or torch tensors (one hand: (778, 3), (21, 3); a leading batch
dimension of 1 is accepted), rounds coordinates to ``decimals`` so saved notebooks stay small and
stable, and returns a plain ``go.Figure``. Introduced in ``notebooks/01_mano_basics.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from handkit.mano.model import OUTPUT_PARENTS
from handkit.viz.views import scene_camera, scene_layout, screen_extent, screen_right

SKIN_COLOUR = "#e0ac8a"
BONE_COLOUR = "#1f3b73"
#: Colours of the hands in :func:`hands_side_by_side`, left to right.
HAND_COLOURS = ("#e0ac8a", "#8ab6e0", "#a7d49b", "#d9a0d9")


def to_numpy(array, *, shape_tail: tuple[int, ...], name: str) -> np.ndarray:
    """A float64 numpy copy of one item, checking its trailing shape (e.g. (778, 3))."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == len(shape_tail) + 1 and array.shape[0] == 1:
        array = array[0]
    if array.shape[-len(shape_tail):] != shape_tail or array.ndim != len(shape_tail):
        raise ValueError(f"{name} must have shape {shape_tail} (or (1, ...)), got {array.shape}")
    return array


def mesh_trace(verts, faces, *, colour: str = SKIN_COLOUR, opacity: float = 1.0,
               intensity=None, colorbar_title: str | None = None, name: str = "mesh",
               decimals: int = 2) -> go.Mesh3d:
    """A Mesh3d trace; ``intensity`` (V,) colours vertices by value instead of ``colour``."""
    v = to_numpy(verts, shape_tail=(verts.shape[-2], 3), name="verts").round(decimals)
    f = np.asarray(faces.detach().cpu() if hasattr(faces, "detach") else faces, dtype=np.int64)
    options = dict(x=v[:, 0], y=v[:, 1], z=v[:, 2], i=f[:, 0], j=f[:, 1], k=f[:, 2],
                   opacity=opacity, name=name, flatshading=False,
                   lighting=dict(ambient=0.75, diffuse=0.55, specular=0.1, roughness=0.6,
                                 fresnel=0.1))
    if intensity is None:
        options["color"] = colour
    else:
        options.update(intensity=np.round(np.asarray(intensity, dtype=np.float64), 3),
                       colorscale="Viridis", showscale=True,
                       colorbar=dict(title=dict(text=colorbar_title), len=0.8, thickness=14))
    return go.Mesh3d(**options)


def skeleton_trace(joints, *, colour: str = BONE_COLOUR, name: str = "joints",
                   decimals: int = 2) -> go.Scatter3d:
    """The 21-joint skeleton as one Scatter3d trace (bones as line segments, joints as dots)."""
    j = to_numpy(joints, shape_tail=(21, 3), name="joints").round(decimals)
    segments = [np.vstack([j[p], j[c], np.full(3, np.nan)])
                for c, p in enumerate(OUTPUT_PARENTS) if p >= 0]
    path = np.vstack(segments)
    return go.Scatter3d(x=path[:, 0], y=path[:, 1], z=path[:, 2], mode="lines+markers",
                        line=dict(color=colour, width=5), marker=dict(size=3, color=colour),
                        name=name)


#: Height of a figure's title band, pixels.
TITLE_PX = 36
#: Room a colour bar takes on the right, pixels.
COLORBAR_PX = 90


def figure_layout(scene: dict, *, title: str | None = None, height: int = 440,
                  width: int | None = None) -> go.Layout:
    """Layout of a 3D hand figure: the ``scene`` (see :func:`handkit.viz.views.scene_layout`),
    small margins so the hand fills the figure, legend inside the top left corner."""
    return go.Layout(
        title=dict(text=title, x=0.02, font=dict(size=15)) if title else None,
        template="plotly_white", height=height, width=width, scene=scene,
        margin=dict(l=0, r=0, t=TITLE_PX if title else 0, b=0),
        legend=dict(x=0.01, y=0.98, bgcolor="rgba(255,255,255,0.6)"),
    )


def _scene_size(height: int, width: int | None, title: str | None) -> tuple[int, int]:
    """(width, height) in pixels of the scene inside a figure (width None: a typical 640)."""
    return (width or 640), height - (TITLE_PX if title else 0)


def _palm_view_width(points: np.ndarray, view_joints, view: str, side: str, height: int,
                     title: str | None, extra: int) -> int | None:
    """Figure width that fits one hand seen orthographically (None for other views)."""
    if view not in ("palm", "back"):
        return None
    across, along = screen_extent(points, scene_camera(view, view_joints, side=side))
    scene_height = height - (TITLE_PX if title else 0)
    return int(np.clip(scene_height * across / along * 1.15 + extra, 300, 900))


def _points(traces: Sequence[go.Mesh3d | go.Scatter3d]) -> np.ndarray:
    """(N, 3) every finite point the traces draw (for fitting the axes)."""
    pts = np.concatenate([np.stack([t.x, t.y, t.z], 1).astype(float) for t in traces])
    return pts[np.isfinite(pts).all(1)]


def hand_figure(verts=None, faces=None, joints=None, *, title: str | None = None,
                intensity=None, colorbar_title: str | None = None, opacity: float = 0.6,
                view: str = "palm", view_joints=None, side: str = "right",
                height: int = 440) -> go.Figure:
    """One hand: mesh (if ``verts`` and ``faces``) and/or skeleton (if ``joints``), in mm.

    Args:
        verts: (778, 3) vertices; faces: (1538, 3).
        joints: (21, 3) joints, drawn as a skeleton.
        intensity: (778,) values that colour the mesh (with a colour bar) instead of skin.
        view: "palm", "back", "pose" or "camera" (see :mod:`handkit.viz.views`).
        view_joints: (21, 3) joints that define the view's directions; default ``joints``.
        side: the hand's side (for the palm direction).
    """
    traces = []
    if verts is not None:
        if faces is None:
            raise ValueError("faces are needed to draw verts as a mesh")
        traces.append(mesh_trace(verts, faces, opacity=opacity, intensity=intensity,
                                 colorbar_title=colorbar_title))
    if joints is not None:
        traces.append(skeleton_trace(joints))
    if not traces:
        raise ValueError("give verts and faces, joints, or both")
    view_joints = joints if view_joints is None else view_joints
    points = _points(traces)
    extra = COLORBAR_PX if intensity is not None else 0
    width = _palm_view_width(points, view_joints, view, side, height, title, extra)
    size = _scene_size(height, None if width is None else width - extra, title)
    scene = scene_layout(points, view, view_joints, side=side, size=size)
    return go.Figure(traces, figure_layout(scene, title=title, height=height, width=width))


def hands_side_by_side(verts_list: Sequence, faces, *, names: Sequence[str], view_joints,
                       view: str = "palm", side: str = "right", gap: float = 0.2,
                       title: str | None = None, height: int = 380,
                       width: int = 760) -> go.Figure:
    """Several meshes of one topology in a row across the screen, e.g. β₀ = −2, 0, +2.

    Args:
        verts_list: N meshes (778, 3), mm.
        faces: (1538, 3).
        names: N legend names (also written above each hand).
        view_joints: (21, 3) joints that define the view (e.g. the rest pose's).
        view, side: see :func:`hand_figure`.
        gap: space between neighbours, as a fraction of a hand's width on screen.
        height, width: figure size in pixels.
    """
    if len(verts_list) != len(names):
        raise ValueError(f"got {len(verts_list)} meshes but {len(names)} names")
    camera = scene_camera(view, view_joints, side=side)
    right, up = screen_right(camera), np.array([camera["up"][a] for a in "xyz"])
    meshes = [to_numpy(v, shape_tail=(np.shape(v)[-2], 3), name="verts") for v in verts_list]
    hand_width = max(float(np.ptp(v @ right)) for v in meshes)  # mm on screen
    traces, labels, offset = [], [], 0.0
    for k, (v, name) in enumerate(zip(meshes, names, strict=True)):
        shift = v - (v @ right).min() * right + offset * right  # left edge at `offset`
        traces.append(mesh_trace(shift, faces, colour=HAND_COLOURS[k % len(HAND_COLOURS)],
                                 name=name))
        top = shift[np.argmax(shift @ up)]
        labels.append(dict(x=top[0], y=top[1], z=top[2], text=name, showarrow=False, yshift=14))
        offset += (1.0 + gap) * hand_width
    scene = scene_layout(_points(traces), view, view_joints, side=side,
                         size=_scene_size(height, width, title))
    scene["annotations"] = [{k: round(float(v), 2) if k in "xyz" else v for k, v in a.items()}
                            for a in labels]
    return go.Figure(traces, figure_layout(scene, title=title, height=height, width=width))


def projection_figure(verts_2d, joints_2d, image_size: tuple[int, int], *, faces=None,
                      title: str | None = None) -> go.Figure:
    """Projected mesh (wireframe of the faces, or vertex dots) and skeleton on the image plane.

    Args:
        verts_2d: (V, 2) pixel coordinates; joints_2d: (21, 2); image_size: (width, height).
    """
    width, height = image_size
    v = to_numpy(verts_2d, shape_tail=(np.shape(verts_2d)[-2], 2), name="verts_2d").round(1)
    j = to_numpy(joints_2d, shape_tail=(21, 2), name="joints_2d").round(1)
    traces = [_image_frame(width, height)]
    if faces is not None:
        f = np.asarray(faces.detach().cpu() if hasattr(faces, "detach") else faces)
        edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        edges = np.unique(np.sort(edges, 1), axis=0)
        path = np.concatenate([v[edges], np.full((len(edges), 1, 2), np.nan)], 1).reshape(-1, 2)
        traces.append(go.Scatter(x=path[:, 0], y=path[:, 1], mode="lines", name="mesh",
                                 line=dict(color=SKIN_COLOUR, width=1)))
    else:
        traces.append(go.Scatter(x=v[:, 0], y=v[:, 1], mode="markers", name="vertices",
                                 marker=dict(size=2, color=SKIN_COLOUR)))
    bones = [np.vstack([j[p], j[c], np.full(2, np.nan)])
             for c, p in enumerate(OUTPUT_PARENTS) if p >= 0]
    bone_path = np.vstack(bones)
    traces.append(go.Scatter(x=bone_path[:, 0], y=bone_path[:, 1], mode="lines+markers",
                             name="joints", line=dict(color=BONE_COLOUR, width=2),
                             marker=dict(size=4)))
    layout = go.Layout(title=title, template="plotly_white", width=520, height=520,
                       xaxis=dict(range=[0, width], title="u (px)", constrain="domain"),
                       yaxis=dict(range=[height, 0], title="v (px)", scaleanchor="x"))
    return go.Figure(traces, layout)


def _image_frame(width: int, height: int) -> go.Scatter:
    """The image border as a closed line."""
    return go.Scatter(x=[0, width, width, 0, 0], y=[0, 0, height, height, 0], mode="lines",
                      name="image", line=dict(color="grey", width=1))
