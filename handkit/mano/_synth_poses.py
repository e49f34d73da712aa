"""Natural hand poses and the learnt PCA pose basis of the synthetic hand (private helper).

A finger pose is four angles in radians: base flexion, base abduction (towards the thumb
side is positive), middle-joint flexion, end-joint flexion. The thumb has five: base (CMC)
flexion across the palm, base abduction away from the palm, MCP flexion, IP flexion and a
base twist (pronation). Rotations follow MANO's convention: joint axes are fixed axes of the
rest pose, so flexion is a rotation about the finger's rest lateral axis.
"""

from __future__ import annotations

import numpy as np

from handkit.mano._synth_mesh import FINGER_JOINTS, finger_frames

#: Named poses: index, middle, ring, pinky as (flex, abduct, mid flex, end flex), then the
#: thumb as (flex, abduct, MCP flex, IP flex, twist). Radians.
NAMED_POSES = {
    "flat": ((0, 0, 0, 0),) * 4 + ((0, 0, 0, 0, 0),),
    "relaxed": ((0.25, 0.05, 0.35, 0.2), (0.3, 0.0, 0.4, 0.2), (0.35, -0.05, 0.45, 0.25),
                (0.4, -0.1, 0.5, 0.3), (0.2, 0.25, 0.15, 0.15, 0.1)),
    "fist": ((1.45, 0.0, 1.65, 1.0),) * 4 + ((0.12, 0.12, 0.86, 1.18, 0.1),),
    "point": ((0.05, 0.05, 0.05, 0.0), (1.45, 0, 1.65, 1.0), (1.45, 0, 1.65, 1.0),
              (1.45, 0, 1.65, 1.0), (0.07, 0.11, 0.99, 1.03, 0.11)),
    "pinch": ((0.55, 0.0, 0.75, 0.45), (0.5, 0.0, 0.6, 0.3), (0.55, -0.05, 0.6, 0.3),
              (0.6, -0.1, 0.6, 0.3), (0.31, 0.11, 0.18, 0.12, -0.21)),
    "ok": ((0.6, 0.05, 0.85, 0.55), (0.1, 0.0, 0.1, 0.05), (0.1, -0.12, 0.1, 0.05),
           (0.1, -0.25, 0.1, 0.05), (0.27, 0.16, 0.21, 0.21, -0.16)),
    "grasp": ((0.9, 0.0, 1.0, 0.6), (0.95, 0.0, 1.05, 0.6), (1.0, 0.0, 1.05, 0.6),
              (1.05, 0.0, 1.05, 0.6), (0.55, 0.37, 0.07, 0.0, -0.13)),
    "spread": ((0.0, 0.3, 0.0, 0.0), (0.0, 0.05, 0.0, 0.0), (0.0, -0.2, 0.0, 0.0),
               (0.0, -0.35, 0.0, 0.0), (-0.1, 0.1, 0.0, 0.0, 0.0)),
    "victory": ((0.05, 0.25, 0.05, 0.0), (0.05, -0.1, 0.05, 0.0), (1.45, 0, 1.65, 1.0),
                (1.45, 0, 1.65, 1.0), (0.3, 0.06, 1.02, 0.98, 0.01)),
    "thumbs_up": ((1.45, 0.0, 1.65, 1.0),) * 4 + ((-0.1, 0.0, 0.0, 0.0, 0.0),),
    "claw": ((0.0, 0.05, 1.2, 0.9), (0.0, 0.0, 1.2, 0.9), (0.0, -0.05, 1.2, 0.9),
             (0.0, -0.1, 1.2, 0.9), (0.3, 0.4, 0.4, 0.5, 0.2)),
}

#: Physiological limits (low, high) of each finger angle and each thumb angle, radians.
FINGER_LIMITS = np.array([(-0.3, 1.6), (-0.35, 0.35), (0.0, 1.9), (-0.1, 1.3)])
THUMB_LIMITS = np.array([(-0.3, 1.0), (-0.2, 1.0), (-0.2, 1.0), (-0.3, 1.3), (-0.3, 0.6)])


def _angles_vector(pose) -> np.ndarray:
    """(21,) angles of a pose given per finger (16 finger angles, then 5 thumb angles)."""
    return np.concatenate([np.asarray(p, dtype=np.float64) for p in pose])


def angles_to_axis_angle(angles: np.ndarray, design: dict) -> np.ndarray:
    """Per-finger angles (..., 21) -> MANO finger pose (..., 45) axis-angle, joints 1..15."""
    frames = finger_frames(design)
    out = np.zeros(angles.shape[:-1] + (16, 3))
    for k, frame in enumerate(frames):
        a = angles[..., 4 * k: 4 * k + (5 if k == 4 else 4)]
        base, middle, end = FINGER_JOINTS[k]
        out[..., base, :] = a[..., :1] * frame.lateral + a[..., 1:2] * frame.dorsal
        if k == 4:
            out[..., base, :] += a[..., 4:5] * frame.direction
        out[..., middle, :] = a[..., 2:3] * frame.lateral
        out[..., end, :] = a[..., 3:4] * frame.lateral
    return out[..., 1:, :].reshape(angles.shape[:-1] + (45,))


def named_pose_angles(name: str) -> np.ndarray:
    """(21,) angles of one of ``NAMED_POSES``."""
    if name not in NAMED_POSES:
        raise ValueError(f"pose name must be one of {sorted(NAMED_POSES)}, got {name!r}")
    return _angles_vector(NAMED_POSES[name])


def sample_natural_poses(count: int, seed: int, design: dict) -> np.ndarray:
    """(count, 45) axis-angle finger poses: random blends of the named poses plus noise.

    Each sample mixes two or three named poses with Dirichlet weights, adds per-finger curl and
    per-angle noise, clips to the physiological limits and adds tiny off-axis wobble.
    """
    rng = np.random.default_rng(seed)
    library = np.stack([_angles_vector(p) for p in NAMED_POSES.values()])  # (P, 21)
    low = np.concatenate([np.tile(FINGER_LIMITS[:, 0], 4), THUMB_LIMITS[:, 0]])
    high = np.concatenate([np.tile(FINGER_LIMITS[:, 1], 4), THUMB_LIMITS[:, 1]])
    angles = np.zeros((count, 21))
    for n in range(count):
        picks = rng.choice(len(library), size=rng.integers(2, 4), replace=False)
        mix = rng.dirichlet(np.full(len(picks), 0.6))
        angles[n] = mix @ library[picks]
    curl = rng.normal(0.0, 0.15, size=(count, 4, 1)) * np.array([1.0, 0.0, 1.0, 0.6])
    angles[:, :16] += curl.reshape(count, 16)
    angles += rng.normal(0.0, 0.08, size=angles.shape)
    angles = np.clip(angles, low, high)
    wobble = rng.normal(0.0, 0.02, size=(count, 45))
    return angles_to_axis_angle(angles, design) + wobble


def pose_pca(poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA of poses (N, 45): components (45, 45) (rows, by decreasing variance) and mean (45,).

    Each component's sign is fixed so that its largest entry is positive.
    """
    mean = poses.mean(0)
    _, _, components = np.linalg.svd(poses - mean, full_matrices=False)  # (45, 45)
    largest = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(len(components)), largest])
    return components * signs[:, None], mean
