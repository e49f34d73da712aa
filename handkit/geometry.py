"""Camera geometry: intrinsics, placing a hand at its root, projecting to pixels.

Conventions (see ``handkit.data.record``): camera x right, y down, z forward; millimetres;
pixel (u, v) = (fx x / z + cx, fy y / z + cy), with pixel centres at integer (u, v) (the same
convention as ``handkit.render`` and ``handkit.data.crop``), so a W-pixel-wide image spans
u in [-0.5, W - 0.5] and its centre is (W - 1) / 2.
Introduced in ``notebooks/01_mano_basics.ipynb``.
"""

from __future__ import annotations

import math

import torch


def intrinsics(
    image_size: int | tuple[int, int], *, fov_deg: float = 40.0, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """Pinhole intrinsics K (3, 3) for a square-pixel camera with the principal point centred
    at ((W - 1) / 2, (H - 1) / 2).

    Args:
        image_size: width = height, or (width, height), in pixels.
        fov_deg: horizontal field of view in degrees.
    Returns:
        (3, 3) [[f, 0, cx], [0, f, cy], [0, 0, 1]], f = (W / 2) / tan(fov / 2).

    >>> round(intrinsics(128, fov_deg=90.0)[0, 0].item(), 6)
    64.0
    """
    width, height = (image_size, image_size) if isinstance(image_size, int) else image_size
    if width <= 0 or height <= 0 or not 0 < fov_deg < 180:
        raise ValueError(
            f"image_size must be positive and fov_deg in (0, 180), got {image_size}, {fov_deg}"
        )
    focal = (width / 2) / math.tan(math.radians(fov_deg) / 2)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    return torch.tensor([[focal, 0, cx], [0, focal, cy], [0, 0, 1]], dtype=dtype)


def project_points(points: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Perspective projection of camera-space points to pixels.

    Args:
        points: (..., N, 3) camera-space points with z > 0.
        K: (3, 3) or (..., 3, 3) intrinsics matching the leading dims of ``points``.
    Returns:
        (..., N, 2) pixel coordinates (u, v).
    """
    if points.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., N, 3), got {tuple(points.shape)}")
    if K.shape[-2:] != (3, 3):
        raise ValueError(f"K must have shape (..., 3, 3), got {tuple(K.shape)}")
    homogeneous = points @ K.to(points.dtype).transpose(-1, -2)  # (..., N, 3)
    return homogeneous[..., :2] / homogeneous[..., 2:3]


def place_at_root(
    points: torch.Tensor, root_point: torch.Tensor, root: torch.Tensor
) -> torch.Tensor:
    """Translate points so that ``root_point`` lands on ``root`` (paper's r, camera space).

    Args:
        points: (B, N, 3) mm, e.g. MANO vertices or joints.
        root_point: (B, 3) the point that should move to the root (e.g. the wrist joint).
        root: (B, 3) or (3,) target position, mm.
    Returns:
        (B, N, 3).
    """
    return points - root_point[:, None] + root.reshape(-1, 1, 3)
