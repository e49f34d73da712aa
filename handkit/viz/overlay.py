"""Hands drawn over the video frames they belong to: meshes tinted into the image, skeletons
and the predictor's root offsets on top, in 2D (no WebGL).

The frames of the sample set are small (64 x 64), so a frame is shown enlarged ``scale`` times
(nearest neighbour) and meshes are rendered at that resolution with the frame's intrinsics
scaled to match (:func:`upscale_intrinsics`), so their outlines stay sharp. Every trace is drawn
in the frame's own pixel coordinates (u, v), pixel centres at integers as in
:mod:`handkit.data.record`, whatever the scale.

Introduced in ``notebooks/03_hand_predictor.ipynb``; also used by notebooks 04 and 05.
Letters: H x W frame, s = scale, V = 778 vertices, F = 1538 faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.colors import hex_to_rgb
from plotly.subplots import make_subplots

from handkit.geometry import image_centre, offsets_from_root, project_points
from handkit.render import render_mesh
from handkit.viz.images import _as_image, png_source, skeleton_2d_trace
from handkit.viz.mesh import to_numpy

#: Colours of the hands a lesson compares: ground truth, a prediction, a propagated label.
GT_COLOUR = "#2ca02c"
PRED_COLOUR = "#ff7f0e"
ALIGNED_COLOUR = "#9467bd"
ROOT_COLOUR = "#d62728"
CENTRE_COLOUR = "#ffd92f"
#: Vertices are rounded to this many decimals (mm) before they are rendered.
VERTEX_DECIMALS = 3


@dataclass(frozen=True)
class HandOverlay:
    """One hand to draw over a frame (camera space, mm).

    Attributes:
        name: legend entry, e.g. "ground truth".
        colour: "#rrggbb" of its mesh tint and skeleton.
        verts: (778, 3) vertices, tinted into the image; None: no mesh.
        joints: (21, 3) joints, drawn as a skeleton; None: no skeleton.
    """

    name: str
    colour: str
    verts: object = None
    joints: object = None


def upscale_intrinsics(intrinsics, scale: int) -> torch.Tensor:
    """Intrinsics of a frame enlarged ``scale`` times, pixel centres at integers.

    Pixel j of the frame becomes pixels s j .. s j + s - 1, whose middle is s j + (s - 1) / 2, so
    u' = s u + (s - 1) / 2: fx, fy scale by s and cx' = s cx + (s - 1) / 2 (likewise cy).

    Args:
        intrinsics: (3, 3) or (B, 3, 3) intrinsics.
        scale: integer s >= 1.
    Returns:
        float64 tensor of ``intrinsics``' shape.

    >>> upscale_intrinsics(torch.tensor([[100.0, 0, 31.5], [0, 100.0, 31.5], [0, 0, 1]]), 4)[0]
    tensor([400.0000,   0.0000, 127.5000], dtype=torch.float64)
    """
    _check_scale(scale)
    intrinsics = _float64_tensor(intrinsics)
    if intrinsics.shape[-2:] != (3, 3):
        raise ValueError("intrinsics must have shape (3, 3) or (B, 3, 3), "
                         f"got {tuple(intrinsics.shape)}")
    out = intrinsics.clone()
    out[..., :2, :] *= scale  # rows of u and v
    out[..., :2, 2] += (scale - 1) / 2
    return out


def upscale_image(image, scale: int) -> np.ndarray:
    """(H, W, 3) frame -> (s H, s W, 3) uint8, each pixel repeated s x s times."""
    _check_scale(scale)
    pixels = _as_image(image)
    return pixels.repeat(scale, axis=0).repeat(scale, axis=1)


def tint_meshes(image, intrinsics, hands: Sequence[HandOverlay], faces, *, scale: int = 4,
                alpha: float = 0.65, supersample: int = 1) -> np.ndarray:
    """The frame enlarged ``scale`` times with each hand's mesh rendered over it, tinted.

    Each mesh is shaded (handkit's rasteriser) in its colour and blended over the image with
    opacity ``alpha`` where it covers it, in the order given. Vertices are rounded to
    :data:`VERTEX_DECIMALS` first, so the image (and a saved notebook) does not change with the
    last bits of a computation, e.g. with the number of threads.

    Args:
        image: (H, W, 3) frame, uint8 or float in [0, 1].
        intrinsics: (3, 3) the frame's intrinsics.
        hands: hands to draw; those without ``verts`` are skipped.
        faces: (1538, 3) mesh triangles (None if no hand has ``verts``).
        scale: s, the enlargement.
        alpha: opacity of the meshes, in [0, 1].
        supersample: anti-aliasing factor of the rendering (see :func:`handkit.render.render_mesh`).
    Returns:
        (s H, s W, 3) uint8.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    big = upscale_image(image, scale)  # (sH, sW, 3)
    height, width = big.shape[:2]
    intrinsics_big = upscale_intrinsics(intrinsics, scale)  # (3, 3)
    canvas = torch.from_numpy(big.astype(np.float64) / 255.0)[None]  # (1, sH, sW, 3)
    for hand in hands:
        if hand.verts is None:
            continue
        if faces is None:
            raise ValueError(f"faces are needed to draw the mesh of {hand.name!r}")
        faces_t = torch.as_tensor(np.asarray(faces.detach().cpu() if hasattr(faces, "detach")
                                             else faces), dtype=torch.int64)  # (F, 3)
        verts = to_numpy(hand.verts, shape_tail=(np.shape(hand.verts)[-2], 3), name="verts")
        # to 0.001 mm: last-bit differences (threads, CPUs) must not flip a pixel of a render
        verts = torch.from_numpy(verts.round(VERTEX_DECIMALS))[None]  # (1, V, 3)
        colour = torch.tensor(hex_to_rgb(hand.colour), dtype=torch.float64) / 255.0
        drawn = render_mesh(verts, faces_t, intrinsics_big, (height, width), colors=colour.expand(
            verts.shape[1], 3), background=canvas, ambient=0.5, supersample=supersample).image
        canvas = canvas + alpha * (drawn - canvas)  # (1, sH, sW, 3), mesh blended over
    return (canvas[0].numpy() * 255).round().astype(np.uint8)


def _frame_image_trace(image: np.ndarray, scale: int) -> go.Image:
    """An image enlarged ``scale`` times, placed in the original frame's pixel coordinates."""
    offset = -(scale - 1) / (2 * scale)  # centre of the first sub-pixel
    return go.Image(source=png_source(image), x0=offset, y0=offset, dx=1 / scale, dy=1 / scale,
                    hoverinfo="skip")


def _projected(joints, intrinsics) -> np.ndarray:
    """(21, 2) pixels of (21, 3) camera-space joints."""
    j = torch.from_numpy(to_numpy(joints, shape_tail=(21, 3), name="joints"))
    return project_points(j, _float64_tensor(intrinsics)).numpy()


def _float64_tensor(array) -> torch.Tensor:
    """A float64 CPU tensor of an array or (possibly GPU, autograd) tensor."""
    return torch.as_tensor(np.asarray(array.detach().cpu() if hasattr(array, "detach") else array),
                           dtype=torch.float64)


def overlay_figure(images, intrinsics, hands: Sequence[Sequence[HandOverlay]], faces, *,
                   titles: Sequence[str] | None = None, title: str | None = None,
                   scale: int = 4, tile_px: int = 240, alpha: float = 0.65) -> go.Figure:
    """A row of frames, each with its hands: meshes tinted in, skeletons projected on top.

    Args:
        images: N frames (H, W, 3) (a sequence or an (N, H, W, 3) array; uint8 or [0, 1]).
        intrinsics: N intrinsics (N, 3, 3) of the frames.
        hands: for each frame, the :class:`HandOverlay` s drawn over it (may be empty).
        faces: (1538, 3) mesh triangles (None if no hand has ``verts``).
        titles: N captions; title: the figure's title.
        scale: enlargement of the frames before meshes are rendered over them.
        tile_px: displayed width of one frame, pixels.
        alpha: opacity of the meshes.
    Returns:
        a ``go.Figure`` with N image panels; each hand name is one legend entry.
    """
    frames = [_as_image(image, name="each image") for image in images]
    frame_intrinsics = [intrinsics[k] for k in range(len(intrinsics))]
    if not frames or not len(frames) == len(frame_intrinsics) == len(hands):
        raise ValueError(f"need N >= 1 images with N intrinsics and N lists of hands, got "
                         f"{len(frames)}, {len(frame_intrinsics)}, {len(hands)}")
    if titles is not None and len(titles) != len(frames):
        raise ValueError(f"need {len(frames)} titles, got {len(titles)}")
    fig = make_subplots(rows=1, cols=len(frames), subplot_titles=titles,
                        horizontal_spacing=0.02)
    named = set()
    for k, (frame, intrinsics_k, frame_hands) in enumerate(
            zip(frames, frame_intrinsics, hands, strict=True)):
        tinted = tint_meshes(frame, intrinsics_k, frame_hands, faces, scale=scale, alpha=alpha)
        fig.add_trace(_frame_image_trace(tinted, scale), row=1, col=k + 1)
        for hand in frame_hands:
            if hand.joints is not None:
                trace = skeleton_2d_trace(_projected(hand.joints, intrinsics_k),
                                          colour=hand.colour, name=hand.name)
            else:  # a legend entry for a mesh without a skeleton
                trace = go.Scatter(x=[None], y=[None], mode="markers", name=hand.name,
                                   marker=dict(color=hand.colour, size=10, symbol="square"))
            trace.update(legendgroup=hand.name, showlegend=hand.name not in named)
            named.add(hand.name)
            fig.add_trace(trace, row=1, col=k + 1)
        height, width = frame.shape[:2]
        fig.update_xaxes(visible=False, range=[-0.5, width - 0.5], row=1, col=k + 1)
        fig.update_yaxes(visible=False, range=[height - 0.5, -0.5], scaleanchor=f"x{k + 1}",
                         row=1, col=k + 1)
    fig.update_annotations(font_size=12)
    extra = 16 * (max((t.count("<br>") for t in titles), default=0) if titles else 0)
    fig.update_layout(  # captions of several lines (<br>) get the room they need
        title=title, template="plotly_white", width=tile_px * len(frames) + 40,
        height=tile_px + (100 if title else 70) + extra, showlegend=bool(named),
        legend=dict(orientation="h", x=0.0, y=-0.02, yanchor="top"),
        margin=dict(l=10, r=10, t=(70 if title else 30) + extra, b=40),
    )
    return fig


def root_offsets_figure(image, intrinsics, root, *, d_off_mm: float, joints=None, scale: int = 4,
                        size_px: int = 420, title: str | None = None) -> go.Figure:
    """What the root branch predicts (Fig. 2): the image centre, the arrow (t_u, t_v) to the
    root's pixel, and d_f, d_z in the caption.

    Args:
        image: (S, S, 3) frame (square, as the predictor's crops).
        intrinsics: (3, 3) its intrinsics.
        root: (3,) the root r in camera space, mm.
        d_off_mm: the dataset's depth offset d_off.
        joints: optional (21, 3) joints, drawn as a faint skeleton for context.
        scale: enlargement of the frame; size_px: displayed width.
        title: the figure's title.
    Returns:
        a ``go.Figure`` in the frame's pixel coordinates, axes in pixels.
    """
    frame = _as_image(image)
    height, width = frame.shape[:2]
    if height != width:
        raise ValueError(f"image must be square (S, S, 3), got {frame.shape}")
    r = torch.from_numpy(to_numpy(root, shape_tail=(3,), name="root"))[None]  # (1, 3)
    camera = _float64_tensor(intrinsics)[None]  # (1, 3, 3)
    d_f, t = offsets_from_root(r, camera, d_off_mm=d_off_mm, image_size=width)
    cu, cv = image_centre(width)
    tu, tv = (float(x) for x in t[0])
    traces = [_frame_image_trace(upscale_image(frame, scale), scale)]
    if joints is not None:
        traces.append(skeleton_2d_trace(_projected(joints, camera[0]), colour="#f0f0f0",
                                        name="joints").update(opacity=0.7, showlegend=False))
    traces += [
        go.Scatter(x=[cu], y=[cv], mode="markers", name="image centre",
                   marker=dict(symbol="cross-thin", size=18,
                               line=dict(width=3, color=CENTRE_COLOUR))),
        go.Scatter(x=[round(cu + tu, 2)], y=[round(cv + tv, 2)], mode="markers",
                   name="root r projected", marker=dict(size=12, color=ROOT_COLOUR,
                                                        line=dict(width=2, color="#ffffff"))),
    ]
    fig = go.Figure(traces)
    fig.add_annotation(x=round(cu + tu, 2), y=round(cv + tv, 2), ax=cu, ay=cv, xref="x", yref="y",
                       axref="x", ayref="y", showarrow=True, arrowhead=3, arrowwidth=2.5,
                       arrowcolor=ROOT_COLOUR, text="")
    depth = float(camera[0, 0, 0]) * float(d_f[0]) + d_off_mm
    caption = (f"(t_u, t_v) = ({tu:.1f}, {tv:.1f}) px, d_f = {float(d_f[0]):.3f} mm/px, "
               f"d_z = f d_f + d_off = {depth:.1f} mm")
    text = f"{title}<br><sup>{caption}</sup>" if title else caption
    fig.update_layout(
        title=dict(text=text, font=dict(size=14)), template="plotly_white",
        width=size_px, height=size_px + 90, showlegend=True,
        legend=dict(orientation="h", x=0.0, y=-0.1, yanchor="top"),
        margin=dict(l=50, r=10, t=70, b=60),
    )
    fig.update_xaxes(range=[-0.5, width - 0.5], title="u (px)", constrain="domain")
    fig.update_yaxes(range=[height - 0.5, -0.5], title="v (px)", scaleanchor="x")
    return fig


def _check_scale(scale: int) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be an integer >= 1, got {scale!r}")
