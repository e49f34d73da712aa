"""The pieces every inference mode is built from (:mod:`handkit.inference`): a video's labels,
features and predictions as typed records, and the helpers the modes share (rows of gamma and z,
batches, eval mode, MANO in chunks). The Pose Aligner over many rows (Eqs. 2-4, Sec. II-D) is in
:mod:`handkit.inference.propagation`, blending two hands with per-joint slerp in
:mod:`handkit.inference.label_based`.

Labels enter only as :class:`VideoLabels` (the L labelled frames and their gamma*_s), so no mode
can see an unlabelled frame's ground truth. Modules run in eval mode without gradients inside
:func:`evaluating` (their modes are restored afterwards); tensors follow the modules' device.

Letters: T frames of a video, L labels, B rows. Introduced in ``notebooks/07_evaluation.ipynb``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from handkit.data.batch import FrameBatch
from handkit.data.pairs import nearest_labelled, previous_next_labelled
from handkit.models.mano_decoder import ManoDecoder
from handkit.models.records import HandFeatures, HandParams, check_finite, check_shape

MODES = ("regression", "propagation", "copy", "interpolation", "bidirectional", "gated",
         "fused", "fused-interp")
"""Every inference mode of :mod:`handkit.inference`, in the order tables list them."""


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoPrediction:
    """One mode's hand for every frame of a video.

    Attributes:
        mode: one of :data:`MODES`.
        root: (T, 3) r, mm.
        theta: (T, 48) absolute axis-angles, global rotation first.
        beta: (T, 10) MANO shape.
        joints: (T, 21, 3) camera-space joints, mm.
        verts: (T, 778, 3) camera-space vertices, mm.
        weight: (T,) the blend weight the mode used, or None. interpolation and bidirectional:
            the weight of the next label s+ (0 at s-, 1 at s+); gated: the weight g of
            propagation (1: propagation, 0: regression).
    """

    mode: str
    root: torch.Tensor
    theta: torch.Tensor
    beta: torch.Tensor
    joints: torch.Tensor
    verts: torch.Tensor
    weight: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        frames = self.params.root.shape[0]  # checks root, theta, beta
        check_shape("joints", self.joints, (frames, 21, 3), f"(T, 21, 3) with T={frames}")
        check_shape("verts", self.verts, (frames, 778, 3), f"(T, 778, 3) with T={frames}")
        if self.weight is not None:
            check_shape("weight", self.weight, (frames,), f"(T,) with T={frames}")

    def __len__(self) -> int:
        return self.root.shape[0]

    @property
    def params(self) -> HandParams:
        """gamma = (r, theta, beta) of every frame."""
        return HandParams(root=self.root, theta=self.theta, beta=self.beta)


@dataclass(frozen=True)
class VideoFeatures:
    """What the Hand Predictor gives for every frame of a video, computed once
    (:func:`~handkit.inference.regression.encode_video`) and reused by every mode.

    Attributes:
        z: z^r, z^theta (T, 512) each (Sec. II-B a).
        regression: scenario 1, the predictor's hand for every frame.
    """

    z: HandFeatures
    regression: VideoPrediction

    def __post_init__(self) -> None:
        if self.z.z_r.shape[0] != len(self.regression):
            raise ValueError(f"z must have one row per frame, T={len(self.regression)}, got "
                             f"{self.z.z_r.shape[0]}")

    @property
    def num_frames(self) -> int:
        """T."""
        return len(self.regression)


@dataclass(frozen=True)
class VideoLabels:
    """The labelled frames of one video and their labels gamma*_s, and nothing else.

    The only way ground truth enters inference: L rows, one per labelled frame, so an unlabelled
    frame's ground truth cannot be passed by mistake.

    Attributes:
        frames: (L,) int64 labelled frames s, strictly increasing, in 0..T-1 (L >= 1).
        params: gamma*_s, L rows: root (L, 3) mm, theta (L, 48), beta (L, 10).
        num_frames: T, the video's length.

    >>> labels = VideoLabels(np.array([0, 4]), HandParams(torch.zeros(2, 3), torch.zeros(2, 48),
    ...                      torch.zeros(2, 10)), num_frames=6)
    >>> labels.mask.tolist(), labels.nearest_rows().tolist()
    ([True, False, False, False, True, False], [0, 0, 0, 1, 1, 1])
    """

    frames: np.ndarray
    params: HandParams
    num_frames: int

    def __post_init__(self) -> None:
        frames, length = np.asarray(self.frames), self.num_frames
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise ValueError(f"num_frames must be an integer >= 1, got {length!r}")
        if frames.ndim != 1 or frames.size == 0 or not np.issubdtype(frames.dtype, np.integer):
            raise ValueError(f"frames must be a non-empty (L,) integer array, got shape "
                             f"{frames.shape} dtype {frames.dtype}")
        if (np.diff(frames) <= 0).any() or frames[0] < 0 or frames[-1] >= length:
            raise ValueError(f"frames must be strictly increasing within 0..{length - 1}, got "
                             f"{frames[:8].tolist()}{'...' if frames.size > 8 else ''}")
        if not isinstance(self.params, HandParams) or self.params.root.shape[0] != frames.size:
            got = (tuple(self.params.root.shape) if isinstance(self.params, HandParams)
                   else type(self.params).__name__)
            raise ValueError(f"params must be a HandParams of L={frames.size} rows (one per "
                             f"labelled frame), got root {got}")
        for name in ("root", "theta", "beta"):
            check_finite(f"params.{name}", getattr(self.params, name))
        object.__setattr__(self, "frames", frames.astype(np.int64))  # a copy

    @classmethod
    def from_batch(cls, batch: FrameBatch, *, num_frames: int) -> VideoLabels:
        """The labels of one video's :class:`~handkit.data.batch.FrameBatch` (e.g. built with
        ``hide_unlabelled=True``): its rows marked ``labelled``, at ``batch.frame``.

        Args:
            batch: frames of a single video, in any order.
            num_frames: T, the video's length.
        """
        videos = sorted(set(batch.video.tolist()))
        if len(videos) != 1:
            raise ValueError(f"batch must hold frames of one video, got videos {videos[:5]}")
        rows = torch.nonzero(batch.labelled)[:, 0]  # (L,)
        if not bool(batch.has_gt[rows].all()):
            raise ValueError("every labelled row of batch must carry its ground truth")
        rows = rows[torch.argsort(batch.frame[rows])]
        return cls(batch.frame[rows].cpu().numpy(),
                   HandParams(batch.root[rows], batch.theta[rows], batch.beta[rows]),
                   num_frames=num_frames)

    @property
    def mask(self) -> np.ndarray:
        """(T,) bool, True at the labelled frames (S_V)."""
        mask = np.zeros(self.num_frames, bool)
        mask[self.frames] = True
        return mask

    def nearest_rows(self) -> np.ndarray:
        """(T,) int64: for every frame u, the row of N(u) in ``frames`` (Sec. II-C)."""
        return np.searchsorted(self.frames, nearest_labelled(self.mask))

    def neighbour_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows of s- and s+ around every frame, and the weight w of s+ (T,) each.

        w = (u - s-) / (s+ - s-) between labels, 0 at a label; a frame with one neighbour
        gets it on both sides (w = 0).
        """
        previous, following = previous_next_labelled(self.mask)  # (T,) frames, -1: none
        previous = np.where(previous < 0, following, previous)
        following = np.where(following < 0, previous, following)
        span = following - previous  # (T,) 0 at labels and outside
        u = np.arange(self.num_frames)
        weight = np.where(span > 0, (u - previous) / np.maximum(span, 1), 0.0)
        rows = np.searchsorted(self.frames, [previous, following])  # (2, T)
        return rows[0], rows[1], weight

    def take(self, rows: np.ndarray | torch.Tensor) -> HandParams:
        """gamma* of the given label rows (any length)."""
        index = torch.as_tensor(np.asarray(rows), dtype=torch.int64,
                                device=self.params.root.device)
        return take_params(self.params, index)


# --- small helpers ------------------------------------------------------------------------------


def take_params(params: HandParams, index: torch.Tensor) -> HandParams:
    """The rows ``index`` (B,) of gamma, on its device."""
    index = torch.as_tensor(index, dtype=torch.int64).to(params.root.device)
    return HandParams(root=params.root[index], theta=params.theta[index], beta=params.beta[index])


def params_like(params: HandParams, like: torch.Tensor) -> HandParams:
    """gamma in the dtype and on the device of ``like``."""
    return HandParams(root=params.root.to(like), theta=params.theta.to(like),
                      beta=params.beta.to(like))


def chunks(total: int, size: int) -> Iterator[slice]:
    """Slices of ``size`` rows covering 0..total-1."""
    return (slice(start, min(start + size, total)) for start in range(0, total, size))


def check_batch_size(batch_size: object) -> int:
    """``batch_size`` if it is an integer >= 1, else a ValueError."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    return batch_size


def module_tensor(module: nn.Module, name: str) -> torch.Tensor:
    """A parameter (or buffer) of ``module``: its device and dtype are the module's."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor
    raise ValueError(f"{name} has no parameters or buffers to take a device from")


@contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """Eval mode and no gradients inside the block; every submodule's mode is restored after."""
    states = [(sub, sub.training) for module in modules for sub in module.modules()]
    for module in modules:
        module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for sub, training in states:
            sub.training = training


def decode(mano: ManoDecoder, params: HandParams, *, batch_size: int = 256
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """MANO for T hands in chunks: verts (T, 778, 3) and joints (T, 21, 3), mm, on the
    decoder's device."""
    like = module_tensor(mano, "mano")
    params = params_like(params, like)
    parts = [mano(params.root[c], params.theta[c], params.beta[c])
             for c in chunks(params.root.shape[0], check_batch_size(batch_size))]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def decode_prediction(mode: str, mano: ManoDecoder, params: HandParams, *, batch_size: int,
                      weight: torch.Tensor | None = None) -> VideoPrediction:
    """A :class:`VideoPrediction` of ``mode`` from gamma (T rows) and MANO, on MANO's device."""
    with evaluating(mano):
        verts, joints = decode(mano, params, batch_size=batch_size)
    return VideoPrediction(mode=mode, root=params.root.to(joints), theta=params.theta.to(joints),
                           beta=params.beta.to(joints), joints=joints, verts=verts,
                           weight=None if weight is None else weight.to(joints))


def check_labels(video: VideoFeatures | None, labels: VideoLabels) -> None:
    """ValueError unless ``labels`` are VideoLabels for a video as long as ``video``."""
    if not isinstance(labels, VideoLabels):
        raise ValueError(f"labels must be VideoLabels, got {type(labels).__name__}")
    if video is not None and labels.num_frames != video.num_frames:
        raise ValueError(f"labels are for a video of T={labels.num_frames} frames, the features "
                         f"for T={video.num_frames}")


def take_features(z: HandFeatures, index: np.ndarray) -> HandFeatures:
    """The rows ``index`` (B,) of z, on its device."""
    rows = torch.as_tensor(index, dtype=torch.int64, device=z.z_r.device)
    return HandFeatures(z_r=z.z_r[rows], z_theta=z.z_theta[rows])
