"""The roll-augmented crop of :mod:`handkit.data.crop` for a batch of torch tensors (any device).

:func:`roll_crop_batch` does, item by item, exactly what :func:`handkit.data.crop.crop_record`
does to one record (same box, roll, intrinsics M @ intrinsics, bilinear resampling with zeros
outside): a roll of the camera about its optical axis by an angle in [-pi/8, pi/8] (paper Appendix
C), then a square crop of side S. Use it to augment whole batches, on a GPU if there is one;
:func:`handkit.data.batch.roll_frame_batch` applies it to a :class:`~handkit.data.batch.FrameBatch`.

Letters: B batch, J joints, S output side, H x W input images.
"""

from __future__ import annotations

from dataclasses import dataclass

import roma
import torch

from handkit.data.crop import MAX_ROTATION_RAD


@dataclass(frozen=True)
class RolledCrops:
    """B rolled crops of side S, as :func:`roll_crop_batch` returns them.

    Attributes:
        images: (B, 3, S, S) or (B, S, S, 3), the input's layout and dtype.
        intrinsics: (B, 3, 3) intrinsics of the crops.
        joints: (B, J, 3) joints turned by the roll, mm.
        root: (B, 3) root turned by the roll, mm.
        theta: (B, 48) pose whose global rotation is turned by the roll (fingers unchanged).
        angles: (B,) roll angles, radians.
        matrices: (B, 3, 3) image maps M, original pixel -> crop pixel (homogeneous).
    """

    images: torch.Tensor
    intrinsics: torch.Tensor
    joints: torch.Tensor
    root: torch.Tensor
    theta: torch.Tensor
    angles: torch.Tensor
    matrices: torch.Tensor


def roll_crop_batch(
    images: torch.Tensor,
    intrinsics: torch.Tensor,
    joints: torch.Tensor,
    root: torch.Tensor,
    theta: torch.Tensor,
    *,
    out_size: int,
    angles: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    max_rotation_rad: float = MAX_ROTATION_RAD,
    joint_valid: torch.Tensor | None = None,
    boxes: torch.Tensor | None = None,
    margin: float = 0.25,
) -> RolledCrops:
    """:func:`~handkit.data.crop.crop_record` for a batch, in torch: the same maths per item.

    Each item is rolled by its angle about the centre of its box, then cropped to S x S with
    intrinsics M @ intrinsics (module docstring). Images are resampled bilinearly with zeros
    outside, as :func:`~handkit.data.crop.warp_image` does (uint8 images are rounded back to uint8).

    Args:
        images: (B, 3, H, W) or (B, H, W, 3) (channels first when dim 1 has size 3), uint8 or
            float.
        intrinsics: (B, 3, 3) float intrinsics without skew; the maths runs in its dtype.
        joints: (B, J, 3) camera-space joints, mm.
        root: (B, 3) root, mm.
        theta: (B, 48) absolute axis-angle pose.
        out_size: S.
        angles: (B,) roll angles, radians; default: drawn uniformly in
            [-max_rotation_rad, max_rotation_rad] with ``generator`` (Appendix C: pi/8).
        generator: torch.Generator for the angles (on ``intrinsics``'s device).
        max_rotation_rad: range of the drawn angles.
        joint_valid: (B, J) bool, the joints the boxes are fitted to (default: all).
        boxes: (B, 3) (u, v, side) of each crop in the original image, as ``box`` of
            ``crop_record``; default: ``joint_box`` of the valid joints, before and after
            the roll.
        margin: see :func:`handkit.data.crop.joint_box`.
    Returns:
        :class:`RolledCrops`.
    """
    batch = _check_batch(images, intrinsics, joints, root, theta)
    dtype, device = intrinsics.dtype, intrinsics.device
    if angles is None:
        unit = torch.rand(batch, generator=generator, dtype=dtype, device=device)
        angles = (2.0 * unit - 1.0) * max_rotation_rad
    elif angles.shape != (batch,):
        raise ValueError(f"angles must have shape ({batch},), got {tuple(angles.shape)}")
    angles = angles.to(dtype)
    valid = _valid_joints(joint_valid, joints, boxes)
    roll = _camera_roll_batch(angles)  # (B, 3, 3)
    if boxes is None:
        centre = _joint_box_batch(_project_batch(joints, intrinsics), valid, margin)[0]  # (B, 2)
    else:
        centre = boxes[:, :2].to(dtype)
    M_roll, intrinsics_rolled = _roll_image_matrix_batch(intrinsics, angles, centre)
    joints_rolled = joints @ roll.transpose(1, 2)  # (B, J, 3)
    if boxes is None:
        centre, side = _joint_box_batch(_project_batch(joints_rolled, intrinsics_rolled), valid,
                                        margin)
    else:
        side = boxes[:, 2].to(dtype)
    M_crop = _crop_matrix_batch(centre, side, out_size)
    M = M_crop @ M_roll  # (B, 3, 3)
    global_rot = roll @ roma.rotvec_to_rotmat(theta[:, :3])  # (B, 3, 3)
    return RolledCrops(
        images=_warp_batch(images, M, out_size),
        intrinsics=M_crop @ intrinsics_rolled,
        joints=joints_rolled,
        root=(roll @ root[:, :, None])[:, :, 0],
        theta=torch.cat([roma.rotmat_to_rotvec(global_rot), theta[:, 3:]], dim=1),
        angles=angles,
        matrices=M,
    )


def _check_batch(images, intrinsics, joints, root, theta) -> int:
    batch = intrinsics.shape[0] if intrinsics.ndim == 3 else -1
    expected = {
        "intrinsics": (intrinsics, (batch, 3, 3)),
        "joints": (joints, (batch, joints.shape[1] if joints.ndim == 3 else -1, 3)),
        "root": (root, (batch, 3)),
        "theta": (theta, (batch, 48)),
    }
    for name, (value, shape) in expected.items():
        if tuple(value.shape) != shape or batch < 1:
            raise ValueError(f"{name} must have shape {shape} (B from intrinsics), "
                             f"got {tuple(value.shape)}")
    if images.ndim != 4 or images.shape[0] != batch or 3 not in (images.shape[1], images.shape[3]):
        raise ValueError(
            f"images must have shape ({batch}, 3, H, W) or ({batch}, H, W, 3), "
            f"got {tuple(images.shape)}"
        )
    return batch


def _valid_joints(joint_valid, joints, boxes) -> torch.Tensor:
    if joint_valid is None:
        return torch.ones(joints.shape[:2], dtype=torch.bool, device=joints.device)
    if joint_valid.shape != joints.shape[:2]:
        raise ValueError(
            f"joint_valid must have shape {tuple(joints.shape[:2])}, got {tuple(joint_valid.shape)}"
        )
    empty = torch.nonzero(~joint_valid.any(dim=1)).flatten().tolist()
    if boxes is None and empty:
        raise ValueError(f"batch items {empty[:5]} have no valid joint to crop around; pass boxes")
    return joint_valid.bool()


def _camera_roll_batch(angles: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 3, 3) rotations about the optical axis (:func:`camera_roll`)."""
    c, s = torch.cos(angles), torch.sin(angles)
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    rows = [torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1)]
    return torch.stack(rows + [torch.stack([zero, zero, one], -1)], dim=1)


def _project_batch(points: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) camera points, (B, 3, 3) intrinsics -> (B, N, 2) pixels."""
    uvw = points @ intrinsics.transpose(1, 2)  # (B, N, 3)
    return uvw[..., :2] / uvw[..., 2:3]


def _joint_box_batch(uv, valid, margin: float, min_side: float = 8.0):
    """:func:`joint_box` per item over its valid points: centre (B, 2), side (B,)."""
    inf = torch.tensor(float("inf"), dtype=uv.dtype, device=uv.device)
    low = torch.where(valid[..., None], uv, inf).amin(dim=1)  # (B, 2)
    high = torch.where(valid[..., None], uv, -inf).amax(dim=1)  # (B, 2)
    side = ((high - low).amax(dim=1) * (1.0 + 2.0 * margin)).clamp(min=min_side)  # (B,)
    return (low + high) / 2.0, side


def _roll_image_matrix_batch(intrinsics, angles, centre):
    """:func:`roll_image_matrix` per item: M (B, 3, 3) and the rolled intrinsics (B, 3, 3)."""
    focal = torch.stack([intrinsics[:, 0, 0], intrinsics[:, 1, 1]], dim=1)  # (B, 2)
    turn = _camera_roll_batch(angles)[:, :2, :2] * focal[:, :, None] / focal[:, None, :]  # F R F^-1
    M = torch.eye(3, dtype=intrinsics.dtype, device=intrinsics.device).repeat(len(intrinsics), 1, 1)
    M[:, :2, :2] = turn
    M[:, :2, 2] = centre - (turn @ centre[:, :, None])[:, :, 0]
    intrinsics_rolled = intrinsics.clone()
    principal = intrinsics[:, :2, 2] - centre  # (B, 2), about the centre
    intrinsics_rolled[:, :2, 2] = centre + (turn @ principal[:, :, None])[:, :, 0]
    return M, intrinsics_rolled


def _crop_matrix_batch(centre, side, out_size: int) -> torch.Tensor:
    """:func:`crop_matrix` per item: (B, 2) centres, (B,) sides -> (B, 3, 3)."""
    scale = out_size / side  # (B,)
    shift = (out_size - 1) / 2.0 - scale[:, None] * centre  # (B, 2)
    M = torch.zeros(len(side), 3, 3, dtype=centre.dtype, device=centre.device)
    M[:, 0, 0], M[:, 1, 1], M[:, 2, 2] = scale, scale, 1.0
    M[:, :2, 2] = shift
    return M


def _warp_batch(images: torch.Tensor, M: torch.Tensor, out_size: int) -> torch.Tensor:
    """:func:`warp_image` per item with ``grid_sample`` (bilinear, zeros outside)."""
    channels_last = images.shape[1] != 3
    pixels = images.permute(0, 3, 1, 2) if channels_last else images  # (B, 3, H, W)
    height, width = pixels.shape[2:]
    work = pixels.dtype if pixels.is_floating_point() else M.dtype
    axis = torch.arange(out_size, dtype=M.dtype, device=M.device)
    v_out, u_out = torch.meshgrid(axis, axis, indexing="ij")  # (S, S) each
    grid = torch.stack([u_out, v_out, torch.ones_like(u_out)], -1).reshape(-1, 3)  # (S*S, 3)
    source = grid @ torch.linalg.inv(M).transpose(1, 2)  # (B, S*S, 3) original pixels
    scale = torch.tensor([2.0 / (width - 1), 2.0 / (height - 1)], dtype=M.dtype, device=M.device)
    normalised = source[..., :2] / source[..., 2:] * scale - 1.0  # align_corners: centres at +-1
    sampled = torch.nn.functional.grid_sample(
        pixels.to(work),
        normalised.reshape(-1, out_size, out_size, 2).to(work),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=True,
    )  # (B, 3, S, S)
    if not images.is_floating_point():
        sampled = sampled.round().clamp(0, 255).to(images.dtype)
    else:  # bilinear weights keep values within the input's range, up to rounding: remove that
        sampled = sampled.clamp(min(float(pixels.min()), 0.0), float(pixels.max()))
    return sampled.permute(0, 2, 3, 1) if channels_last else sampled
