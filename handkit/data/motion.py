"""How a synthetic video's hand moves: two named motion models (``SynthParams.motion``).

* ``"keyframes"`` (the default; every set made before the option existed): random key poses
  ``key_gap`` frames apart, joined by smoothstep timing 3s^2 - 2s^3 (velocity zero at keys), so
  the motion between two keys is as simple as a motion can be: interpolating two labels nearly
  reproduces how the frames were made.
* ``"natural"``: closer to hands in real footage. The hand centre, its global rotation and its
  finger articulation each follow a smooth random process (Gaussian-filtered white noise, so
  the motion has no keys and no moments of rest), bounded softly (tanh) to the same ranges as
  the key poses; the fingers also make occasional fast transitions to a new grasp (a new pose
  reached in a fraction of a second, held until the next one, like grasping and releasing);
  and a small high-frequency jitter lies over everything. ``motion_speed`` scales every rate:
  2 moves twice as fast (time scales halved, twice as many transitions, each twice as quick).

Time is counted at :data:`FPS` frames per second. The natural model's constants at speed 1:
time scales of 0.4-0.6 s for the slow processes, one grasp transition every 4 s on average,
each taking :data:`TRANSITION_S` = 0.3 s, within the 0.1-0.4 s range of pinch movements
measured by "Kinematic variability of grasp movements as a function of practice and movement
speed" (Exp. Brain Res. 73:225-235, 1988, doi:10.1007/BF00248215); fast grip and release are
studied joint by joint in "Finger Kinematics during Human Hand Grip and Release" (Biomimetics
8(2):244, 2023, doi:10.3390/biomimetics8020244). They are a model, not a fit to a data set.
"""

from __future__ import annotations

import math

import numpy as np
import roma
import torch

from handkit.data.synth_params import SynthParams
from handkit.mano.layer import ManoLayer

#: Named motion levels, slowest first: name -> SynthParams overrides (the keyframe model is the
#: synthetic Table I's). The motion x K sweep (:mod:`handkit.experiments.motion_sweep`) runs them.
MOTION_LEVELS: dict[str, dict[str, object]] = {
    "keyframes": {"motion": "keyframes"},
    "natural-slow": {"motion": "natural", "motion_speed": 0.5},
    "natural": {"motion": "natural", "motion_speed": 1.0},
    "natural-fast": {"motion": "natural", "motion_speed": 2.0},
}
#: Frames per second the natural model's time constants assume.
FPS = 30.0
#: Time scales (s, at motion_speed 1) of the hand centre, the global rotation and the fingers'
#: slow drift: roughly how long each takes to change noticeably.
ROOT_TIMESCALE_S = 0.6
ROTATION_TIMESCALE_S = 0.5
POSE_TIMESCALE_S = 0.4
#: Grasp transitions per second, and the time one takes (at motion_speed 1).
TRANSITIONS_PER_S = 0.25
TRANSITION_S = 0.3
#: The fingers' slow drift around the current grasp, as a share of the pose spread.
DRIFT_SHARE = 0.35
#: High-frequency jitter: its time scale (frames) and size (mm, degrees, radians per joint).
JITTER_FRAMES = 1.0
JITTER_MM = 1.5
JITTER_DEG = 0.7
JITTER_RAD = 0.015


def smoothstep_keys(
    keys: np.ndarray, key_frames: np.ndarray, num_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """For every frame: the key segment it lies in and its smoothstep weight.

    Args:
        keys: (n, ...) key values (only its length is used).
        key_frames: (n,) increasing frame indices, first 0, last >= num_frames - 1.
    Returns:
        segment (T,) int in [0, n - 2] and weight (T,) in [0, 1] of the segment's second key.
    """
    t = np.arange(num_frames)
    segment = np.clip(np.searchsorted(key_frames, t, side="right") - 1, 0, len(keys) - 2)
    s = (t - key_frames[segment]) / (key_frames[segment + 1] - key_frames[segment])
    return segment, s * s * (3 - 2 * s)


def interpolate_keys(keys: np.ndarray, key_frames: np.ndarray, num_frames: int) -> np.ndarray:
    """Smoothstep interpolation of key values (n, D) -> (T, D)."""
    segment, w = smoothstep_keys(keys, key_frames, num_frames)
    return keys[segment] * (1 - w[:, None]) + keys[segment + 1] * w[:, None]


def slerp_keys(key_rotmats: np.ndarray, key_frames: np.ndarray, num_frames: int) -> np.ndarray:
    """Smoothstep-timed slerp between key rotations (n, 3, 3) -> (T, 3, 3)."""
    segment, w = smoothstep_keys(key_rotmats, key_frames, num_frames)
    start = torch.from_numpy(key_rotmats[segment])  # (T, 3, 3)
    step = roma.rotmat_to_rotvec(
        start.transpose(1, 2) @ torch.from_numpy(key_rotmats[segment + 1])
    )  # (T, 3)
    return (start @ roma.rotvec_to_rotmat(step * torch.from_numpy(w)[:, None])).numpy()


def facing_rotation(rest_joints: np.ndarray, *, palm_to_camera: bool) -> np.ndarray:
    """(3, 3) rotation turning the rest hand so its fingers point up (-y) and its palm (or back)
    faces the camera (-z). ``rest_joints``: (21, 3) joints in the model's rest pose."""
    up = rest_joints[9] - rest_joints[0]  # wrist -> middle MCP
    palm = np.cross(
        rest_joints[5] - rest_joints[0], rest_joints[17] - rest_joints[0]
    )  # palm normal, right hand
    palm = palm - up * (palm @ up) / (up @ up)
    source = np.stack([up / np.linalg.norm(up), palm / np.linalg.norm(palm)])
    source = np.concatenate(
        [source, np.cross(source[0], source[1])[None]]
    )  # (3, 3) rows: orthonormal frame
    target = np.array(
        [[0.0, -1.0, 0.0], [0.0, 0.0, -1.0 if palm_to_camera else 1.0], [0.0, 0.0, 0.0]]
    )
    target[2] = np.cross(target[0], target[1])
    return target.T @ source  # maps source rows to target rows


def _euler_xyz(rng: np.random.Generator, params: SynthParams) -> np.ndarray:
    """A random key rotation Rz(roll) Ry(yaw) Rx(pitch) (3, 3) about camera axes."""
    angles = np.radians([params.pitch_deg, params.yaw_deg, params.roll_deg]) * rng.uniform(-1, 1, 3)
    axes = np.eye(3) * angles[:, None]  # rows: x, y, z rotation vectors
    rx, ry, rz = roma.rotvec_to_rotmat(torch.from_numpy(axes)).numpy()
    return rz @ ry @ rx


def sample_motion(
    rng: np.random.Generator, num_frames: int, layer: ManoLayer, size: int, params: SynthParams
) -> dict[str, np.ndarray]:
    """One video's motion, by the model ``params.motion`` names.

    Returns:
        theta (T, 48) absolute axis-angles, beta (10,), centre (T, 3) mm: the wanted camera-space
        position of the mean of the 21 joints; the natural model adds transitions (n,), the
        frames where a grasp transition starts.
    """
    if params.motion == "natural":
        return natural_motion(rng, num_frames, layer, params)
    return keyframe_motion(rng, num_frames, layer, size, params)


def keyframe_motion(
    rng: np.random.Generator, num_frames: int, layer: ManoLayer, size: int, params: SynthParams
) -> dict[str, np.ndarray]:
    """Key frames and their smooth interpolation for one video (see :func:`sample_motion`)."""
    gaps = rng.integers(
        params.key_gap[0], params.key_gap[1] + 1, size=num_frames // params.key_gap[0] + 2
    )
    key_frames = np.concatenate([[0], np.cumsum(gaps)])
    key_frames = key_frames[: np.searchsorted(key_frames, num_frames - 1) + 1]  # last key >= T - 1
    n_keys = len(key_frames)
    model = layer.model
    n = params.pose_components
    coeffs = rng.normal(size=(n_keys, n)) * params.pose_scale / (1 + np.arange(n))
    fingers = model.hands_mean + coeffs @ model.hands_components[:n]  # (n_keys, 45)
    beta, base = _shape_and_facing(rng, layer, params)
    key_rot = np.stack([_euler_xyz(rng, params) @ base for _ in range(n_keys)])  # (n_keys, 3, 3)
    depth = rng.uniform(*params.depth_mm, size=n_keys)
    half_width = math.tan(math.radians(params.fov_deg) / 2)  # half image width at depth 1
    lateral = (
        rng.uniform(-params.spread, params.spread, size=(n_keys, 2)) * half_width * depth[:, None]
    )
    centre = np.concatenate([lateral, depth[:, None]], 1)  # (n_keys, 3)
    rotations = slerp_keys(key_rot, key_frames, num_frames)
    theta = np.concatenate(
        [
            roma.rotmat_to_rotvec(torch.from_numpy(rotations)).numpy(),
            interpolate_keys(fingers, key_frames, num_frames),
        ],
        1,
    )
    return {
        "theta": theta,
        "beta": beta,
        "centre": interpolate_keys(centre, key_frames, num_frames),
    }




def _shape_and_facing(rng: np.random.Generator, layer: ManoLayer, params: SynthParams
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The video's shape beta (10,) and its facing rotation (3, 3), palm or back to camera."""
    beta = np.clip(
        rng.normal(size=10) * params.beta_std, -2.5 * params.beta_std, 2.5 * params.beta_std
    )
    rest = layer(torch.zeros(1, 48, dtype=torch.float64), torch.from_numpy(beta)[None])[1][
        0
    ].numpy()
    return beta, facing_rotation(rest, palm_to_camera=bool(rng.integers(2)))


def smooth_noise(rng: np.random.Generator, num_frames: int, dims: int, timescale: float
                 ) -> np.ndarray:
    """(T, dims) smooth random processes with mean 0 and standard deviation 1 at every frame:
    white noise filtered by a Gaussian of ``timescale`` frames (its kernel scaled to unit
    energy, so the variance does not depend on the time scale)."""
    sigma = max(float(timescale), 1e-3)
    half = int(math.ceil(4 * sigma))
    taps = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    taps /= np.sqrt((taps ** 2).sum())
    white = rng.normal(size=(num_frames + 2 * half, dims))
    return np.stack([np.convolve(white[:, d], taps, mode="valid") for d in range(dims)], 1)


def _bounded(noise: np.ndarray, half_range: np.ndarray | float) -> np.ndarray:
    """Unit-variance noise mapped smoothly into (-half_range, half_range) (tanh)."""
    return half_range * np.tanh(0.8 * noise)


def _grasps(rng: np.random.Generator, num_frames: int, spread: np.ndarray, speed: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """(T, n) PCA coefficients that hold a grasp and switch to a new one at random times
    (smoothstep over the transition time), and the (m,) frames where switches start."""
    rate = TRANSITIONS_PER_S * speed / FPS  # per frame
    starts = np.flatnonzero(rng.random(num_frames) < rate)
    length = max(2, int(round(TRANSITION_S * FPS / speed)))
    grasps = rng.normal(size=(len(starts) + 1, len(spread))) * spread
    coeffs = np.repeat(grasps[:1], num_frames, axis=0)
    for k, start in enumerate(starts):
        s = np.clip((np.arange(num_frames) - start) / length, 0, 1)[:, None]
        coeffs = coeffs + (grasps[k + 1] - grasps[k]) * (s * s * (3 - 2 * s))
    return coeffs, starts


def natural_motion(rng: np.random.Generator, num_frames: int, layer: ManoLayer,
                   params: SynthParams) -> dict[str, np.ndarray]:
    """The natural motion model (module docstring) for one video (see :func:`sample_motion`)."""
    speed, T = params.motion_speed, num_frames
    beta, base = _shape_and_facing(rng, layer, params)
    # hand centre: depth within the depth range, lateral within the spread at that depth
    near, far = params.depth_mm
    depth = (near + far) / 2 + _bounded(smooth_noise(rng, T, 1, ROOT_TIMESCALE_S * FPS / speed),
                                        (far - near) / 2)[:, 0]
    half_width = math.tan(math.radians(params.fov_deg) / 2) * depth  # (T,) mm at that depth
    lateral = _bounded(smooth_noise(rng, T, 2, ROOT_TIMESCALE_S * FPS / speed),
                       params.spread * half_width[:, None])
    jitter = smooth_noise(rng, T, 3, JITTER_FRAMES) * JITTER_MM
    centre = np.concatenate([lateral, depth[:, None]], 1) + jitter
    # global rotation: about the camera's x, y, z, within the key poses' ranges
    ranges = np.radians([params.pitch_deg, params.yaw_deg, params.roll_deg])
    angles = _bounded(smooth_noise(rng, T, 3, ROTATION_TIMESCALE_S * FPS / speed), ranges)
    angles = angles + smooth_noise(rng, T, 3, JITTER_FRAMES) * math.radians(JITTER_DEG)
    rx, ry, rz = (roma.rotvec_to_rotmat(torch.from_numpy(
        np.eye(3)[axis] * angles[:, axis:axis + 1])).numpy() for axis in range(3))
    rotations = rz @ ry @ rx @ base  # (T, 3, 3)
    # fingers: grasps switched by fast transitions, a slow drift around them, jitter
    n, model = params.pose_components, layer.model
    spread = params.pose_scale / (1 + np.arange(n))
    coeffs, starts = _grasps(rng, T, spread, speed)
    coeffs = coeffs + smooth_noise(rng, T, n, POSE_TIMESCALE_S * FPS / speed) * spread * DRIFT_SHARE
    fingers = model.hands_mean + coeffs @ model.hands_components[:n]  # (T, 45)
    fingers = fingers + smooth_noise(rng, T, 45, JITTER_FRAMES) * JITTER_RAD
    theta = np.concatenate([roma.rotmat_to_rotvec(torch.from_numpy(rotations)).numpy(),
                            fingers], 1)
    return {"theta": theta, "beta": beta, "centre": centre, "transitions": starts}


def generator_layer() -> ManoLayer:
    """The MANO layer the generator poses its hands with (wrist at the origin, float64)."""
    return ManoLayer(use_pca=False, flat_hand_mean=True, center_idx=0, dtype=torch.float64)


def motion_params(params: SynthParams, *, num_frames: int, seed: int = 0, video: int = 0,
                  layer: ManoLayer | None = None) -> dict[str, np.ndarray]:
    """The hand parameters of one video's motion without rendering it: root (T, 3) mm (the
    wrist, as a generated video's ``root``), theta (T, 48), beta (T, 10), and transitions (the
    natural model's grasp transitions; empty for keyframes). Drawn like video ``video`` of a
    set generated with ``seed`` (:func:`handkit.data.synthetic.make_video`'s first draws)."""
    layer = generator_layer() if layer is None else layer
    rng = np.random.default_rng([seed, video])
    rng.integers(2**62)  # make_video's renderer seed comes first
    motion = sample_motion(rng, num_frames, layer, 64, params)
    theta = torch.from_numpy(motion["theta"])
    beta = torch.from_numpy(motion["beta"])[None].expand(num_frames, 10)
    joints = layer(theta, beta)[1]  # (T, 21, 3), wrist at the origin
    root = motion["centre"] - joints.mean(1).numpy()
    return {"root": root, "theta": motion["theta"], "beta": beta.numpy().copy(),
            "transitions": motion.get("transitions", np.zeros(0, dtype=np.int64))}
