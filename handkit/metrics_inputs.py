"""The metrics' inputs: numpy arrays or torch tensors of real numbers, checked for shape and
finiteness and converted to float64 numpy copies, a chunk of frames at a time.

Every function of :mod:`handkit.metrics` and :mod:`handkit.metrics_fscore` reads its inputs
through these, so an input is never modified (nor a tensor's graph touched) and no more than
:data:`CHUNK_FRAMES` frames are held in float64 at once.
"""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor

NUM_JOINTS = 21
NUM_VERTS = 778
CHUNK_FRAMES = 256  # vertex frames converted to float64 and aligned at a time


def array_like(x, name: str) -> ArrayLike:
    """``x`` as a numpy array or torch tensor of real numbers, without copying either."""
    if not isinstance(x, torch.Tensor | np.ndarray):
        x = np.asarray(x)
    is_real = (
        not (x.dtype.is_complex or x.dtype == torch.bool)
        if isinstance(x, torch.Tensor)
        else x.dtype.kind in "fiu"
    )
    if not is_real:
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    return x


def check_shape(x: ArrayLike, name: str, expected: tuple, n_frames: int | None = None) -> None:
    """Raise a ValueError naming ``expected`` (ints fixed, strings free) and the shape received."""
    shape = tuple(x.shape)
    fixed = [e if isinstance(e, int) else None for e in expected]
    if n_frames is not None:
        fixed[0] = n_frames
    ok = len(shape) == len(expected) and all(
        f is None or f == s for f, s in zip(fixed, shape, strict=True)
    )
    if not ok:
        want = ", ".join(
            str(f if f is not None else e) for f, e in zip(fixed, expected, strict=True)
        )
        raise ValueError(f"{name} must have shape ({want}), got {shape}")


def as_float64(x: ArrayLike, frames: slice = slice(None)) -> np.ndarray:
    """A float64 numpy copy of ``x[frames]`` (so nothing done to it can reach the input)."""
    if isinstance(x, torch.Tensor):
        return x[frames].detach().to("cpu", torch.float64, copy=True).numpy()
    return np.array(x[frames], dtype=np.float64, copy=True)


def require_finite(x: np.ndarray, name: str) -> None:
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values")


def frame_chunks(n_frames: int) -> list[slice]:
    """Slices of at most :data:`CHUNK_FRAMES` frames covering frames ``0 .. n_frames - 1``."""
    return [slice(s, min(s + CHUNK_FRAMES, n_frames)) for s in range(0, n_frames, CHUNK_FRAMES)]
