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

SKIN_COLOUR = "#e0ac8a"
BONE_COLOUR = "#1f3b73"


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
               intensity=None, name: str = "mesh", decimals: int = 2) -> go.Mesh3d:
    """A Mesh3d trace; ``intensity`` (V,) colours vertices by value instead of ``colour``."""
    v = to_numpy(verts, shape_tail=(verts.shape[-2], 3), name="verts").round(decimals)
    f = np.asarray(faces.detach().cpu() if hasattr(faces, "detach") else faces, dtype=np.int64)
    options = dict(x=v[:, 0], y=v[:, 1], z=v[:, 2], i=f[:, 0], j=f[:, 1], k=f[:, 2],
                   opacity=opacity, name=name, flatshading=False,
                   lighting=dict(ambient=0.5, diffuse=0.8, specular=0.2, roughness=0.6))
    if intensity is None:
        options["color"] = colour
    else:
        options.update(intensity=np.round(np.asarray(intensity, dtype=np.float64), 3),
                       colorscale="Viridis", showscale=True)
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


def camera_view_layout(title: str | None = None) -> go.Layout:
    """3D layout looking down the camera's z axis with y pointing down (camera convention)."""
    return go.Layout(
        title=title, template="plotly_white", margin=dict(l=0, r=0, t=40 if title else 0, b=0),
        scene=dict(aspectmode="data", xaxis_title="x (mm)", yaxis_title="y (mm)",
                   zaxis_title="z (mm)",
                   camera=dict(up=dict(x=0, y=-1, z=0), eye=dict(x=0.0, y=-0.3, z=-2.0))),
        legend=dict(x=0, y=1),
    )


def hand_figure(verts=None, faces=None, joints=None, *, title: str | None = None,
                intensity=None, opacity: float = 0.6) -> go.Figure:
    """One hand: mesh (if ``verts`` and ``faces``) and/or skeleton (if ``joints``), in mm."""
    traces = []
    if verts is not None:
        if faces is None:
            raise ValueError("faces are needed to draw verts as a mesh")
        traces.append(mesh_trace(verts, faces, opacity=opacity, intensity=intensity))
    if joints is not None:
        traces.append(skeleton_trace(joints))
    if not traces:
        raise ValueError("give verts and faces, joints, or both")
    return go.Figure(traces, camera_view_layout(title))


def hands_side_by_side(verts_list: Sequence, faces, *, names: Sequence[str],
                       spacing_mm: float = 150.0, title: str | None = None) -> go.Figure:
    """Several meshes of the same topology in a row along x, e.g. template vs. a shape change."""
    if len(verts_list) != len(names):
        raise ValueError(f"got {len(verts_list)} meshes but {len(names)} names")
    colours = ["#e0ac8a", "#8ab6e0", "#a7d49b", "#d9a0d9"]
    traces = []
    for k, (verts, name) in enumerate(zip(verts_list, names, strict=True)):
        v = to_numpy(verts, shape_tail=(np.shape(verts)[-2], 3), name="verts").copy()
        v[:, 0] += k * spacing_mm
        traces.append(mesh_trace(v, faces, colour=colours[k % len(colours)], name=name))
    return go.Figure(traces, camera_view_layout(title))


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
