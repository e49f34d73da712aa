"""One synthetic video: a hand moving in front of a fixed camera, rendered frame by frame.

Each video (paper Sec. II-A, a sequence V = (I_1, ..., I_T)) gets one shape beta, one skin
colour, light and background, and a motion from :mod:`handkit.data.motion` (``params.motion``:
"keyframes", key poses ``key_gap`` frames apart joined smoothly, or "natural", smooth random
processes with fast transitions and jitter). Optional occluders (coloured blobs and bars) slide
across some frames. Every frame keeps its full ground truth; ``labelled`` marks
S_V = {0, K, 2K, ..., T-1}. :mod:`handkit.data.synthetic` writes many of them as a data set.
"""

from __future__ import annotations

import numpy as np
import torch

from handkit import render
from handkit.data.motion import sample_motion
from handkit.data.pairs import labelled_mask
from handkit.data.synth_params import SynthParams
from handkit.data.video_format import VideoArrays
from handkit.geometry import intrinsics
from handkit.mano.layer import ManoLayer

RENDER_CHUNK = 32  # frames rendered together


def occluder_layers(
    rng: np.random.Generator, num_frames: int, size: int, params: SynthParams
) -> tuple[np.ndarray, np.ndarray]:
    """Coloured blobs (ellipses) and bars sliding across the image centre for a few frames each.

    Returns:
        alpha (T, S, S) float32 coverage in [0, 1] (soft 1-pixel edges) and colour (T, S, S, 3).
    """
    alpha = np.zeros((num_frames, size, size), np.float32)
    colour = np.zeros((num_frames, size, size, 3), np.float32)
    if rng.random() >= params.occluder_prob:
        return alpha, colour
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    for _ in range(rng.integers(1, 4)):
        length = int(rng.integers(15, 61))
        start = int(rng.integers(0, max(num_frames - length, 1)))
        frames = np.arange(start, min(start + length, num_frames))
        p0 = rng.uniform(-0.1, 1.1, size=2) * size
        p1 = (size - 1) - p0 + rng.uniform(-0.25, 0.25, size=2) * size  # across the middle
        path = np.stack([p0, p1])  # the occluder's centre slides p0 -> p1
        half = rng.uniform(0.08, 0.2, size=2) * size  # half axes
        turn, is_bar, rgb = rng.uniform(0, np.pi), rng.random() < 0.5, rng.random(3)
        for k, f in enumerate(frames):
            cx, cy = path[0] + (path[1] - path[0]) * k / max(len(frames) - 1, 1)
            u = (xs - cx) * np.cos(turn) + (ys - cy) * np.sin(turn)
            v = -(xs - cx) * np.sin(turn) + (ys - cy) * np.cos(turn)
            if is_bar:
                dist = np.maximum(
                    np.abs(u) - half[0] * 2.5, np.abs(v) - half[1] * 0.4
                )  # long thin bar
            else:
                dist = (
                    np.hypot(u / half[0], v / half[1]) - 1
                ) * half.min()  # ~ pixels outside the ellipse
            cover = np.clip(0.5 - dist, 0, 1)
            colour[f] = colour[f] * (1 - cover[..., None]) + rgb * cover[..., None]
            alpha[f] = np.maximum(alpha[f], cover)
    return alpha, colour


def render_video(
    motion: dict,
    layer: ManoLayer,
    size: int,
    params: SynthParams,
    *,
    generator: torch.Generator,
    progress=None,
) -> dict[str, np.ndarray]:
    """Pose the hand, place it, and render every frame (uint8) with its visible-hand mask."""
    T = len(motion["theta"])
    theta = torch.from_numpy(motion["theta"])
    beta = torch.from_numpy(motion["beta"])[None].expand(T, 10)
    verts, joints = layer(theta, beta)  # wrist at the origin (center_idx=0), mm
    root = torch.from_numpy(motion["centre"]) - joints.mean(1)  # (T, 3)
    verts, joints = verts + root[:, None], joints + root[:, None]
    rest_verts = layer(torch.zeros(1, 48, dtype=torch.float64), beta[:1])[0][0]
    colors = render.skin_vertex_colors(rest_verts, generator=generator)
    colors = colors.float()
    light = torch.tensor([0.0, 0.5, 1.0]) + 0.5 * (torch.rand(3, generator=generator) - 0.5)
    ambient = 0.3 + 0.2 * float(torch.rand((), generator=generator))
    background = render.random_backgrounds(1, (size, size), generator=generator)
    camera = intrinsics(size, fov_deg=params.fov_deg)
    verts_f32, intrinsics_f32 = verts.float(), camera.float()  # rendering in float32 is faster
    frames, masks = [], []
    for start in range(0, T, RENDER_CHUNK):
        chunk = slice(start, min(start + RENDER_CHUNK, T))
        n = chunk.stop - chunk.start
        out = render.render_mesh(
            verts_f32[chunk],
            layer.faces,
            intrinsics_f32,
            (size, size),
            colors=colors,
            background=background.expand(n, -1, -1, -1),
            light_dir=light,
            ambient=ambient,
            supersample=params.supersample,
        )
        frames.append(out.image)
        masks.append(out.mask)
        if progress is not None:
            progress.update(n)
    return {
        "image": torch.cat(frames).numpy(),
        "mask": torch.cat(masks).numpy(),
        "root": root.numpy(),
        "joints": joints.numpy(),
        "intrinsics": camera.numpy(),
    }


def make_video(
    seed: int,
    video_index: int,
    num_frames: int,
    size: int,
    label_every: int,
    layer: ManoLayer,
    params: SynthParams,
    *,
    progress=None,
) -> VideoArrays:
    """One complete video; its randomness depends only on (seed, video_index)."""
    rng = np.random.default_rng([seed, video_index])
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    motion = sample_motion(rng, num_frames, layer, size, params)
    frame = render_video(motion, layer, size, params, generator=generator, progress=progress)
    alpha, colour = occluder_layers(rng, num_frames, size, params)
    image = frame["image"] * (1 - alpha[..., None]) + colour * alpha[..., None]
    mask = frame["mask"] & (alpha < 0.5)
    return VideoArrays(
        frames=render.to_uint8(torch.from_numpy(image)).numpy(),
        root=frame["root"],
        theta=motion["theta"],
        beta=np.tile(motion["beta"], (num_frames, 1)),
        joints=frame["joints"],
        intrinsics=np.tile(frame["intrinsics"], (num_frames, 1, 1)),
        labelled=labelled_mask(num_frames, label_every),
        mask=mask,
        occluded=(frame["mask"] & (alpha >= 0.5)).any((1, 2)),
    )



__all__ = ["make_video", "occluder_layers", "render_video"]
