"""Square hand crops with the camera intrinsics kept exact, and the rotation augmentation.

A crop is an image map u' = M u (3x3, homogeneous pixels) of scale and shift; the cropped image
samples the original at M^-1 u', and its intrinsics are M @ intrinsics, so every 3D point projects
with them onto the same image content it projected onto with the original intrinsics.

The rotation augmentation (paper Appendix C: a random angle in [-pi/8, pi/8]) rotates the
*camera* about its optical axis: 3D points become X' = Rz X (joints, root, vertices, and the global
MANO rotation Rz R; finger pose and shape are unchanged). The image follows with
A = F R2 F^-1 (F = diag(fx, fy), R2 the 2D rotation) applied about a centre c, and the
principal point moves to c + A (p - c). This is exact for any c and any fx, fy; for fx = fy, A is
a plain image rotation by the same angle (clockwise on screen, as y points down).

Pixel convention: integer coordinates are pixel centres (as the intrinsics assume). Letters: S
output size, J joints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import roma
import torch

from handkit.data.record import FrameRecord

#: Appendix C: rotation augmentation range, radians.
MAX_ROTATION_RAD = np.pi / 8


def project(points: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Pinhole projection of (N, 3) camera points (z > 0) with intrinsics (3, 3) -> (N, 2)
    pixels."""
    uvw = points @ intrinsics.T  # (N, 3)
    return uvw[:, :2] / uvw[:, 2:3]


def joint_box(
    uv: np.ndarray, *, margin: float = 0.25, min_side: float = 8.0
) -> tuple[np.ndarray, float]:
    """Square box around 2D points: centre of their bounding box, side = (1 + 2 margin) x extent.

    Args:
        uv: (N, 2) pixels, N >= 1.
        margin: fraction of the larger bounding-box extent added on each side.
        min_side: smallest side in pixels (for a single point or a tiny hand).
    Returns:
        centre (2,) pixels and side (pixels).
    """
    if uv.ndim != 2 or uv.shape[1] != 2 or len(uv) == 0:
        raise ValueError(f"uv must have shape (N, 2) with N >= 1, got {uv.shape}")
    low, high = uv.min(0), uv.max(0)
    side = max(float((high - low).max()) * (1.0 + 2.0 * margin), min_side)
    return (low + high) / 2.0, side


def crop_matrix(centre: np.ndarray, side: float, out_size: int) -> np.ndarray:
    """(3, 3) map from original pixels to crop pixels: the box centre goes to the crop centre.

    >>> M = crop_matrix(np.array([50.0, 40.0]), 20.0, 64)
    >>> (M @ [50.0, 40.0, 1.0]).tolist(), float(M[0, 0])
    ([31.5, 31.5, 1.0], 3.2)
    """
    scale = out_size / side
    shift = (out_size - 1) / 2.0 - scale * np.asarray(centre, dtype=np.float64)
    return np.array([[scale, 0.0, shift[0]], [0.0, scale, shift[1]], [0.0, 0.0, 1.0]])


def camera_roll(angle_rad: float) -> np.ndarray:
    """(3, 3) Rz: rotation by ``angle_rad`` about the camera's optical (z) axis."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def roll_image_matrix(
    intrinsics: np.ndarray, angle_rad: float, centre: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The image map and new intrinsics of rolling the camera by ``angle_rad`` (X' = Rz X).

    Args:
        intrinsics: (3, 3) intrinsics without skew.
        angle_rad: roll angle.
        centre: (2,) pixel the image turns about.
    Returns:
        M (3, 3) with M @ intrinsics = rolled @ Rz, and the rolled intrinsics (3, 3) (same focal
        lengths, moved principal point).
    """
    focal = np.diag([intrinsics[0, 0], intrinsics[1, 1]])
    turn = focal @ camera_roll(angle_rad)[:2, :2] @ np.linalg.inv(focal)  # (2, 2)
    centre = np.asarray(centre, dtype=np.float64)
    M = np.eye(3)
    M[:2, :2] = turn
    M[:2, 2] = centre - turn @ centre
    intrinsics_rolled = intrinsics.copy()
    intrinsics_rolled[:2, 2] = centre + turn @ (intrinsics[:2, 2] - centre)
    return M, intrinsics_rolled


def warp_image(
    image: np.ndarray, M: np.ndarray, out_size: int, *, nearest: bool = False
) -> np.ndarray:
    """Resample ``image`` (H, W, C) or (H, W) into (S, S[, C]) so that output pixel u' shows the
    original at M^-1 u'. Bilinear (or nearest), zero outside the image; the dtype is kept."""
    height, width = image.shape[:2]
    v_out, u_out = np.mgrid[0:out_size, 0:out_size]  # (S, S) each
    grid = np.stack([u_out.ravel(), v_out.ravel(), np.ones(out_size * out_size)])  # (3, S*S)
    u, v = (np.linalg.inv(M) @ grid)[:2]  # (S*S,) each, original pixels
    pixels = image.reshape(height, width, -1).astype(np.float64)  # (H, W, C)
    if nearest:
        corners = [(np.rint(u), np.rint(v), np.ones_like(u))]
    else:
        u0, v0 = np.floor(u), np.floor(v)
        du, dv = u - u0, v - v0
        corners = [
            (u0, v0, (1 - du) * (1 - dv)), (u0 + 1, v0, du * (1 - dv)),
            (u0, v0 + 1, (1 - du) * dv), (u0 + 1, v0 + 1, du * dv),
        ]
    out = np.zeros((u.size, pixels.shape[2]))  # (S*S, C)
    for cu, cv, weight in corners:
        inside = (cu >= 0) & (cu <= width - 1) & (cv >= 0) & (cv <= height - 1)
        iu, iv = cu[inside].astype(np.int64), cv[inside].astype(np.int64)
        out[inside] += weight[inside, None] * pixels[iv, iu]
    if np.issubdtype(image.dtype, np.integer):
        out = np.clip(np.rint(out), np.iinfo(image.dtype).min, np.iinfo(image.dtype).max)
    elif image.dtype == bool:
        out = out > 0.5
    return out.astype(image.dtype).reshape((out_size, out_size) + image.shape[2:])


def crop_record(
    record: FrameRecord,
    *,
    out_size: int = 224,
    margin: float = 0.25,
    rotation_rad: float = 0.0,
    box: tuple[float, float, float] | None = None,
) -> FrameRecord:
    """A square crop of ``record`` around its hand, resized to ``out_size``, optionally rolled.

    Args:
        record: a full-image frame.
        out_size: S, side of the output image in pixels.
        margin: see :func:`joint_box`.
        rotation_rad: camera roll (see the module docstring); 0 for none.
        box: (u, v, side) of the crop in the original image; default: :func:`joint_box` of the
            projected valid ground-truth joints (after the roll). Needed for frames with no
            valid joint.
    Returns:
        A new record: image (S, S, 3), intrinsics M @ intrinsics, and (when rolled) joints, root,
        verts and the global rotation theta[:3] turned by Rz. ``mask`` is cropped too.
    """
    valid = np.asarray(record.joint_valid, dtype=bool)
    if box is None and not valid.any():
        raise ValueError(
            f"{record.video_id} frame {record.frame_index}: no valid joint to crop around; pass box"
        )
    roll = camera_roll(rotation_rad)
    if box is None:
        centre = joint_box(project(record.joints[valid], record.intrinsics), margin=margin)[0]
    else:
        centre = np.asarray(box[:2], dtype=np.float64)
    M_roll, intrinsics_rolled = roll_image_matrix(record.intrinsics, rotation_rad, centre)
    joints = record.joints @ roll.T  # (J, 3)
    if box is None:
        centre, side = joint_box(project(joints[valid], intrinsics_rolled), margin=margin)
    else:
        side = float(box[2])
    M_crop = crop_matrix(centre, side, out_size)
    M = M_crop @ M_roll
    return replace(
        record,
        image=warp_image(record.image, M, out_size),
        intrinsics=M_crop @ intrinsics_rolled,
        joints=joints,
        root=roll @ record.root,
        theta=_roll_global_rotation(record.theta, roll),
        verts=None if record.verts is None else record.verts @ roll.T,
        mask=None if record.mask is None else warp_image(record.mask, M, out_size, nearest=True),
    )


def _roll_global_rotation(theta: np.ndarray, roll: np.ndarray) -> np.ndarray:
    global_rot = roma.rotvec_to_rotmat(torch.as_tensor(theta[:3], dtype=torch.float64))  # (3, 3)
    rolled = torch.as_tensor(roll) @ global_rot
    return np.concatenate([roma.rotmat_to_rotvec(rolled).numpy(), theta[3:]])


def random_roll_crop(
    record: FrameRecord,
    rng: np.random.Generator,
    *,
    out_size: int = 224,
    margin: float = 0.25,
    max_rotation_rad: float = MAX_ROTATION_RAD,
) -> FrameRecord:
    """:func:`crop_record` with a roll drawn uniformly from [-max_rotation_rad, max_rotation_rad]
    by ``rng`` (Appendix C uses pi/8)."""
    angle = float(rng.uniform(-max_rotation_rad, max_rotation_rad))
    return crop_record(record, out_size=out_size, margin=margin, rotation_rad=angle)


@dataclass(frozen=True)
class CropTransform:
    """Per-item transform: a square crop of side ``out_size``, rolled by an angle drawn from
    [-max_rotation_rad, max_rotation_rad] (Appendix C: pi/8; 0 for no roll), with
    :func:`handkit.data.crop.crop_record` (intrinsics, joints, root and the global rotation follow).

    Args:
        out_size: S.
        margin: see :func:`handkit.data.crop.joint_box` (``box="joints"`` only).
        max_rotation_rad: roll range, radians.
        box: where to crop. "image": the largest centred square of the image (the whole frame
            of a square image; uses no ground truth, so unlabelled frames are cropped as labelled
            ones are); "joints": around the projected valid joints (evaluation, or labelled frames
            only: a frame whose ground truth is hidden has none and raises ``ValueError``); or a
            function ``record -> (u, v, side)`` (e.g. a hand detector's box).
    """

    out_size: int
    margin: float = 0.25
    max_rotation_rad: float = 0.0
    box: str | Callable[[FrameRecord], tuple[float, float, float]] = "image"

    def __post_init__(self) -> None:
        size = self.out_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 2:
            raise ValueError(f"out_size must be an integer >= 2, got {self.out_size!r}")
        if not callable(self.box) and self.box not in ("image", "joints"):
            raise ValueError(f"box must be 'image', 'joints' or a function, got {self.box!r}")
        if not 0 <= self.max_rotation_rad <= np.pi:
            raise ValueError(f"max_rotation_rad must be in [0, pi], got {self.max_rotation_rad!r}")

    def __call__(self, record: FrameRecord, rng: np.random.Generator) -> FrameRecord:
        angle = float(rng.uniform(-self.max_rotation_rad, self.max_rotation_rad))
        if self.box == "joints" and not np.asarray(record.joint_valid).any():
            raise ValueError(
                f"{record.video_id} frame {record.frame_index}: box='joints' needs valid joints, "
                "and this frame has none (an unlabelled frame's ground truth is hidden in "
                "training): use box='image' or a box function"
            )
        box = None
        if self.box == "image":
            height, width = record.image.shape[:2]
            box = ((width - 1) / 2.0, (height - 1) / 2.0, float(min(height, width)))
        elif callable(self.box):
            box = tuple(float(x) for x in self.box(record))
            if len(box) != 3:
                raise ValueError(f"the box function must return (u, v, side), got {box}")
        return crop_record(
            record, out_size=self.out_size, margin=self.margin, rotation_rad=angle, box=box
        )
