"""Skinning weights, joint regressor and pose correctives of the synthetic hand (private helper).

All lengths in metres; V = 778 vertices, 16 MANO joints. See ``synthetic.py`` for the model.
"""

from __future__ import annotations

import numpy as np

from handkit.mano._synth_mesh import FINGER_JOINTS, PALM_LOOP, finger_frames
from handkit.mano._synth_topology import Topology
from handkit.mano.model import MANO_PARENTS

#: Half-width (metres) of the skinning blend round each finger's base, middle and end joint.
BLEND_HALF_WIDTHS = (0.009, 0.006, 0.005)
#: The thumb's base blend is centred this far out from the CMC joint, and is wider.
THUMB_BASE_BLEND = (0.012, 0.012)
#: Palm vertices follow the thumb's base joint fully within the first radius of the thumb
#: axis, not at all beyond the second.
THUMB_REACH = (0.014, 0.028)
#: Thumb-tube vertices past this distance along the thumb (centre, half-width) follow it fully.
THUMB_TUBE_FULL = (0.030, 0.008)
#: Share of a finger's base motion given to palm columns that border a web between fingers.
WEB_SHARE = 0.5
REGRESSOR_NEIGHBOURS = 32
#: Peak outward push per unit of (1 - cos angle) and per metre off the bone axis, and the
#: distance off the axis beyond which the push stops growing (metres).
BULGE_GAIN = 0.3
BULGE_RADIUS = 0.012


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _ramp(s, centre, half_width):
    """0 before ``centre - half_width``, 1 after ``centre + half_width``, smooth in between."""
    return _smoothstep((s - centre + half_width) / (2 * half_width))


def _is_web_column(column):
    """True for palm columns along the sides of the inner finger bases (they meet the webs)."""
    side = np.isin(column % 4, (0, 3)) & ~np.isin(column, (0, 15, 16, 31))
    return (column >= 0) & side


def _finger_of_palm_column(column):
    """Finger (0..3) whose knuckle a palm column runs into; dorsal then palmar columns."""
    return np.where(column < PALM_LOOP // 2, column // 4, (PALM_LOOP - 1 - column) // 4)


def skinning_weights(vertices: np.ndarray, topo: Topology, design: dict) -> np.ndarray:
    """(V, 16) weights: each finger segment follows its bone, blending smoothly at the joints.

    Args:
        vertices: (V, 3) rest vertices, metres.
        topo: the mesh structure (which finger tube each vertex belongs to).
        design: the design the skeleton comes from.
    """
    frames = finger_frames(design)
    weights = np.zeros((len(vertices), 16))
    palm = topo.finger_of_vertex < 0
    for k, frame in enumerate(frames):
        s = (vertices - frame.base) @ frame.direction  # (V,) distance along the finger
        bones = np.cumsum(design["bones"][k])
        base_blend = THUMB_BASE_BLEND if k == 4 else (0.004, BLEND_HALF_WIDTHS[0])
        centres = (base_blend[0], bones[0], bones[1])
        half_widths = (base_blend[1],) + BLEND_HALF_WIDTHS[1:]
        ramps = [_ramp(s, c, h) for c, h in zip(centres, half_widths, strict=True)]
        ramps.append(np.zeros_like(s))
        if k < 4:
            reach = (topo.finger_of_vertex == k) | (palm & (topo.palm_column >= 0) & (
                _finger_of_palm_column(topo.palm_column) == k))
            reach = reach * np.where(_is_web_column(topo.palm_column), WEB_SHARE, 1.0)
        else:
            radial = np.linalg.norm(vertices - frame.base - s[:, None] * frame.direction, axis=1)
            near_axis = 1 - _ramp(radial, np.mean(THUMB_REACH), np.ptp(THUMB_REACH) / 2)
            past_palm = _ramp(s, *THUMB_TUBE_FULL)
            reach = np.where(topo.finger_of_vertex == 4, np.maximum(near_axis, past_palm),
                             palm * near_axis)
        for bone, joint in enumerate(FINGER_JOINTS[k]):
            weights[:, joint] += reach * (ramps[bone] - ramps[bone + 1])
    finger_total = weights.sum(1)
    scale = np.where(finger_total > 1, 1 / np.maximum(finger_total, 1e-12), 1.0)
    weights *= scale[:, None]
    weights[:, 0] = 1 - weights.sum(1)
    return weights


def joint_regressor(vertices: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(16, V) non-negative rows summing to 1 that place each joint at its designed centre.

    Each row uses the nearest vertices round the joint, with weights close to a Gaussian of
    their distance, solved as non-negative least squares.
    """
    from scipy.optimize import nnls

    regressor = np.zeros((len(joints), len(vertices)))
    for j, centre in enumerate(joints):
        dist = np.linalg.norm(vertices - centre, axis=1)
        near = np.argsort(dist, kind="stable")[:REGRESSOR_NEIGHBOURS]
        prior = np.exp(-0.5 * (dist[near] / dist[near].mean()) ** 2)
        prior /= prior.sum()
        system = np.concatenate([1e4 * vertices[near].T, 1e2 * np.ones((1, len(near))),
                                 np.eye(len(near))])  # (3 + 1 + K, K)
        target = np.concatenate([1e4 * centre, [1e2], prior])
        row, _ = nnls(system, target)
        regressor[j, near] = row / row.sum()
    return regressor


def bone_directions(design: dict) -> np.ndarray:
    """(16, 3) unit direction of the bone each joint moves (the wrist's is the middle finger's)."""
    directions = np.zeros((16, 3))
    frames = finger_frames(design)
    for k, frame in enumerate(frames):
        directions[list(FINGER_JOINTS[k])] = frame.direction
    directions[0] = frames[1].direction
    return directions


def pose_correctives(vertices: np.ndarray, weights: np.ndarray, joints: np.ndarray,
                     directions: np.ndarray) -> np.ndarray:
    """(V, 3, 135) posedirs: skin bulging out round a bending joint (volume preservation).

    For joint j rotating by R, vertices where its bone and its parent's bone blend move by
    -a(v) sym(R - I) r(v), r being their offset from the bone axis and a(v) = 4 w_parent w_j
    times ``BULGE_GAIN`` (less beyond ``BULGE_RADIUS``): an outward push of a |r| (1 - cos angle)
    across the bending axis, at most 3.6 mm for a quarter turn.
    It is linear in the pose feature (R - I), as MANO's posedirs are.
    """
    posedirs = np.zeros((len(vertices), 3, 135))
    eye = np.eye(3)
    for j in range(1, 16):
        gain = BULGE_GAIN * 4 * weights[:, MANO_PARENTS[j]] * weights[:, j]  # (V,)
        offset = vertices - joints[j]
        radial = offset - (offset @ directions[j])[:, None] * directions[j]  # (V, 3)
        radius = np.linalg.norm(radial, axis=1)
        gain = gain * np.minimum(1.0, BULGE_RADIUS / np.maximum(radius, 1e-12))
        # d(delta_a) / d(F_cd) = -gain/2 (delta_ac r_d + delta_ad r_c), F = R - I, feature 3c + d
        block = -0.5 * gain[:, None, None, None] * (
            eye[None, :, :, None] * radial[:, None, None, :]
            + eye[None, :, None, :] * radial[:, None, :, None])  # (V, a, c, d)
        posedirs[:, :, 9 * (j - 1): 9 * j] = block.reshape(len(vertices), 3, 9)
    return posedirs
