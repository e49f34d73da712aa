"""Camera geometry: intrinsics, placing a hand at its root, projecting to pixels, and the
predictor's root recovery from (d_f, t_u, t_v) (paper Fig. 2).

Conventions (see ``handkit.data.record``): camera x right, y down, z forward; millimetres;
pixel (u, v) = (fx x / z + cx, fy y / z + cy), with pixel centres at integer (u, v) (the same
convention as ``handkit.render`` and ``handkit.data.crop``), so a W-pixel-wide image spans
u in [-0.5, W - 0.5] and its centre is (W - 1) / 2.
Introduced in ``notebooks/01_mano_basics.ipynb``; the root recovery in
``notebooks/03_hand_predictor.ipynb``.
"""

from __future__ import annotations

import math

import torch


def intrinsics(
    image_size: int | tuple[int, int], *, fov_deg: float = 40.0, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """Pinhole intrinsics (3, 3) for a square-pixel camera with the principal point centred
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


def project_points(points: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Perspective projection of camera-space points to pixels.

    Args:
        points: (..., N, 3) camera-space points with z > 0.
        intrinsics: (3, 3) or (..., 3, 3) intrinsics matching the leading dims of ``points``.
    Returns:
        (..., N, 2) pixel coordinates (u, v).
    """
    if points.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., N, 3), got {tuple(points.shape)}")
    if intrinsics.shape[-2:] != (3, 3):
        raise ValueError(f"intrinsics must have shape (..., 3, 3), got {tuple(intrinsics.shape)}")
    homogeneous = points @ intrinsics.to(points.dtype).transpose(-1, -2)  # (..., N, 3)
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


def image_centre(image_size: int | tuple[int, int]) -> tuple[float, float]:
    """The image centre (u, v) in pixels: ((W - 1) / 2, (H - 1) / 2), pixel centres at integers.

    Args:
        image_size: width = height, or (width, height), in pixels.

    >>> image_centre(64)
    (31.5, 31.5)
    """
    width, height = (image_size, image_size) if isinstance(image_size, int) else image_size
    return (width - 1) / 2, (height - 1) / 2


def root_from_offsets(
    depth_offset: torch.Tensor,
    pixel_offset: torch.Tensor,
    intrinsics: torch.Tensor,
    *,
    d_off_mm: float,
    image_size: int | tuple[int, int],
) -> torch.Tensor:
    """The hand root r (camera space, mm) from the predictor's (d_f, t_u, t_v) (Fig. 2).

    The paper's recovery (Fig. 2, following Hasson et al. 2020's ``recover_3d_proj``): the root's
    depth is d_z = f d_f + d_off and the root projects to the image centre plus (t_u, t_v);
    the pixel is back-projected through the intrinsics to depth d_z:

        d_z = fx d_f + d_off,
        (u, v) = image_centre + (t_u, t_v),
        r = ((u - cx) d_z / fx, (v - cy) d_z / fy, d_z).

    Readings: f is the intrinsics' fx (as Hasson's code); the image centre is
    ((W - 1) / 2, (H - 1) / 2), handkit's convention of pixel centres at integers (Hasson's code
    uses W / 2), so for handkit's crops, whose principal point is that centre, (t_u, t_v) is the
    root's pixel relative to the principal point.

    Args:
        depth_offset: (B,) d_f, mm of depth per pixel of focal length.
        pixel_offset: (B, 2) (t_u, t_v), pixels from the image centre.
        intrinsics: (B, 3, 3) intrinsics of the images.
        d_off_mm: the dataset's depth offset d_off, mm.
        image_size: width = height, or (width, height), of the images the intrinsics belong to.
    Returns:
        (B, 3) root r in camera space, mm.

    A hand-worked example: f = 100 px, principal point (31.5, 31.5), a 64-pixel image,
    d_f = 2 mm/px, d_off = 400 mm, (t_u, t_v) = (10, -5): d_z = 100 * 2 + 400 = 600 mm,
    (u, v) = (41.5, 26.5), x = 10 * 600 / 100 = 60 mm, y = -5 * 600 / 100 = -30 mm.

    >>> intrinsics = torch.tensor([[[100.0, 0.0, 31.5], [0.0, 100.0, 31.5], [0.0, 0.0, 1.0]]])
    >>> root_from_offsets(torch.tensor([2.0]), torch.tensor([[10.0, -5.0]]), intrinsics,
    ...                   d_off_mm=400.0, image_size=64).tolist()
    [[60.0, -30.0, 600.0]]
    """
    batch = _check_batch_intrinsics(intrinsics)
    if depth_offset.shape != (batch,) or pixel_offset.shape != (batch, 2):
        raise ValueError(
            f"depth_offset must have shape (B,) and pixel_offset (B, 2) with B={batch}, "
            f"got {tuple(depth_offset.shape)} and {tuple(pixel_offset.shape)}"
        )
    intrinsics = intrinsics.to(pixel_offset.dtype)
    fx, fy = intrinsics[:, 0, 0], intrinsics[:, 1, 1]  # (B,)
    depth = fx * depth_offset + d_off_mm  # (B,)
    pixel = pixel_offset + pixel_offset.new_tensor(image_centre(image_size))  # (B, 2)
    x = (pixel[:, 0] - intrinsics[:, 0, 2]) * depth / fx
    y = (pixel[:, 1] - intrinsics[:, 1, 2]) * depth / fy
    return torch.stack([x, y, depth], 1)  # (B, 3)


def offsets_from_root(
    root: torch.Tensor, intrinsics: torch.Tensor, *, d_off_mm: float,
    image_size: int | tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The inverse of :func:`root_from_offsets`: (d_f, (t_u, t_v)) that recover ``root``.

    Args:
        root: (B, 3) camera-space root, mm, with z > 0.
        intrinsics: (B, 3, 3) intrinsics.
        d_off_mm, image_size: as in :func:`root_from_offsets`.
    Returns:
        depth_offset (B,) mm per focal pixel, and pixel_offset (B, 2) pixels from the centre.

    >>> intrinsics = torch.tensor([[[100.0, 0.0, 31.5], [0.0, 100.0, 31.5], [0.0, 0.0, 1.0]]])
    >>> d_f, t = offsets_from_root(torch.tensor([[60.0, -30.0, 600.0]]), intrinsics,
    ...                            d_off_mm=400.0,
    ...                            image_size=64)
    >>> d_f.tolist(), t.tolist()
    ([2.0], [[10.0, -5.0]])
    """
    batch = _check_batch_intrinsics(intrinsics)
    if root.shape != (batch, 3):
        raise ValueError(f"root must have shape (B, 3) with B={batch}, got {tuple(root.shape)}")
    intrinsics = intrinsics.to(root.dtype)
    pixel = project_points(root[:, None], intrinsics)[:, 0]  # (B, 2)
    depth_offset = (root[:, 2] - d_off_mm) / intrinsics[:, 0, 0]  # (B,)
    return depth_offset, pixel - pixel.new_tensor(image_centre(image_size))


def _check_batch_intrinsics(intrinsics: torch.Tensor) -> int:
    """The batch size B of intrinsics (B, 3, 3), or a ValueError showing the shape given."""
    is_tensor = isinstance(intrinsics, torch.Tensor)
    if not is_tensor or intrinsics.dim() != 3 or intrinsics.shape[1:] != (3, 3):
        shape = tuple(intrinsics.shape) if is_tensor else type(intrinsics).__name__
        raise ValueError(f"intrinsics must have shape (B, 3, 3), got {shape}")
    return intrinsics.shape[0]
