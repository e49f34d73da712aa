"""Plotly figures of video frames: one frame (optionally with its 2D skeleton) and a strip of
frames with the labelled ones (S_V, paper Sec. II-A) marked.

Images are embedded as PNG data (``go.Image(source=...)``), which keeps saved notebooks small
and their outputs byte-stable. Pixel centres sit at integer (u, v), as in
:mod:`handkit.data.record`. Introduced in ``notebooks/02_sparse_videos.ipynb``.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from handkit.mano.model import OUTPUT_PARENTS

LABELLED_COLOUR = "#d62728"
BONE_COLOUR = "#1f3b73"


def _as_image(image, *, name: str = "image") -> np.ndarray:
    """(H, W, 3) uint8 numpy array from an array or tensor (uint8, or float in [0, 1])."""
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (H, W, 3), got {image.shape}")
    if image.dtype != np.uint8:
        image = (np.clip(image.astype(np.float64), 0, 1) * 255).round().astype(np.uint8)
    return image


def png_source(image) -> str:
    """A ``data:image/png;base64,...`` URI of an (H, W, 3) image."""
    buffer = io.BytesIO()
    Image.fromarray(_as_image(image)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_trace(image) -> go.Image:
    """The image as a trace, pixel (row i, column j) centred at (u, v) = (j, i)."""
    return go.Image(source=png_source(image), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip")


def skeleton_2d_trace(joints_2d, *, colour: str = BONE_COLOUR, name: str = "joints") -> go.Scatter:
    """The 21-joint skeleton (21, 2) pixels as one line trace."""
    j = np.asarray(
        joints_2d.detach().cpu() if hasattr(joints_2d, "detach") else joints_2d, dtype=np.float64
    )
    if j.shape != (21, 2):
        raise ValueError(f"joints_2d must have shape (21, 2), got {j.shape}")
    j = j.round(1)
    path = np.vstack(
        [
            np.vstack([j[p], j[c], np.full(2, np.nan)])
            for c, p in enumerate(OUTPUT_PARENTS)
            if p >= 0
        ]
    )
    return go.Scatter(
        x=path[:, 0],
        y=path[:, 1],
        mode="lines+markers",
        name=name,
        line=dict(color=colour, width=2),
        marker=dict(size=4, color=colour),
    )


def frame_figure(
    image, *, joints_2d=None, title: str | None = None, size_px: int = 360
) -> go.Figure:
    """One frame (H, W, 3), optionally with its projected skeleton (21, 2) in pixels."""
    image = _as_image(image)
    traces = [image_trace(image)]
    if joints_2d is not None:
        traces.append(skeleton_2d_trace(joints_2d))
    fig = go.Figure(traces)
    fig.update_layout(
        title=title,
        width=size_px,
        height=size_px + (40 if title else 0),
        showlegend=False,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        template="plotly_white",
    )
    fig.update_xaxes(visible=False, range=[-0.5, image.shape[1] - 0.5])
    fig.update_yaxes(visible=False, range=[image.shape[0] - 0.5, -0.5], scaleanchor="x")
    return fig


def strip_figure(
    frames, frame_indices, labelled, *, title: str | None = None, tile_px: int = 120
) -> go.Figure:
    """A row of frames; labelled frames get a red border and "labelled" in their caption.

    Args:
        frames: (N, H, W, 3) images (uint8, or float in [0, 1]).
        frame_indices: (N,) the frames' positions t in their video (for captions).
        labelled: (N,) bool, whether each frame is in S_V.
        title: optional figure title.
        tile_px: displayed width of one frame.
    """
    frames = [_as_image(f, name="each frame") for f in frames]
    indices = np.asarray(frame_indices).reshape(-1)
    labelled = np.asarray(labelled, dtype=bool).reshape(-1)
    if not frames or not len(frames) == len(indices) == len(labelled):
        raise ValueError(
            f"need N >= 1 frames with N frame_indices and N labelled flags, got "
            f"{len(frames)}, {len(indices)}, {len(labelled)}"
        )
    captions = [
        f"t={t}" + (" labelled" if lab else "") for t, lab in zip(indices, labelled, strict=True)
    ]
    fig = make_subplots(rows=1, cols=len(frames), subplot_titles=captions, horizontal_spacing=0.01)
    for k, image in enumerate(frames):
        fig.add_trace(image_trace(image), row=1, col=k + 1)
        height, width = image.shape[:2]
        fig.update_xaxes(visible=False, range=[-0.5, width - 0.5], row=1, col=k + 1)
        fig.update_yaxes(visible=False, range=[height - 0.5, -0.5], row=1, col=k + 1)
        if labelled[k]:
            fig.add_shape(
                type="rect",
                x0=-0.5,
                y0=-0.5,
                x1=width - 0.5,
                y1=height - 0.5,
                line=dict(color=LABELLED_COLOUR, width=3),
                row=1,
                col=k + 1,
            )
    fig.update_annotations(font_size=11)
    fig.update_layout(
        title=title,
        width=tile_px * len(frames) + 20,
        height=tile_px + (80 if title else 50),
        margin=dict(l=10, r=10, t=70 if title else 30, b=10),
        showlegend=False,
        template="plotly_white",
    )
    return fig
