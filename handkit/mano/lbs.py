"""MANO's forward maths as small pure functions (paper Sec. II-A, M(theta, beta)).

The steps, in order (each is one function here):

1. ``axis_angle_to_rotmat``  theta (B, 16, 3) -> R (B, 16, 3, 3)                     (Rodrigues)
2. ``pose_features``         R of joints 1-15 -> (R - I) flattened row-major  -> (B, 135)
3. ``blend_vertices``        template + shape blend (beta) + pose blend (R - I)   -> (B, V, 3)
4. ``regress_rest_joints``   rest joints of the shaped hand                        -> (B, 16, 3)
5. ``kinematic_chain``       global rotation and position of every joint
                                                          -> (B, 16, 3, 3), (B, 16, 3)
6. ``skin_vertices``         linear blend skinning of the posed rest vertices      -> (B, V, 3)
7. ``select_output_joints``  16 joints + 5 fingertip vertices, reordered           -> (B, 21, 3)

Shape letters: B batch, V = 778 vertices, 16 MANO joints, 21 output joints.
All lengths are in the model's unit (metres for MANO). Introduced in
``notebooks/01_mano_basics.ipynb``.
"""

from __future__ import annotations

import functools

import torch

from handkit.mano.model import MANO_TO_OUTPUT_ORDER


def axis_angle_to_rotmat(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: rotation vectors (..., 3) -> rotation matrices (..., 3, 3).

    Stable and differentiable at zero angle (series expansion for tiny angles).

    >>> axis_angle_to_rotmat(torch.zeros(2, 3)).shape
    torch.Size([2, 3, 3])
    """
    angle_sq = (axis_angle * axis_angle).sum(-1, keepdim=True)  # (..., 1)
    small = angle_sq < 1e-8
    safe_sq = torch.where(small, torch.ones_like(angle_sq), angle_sq)
    angle = safe_sq.sqrt()
    # sin(a)/a and (1 - cos(a))/a^2, with Taylor series near a = 0.
    sin_term = torch.where(small, 1.0 - angle_sq / 6.0, torch.sin(angle) / angle)
    cos_term = torch.where(small, 0.5 - angle_sq / 24.0, (1.0 - torch.cos(angle)) / safe_sq)
    x, y, z = axis_angle.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1)
    skew = skew.reshape(axis_angle.shape[:-1] + (3, 3))  # (..., 3, 3)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + sin_term[..., None] * skew + cos_term[..., None] * (skew @ skew)


def rot6d_to_rotmat(rot6d: torch.Tensor) -> torch.Tensor:
    """Continuous 6D rotation (Zhou et al. 2019) -> rotation matrix, manopth's convention.

    The first three values give the first column, the next three (after Gram-Schmidt) the second.

    Args:
        rot6d: (..., 6).
    Returns:
        (..., 3, 3) rotation matrices with columns (x, y, z).
    """
    x = torch.nn.functional.normalize(rot6d[..., 0:3], dim=-1, eps=1e-8)
    z = torch.nn.functional.normalize(torch.cross(x, rot6d[..., 3:6], dim=-1), dim=-1, eps=1e-8)
    y = torch.cross(z, x, dim=-1)
    return torch.stack([x, y, z], dim=-1)


def project_to_rotation(matrices: torch.Tensor) -> torch.Tensor:
    """Nearest rotation matrix (SVD projection onto SO(3)).

    Args:
        matrices: (..., 3, 3).
    Returns:
        (..., 3, 3) with orthonormal columns and determinant +1.
    """
    u, _, vh = torch.linalg.svd(matrices)
    det = torch.det(u @ vh)  # (...,)
    flip = torch.ones_like(u[..., 0, :])  # (..., 3)
    flip[..., 2] = torch.sign(det)
    return (u * flip[..., None, :]) @ vh


def pose_features(rotmats: torch.Tensor) -> torch.Tensor:
    """Pose-blend feature: (R_j - I) flattened row-major for joints 1-15.

    Args:
        rotmats: (B, 16, 3, 3) local joint rotations, joint 0 (global) first.
    Returns:
        (B, 135).
    """
    eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
    return (rotmats[:, 1:] - eye).reshape(rotmats.shape[0], -1)  # (B, 15*9)


def blend_vertices(
    v_template: torch.Tensor, blend_dirs: torch.Tensor, coefficients: torch.Tensor
) -> torch.Tensor:
    """Template plus linear blend shapes: T + sum_k c_k D_k.

    With ``blend_dirs`` = shapedirs and ``coefficients`` = beta this is the shape blend;
    with posedirs and ``pose_features`` the pose blend; with both concatenated, both at once.

    Args:
        v_template: (V, 3).
        blend_dirs: (C, V * 3) blend directions, one row per coefficient.
        coefficients: (B, C).
    Returns:
        (B, V, 3).
    """
    offsets = coefficients @ blend_dirs  # (B, V*3)
    return v_template + offsets.reshape(coefficients.shape[0], -1, 3)


def regress_rest_joints(
    joint_template: torch.Tensor, joint_shapedirs: torch.Tensor, betas: torch.Tensor
) -> torch.Tensor:
    """Rest joints of the shaped hand, J(beta) = J_regressor (T + S beta).

    Uses the precomputed products J_regressor T (16, 3) and J_regressor S (10, 16*3),
    which equals regressing from the shaped vertices but costs 10x less.

    Args:
        joint_template: (16, 3) = J_regressor @ v_template.
        joint_shapedirs: (10, 48) = J_regressor applied to each shape direction.
        betas: (B, 10).
    Returns:
        (B, 16, 3).
    """
    return blend_vertices(joint_template, joint_shapedirs, betas)


def kinematic_levels(parents: tuple[int, ...]) -> list[list[int]]:
    """Group joints by depth in the tree: [[root], [children of root], ...]."""
    depth = [0] * len(parents)
    for j in range(1, len(parents)):
        if not 0 <= parents[j] < j:
            raise ValueError(f"parents must list each joint after its parent, got {parents}")
        depth[j] = depth[parents[j]] + 1
    return [[j for j, d in enumerate(depth) if d == level] for level in range(max(depth) + 1)]


@functools.lru_cache(maxsize=8)
def _chain_plan(parents: tuple[int, ...]):
    """Per level: its joints, their parents' slots in the previous level; and the final order."""
    levels = kinematic_levels(parents)
    plan = []
    for prev, joints in zip(levels[:-1], levels[1:], strict=True):
        slots = [prev.index(parents[j]) for j in joints]
        plan.append((joints, [parents[j] for j in joints], slots))
    flat = [j for level in levels for j in level]
    order = [flat.index(j) for j in range(len(parents))]
    return levels[0], plan, order


def kinematic_chain(
    rotmats: torch.Tensor, rest_joints: torch.Tensor, parents: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Global rotation and position of every joint, one batched step per tree level.

    G_j = G_parent(j) [R_j, J_j - J_parent(j)]; the root is [R_0, J_0].

    Args:
        rotmats: (B, 16, 3, 3) local rotations.
        rest_joints: (B, 16, 3) rest joint positions.
        parents: parent of each joint, root -1.
    Returns:
        global_rot (B, 16, 3, 3) and global_pos (B, 16, 3) (the posed joints).
    """
    roots, plan, order = _chain_plan(tuple(int(p) for p in parents))
    level_rot = rotmats[:, roots]  # (B, 1, 3, 3)
    level_pos = rest_joints[:, roots]  # (B, 1, 3)
    all_rot, all_pos = [level_rot], [level_pos]
    for joints, joint_parents, parent_slots in plan:
        parent_rot = level_rot[:, parent_slots]  # (B, n, 3, 3)
        bone = rest_joints[:, joints] - rest_joints[:, joint_parents]  # (B, n, 3)
        level_pos = level_pos[:, parent_slots] + (parent_rot @ bone[..., None])[..., 0]
        level_rot = parent_rot @ rotmats[:, joints]  # (B, n, 3, 3)
        all_rot.append(level_rot)
        all_pos.append(level_pos)
    return torch.cat(all_rot, 1)[:, order], torch.cat(all_pos, 1)[:, order]


def skin_vertices(
    posed_rest_verts: torch.Tensor,
    weights: torch.Tensor,
    global_rot: torch.Tensor,
    global_pos: torch.Tensor,
    rest_joints: torch.Tensor,
) -> torch.Tensor:
    """Linear blend skinning: v' = sum_j w_vj (G_R_j (v - J_j) + G_p_j).

    Args:
        posed_rest_verts: (B, V, 3) rest vertices with shape and pose blends applied.
        weights: (V, 16) skinning weights.
        global_rot: (B, 16, 3, 3), global_pos: (B, 16, 3) from ``kinematic_chain``.
        rest_joints: (B, 16, 3).
    Returns:
        (B, V, 3) posed vertices.
    """
    batch = global_rot.shape[0]
    offset = global_pos - (global_rot @ rest_joints[..., None])[..., 0]  # (B, 16, 3)
    transforms = torch.cat([global_rot.reshape(batch, -1, 9), offset], -1)  # (B, 16, 12)
    blended = (weights @ transforms).reshape(batch, -1, 12)  # (B, V, 12)
    rot = blended[..., :9].reshape(batch, -1, 3, 3)  # (B, V, 3, 3)
    return (rot @ posed_rest_verts[..., None])[..., 0] + blended[..., 9:]


def select_output_joints(
    posed_joints: torch.Tensor, verts: torch.Tensor, tip_vertex_ids: tuple[int, ...]
) -> torch.Tensor:
    """The 21 output joints: 16 posed joints plus 5 fingertip vertices, in handkit's order.

    Args:
        posed_joints: (B, 16, 3) in MANO's joint order.
        verts: (B, V, 3).
        tip_vertex_ids: 5 vertex ids (thumb, index, middle, ring, pinky).
    Returns:
        (B, 21, 3): wrist, then thumb, index, middle, ring, pinky (palm -> tip).
    """
    tips = verts[:, list(tip_vertex_ids)]  # (B, 5, 3)
    return torch.cat([posed_joints, tips], 1)[:, list(MANO_TO_OUTPUT_ORDER)]
