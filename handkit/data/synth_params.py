"""The parameters of the synthetic video generator (:mod:`handkit.data.synthetic`), checked.

They are recorded in each generated set's ``index.json`` and each has a flag on
``python -m handkit data synth`` (``--fov-deg``, ``--depth-mm MIN MAX``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The motion models of :mod:`handkit.data.motion`.
MOTIONS = ("keyframes", "natural")


@dataclass(frozen=True)
class SynthParams:
    """Everything that shapes the generated videos (recorded in ``index.json``).

    Attributes:
        fov_deg: horizontal field of view; focal length f = (S / 2) / tan(fov / 2) pixels.
        depth_mm: (near, far) range of the hand centre's depth.
        spread: the hand centre stays within this fraction of the half-image from the centre.
        key_gap: (min, max) frames between motion key frames.
        pose_components: PCA components used for finger poses.
        pose_scale: spread (radians, along the first component) of the PCA coefficients;
            component k gets pose_scale / (1 + k), roughly the spread of natural poses.
        beta_std: standard deviation of beta (clipped at 2.5 std).
        roll_deg, yaw_deg, pitch_deg: ranges (+-) of the key rotations about the camera's z, y, x.
        occluder_prob: chance that a video has occluders; then 1-3 of them.
        supersample: anti-aliasing factor of the renderer.
        motion: the motion model, :data:`MOTIONS` (:mod:`handkit.data.motion`): "keyframes"
            (key poses ``key_gap`` frames apart, smoothly joined) or "natural" (smooth random
            processes, fast grasp transitions, jitter).
        motion_speed: the natural model's speed (2: everything twice as fast); "keyframes"
            takes its speed from ``key_gap``.
    """

    fov_deg: float = 30.0
    depth_mm: tuple[float, float] = (350.0, 650.0)
    spread: float = 0.35
    key_gap: tuple[int, int] = (20, 50)
    pose_components: int = 10
    pose_scale: float = 1.3
    beta_std: float = 1.0
    roll_deg: float = 50.0
    yaw_deg: float = 60.0
    pitch_deg: float = 35.0
    occluder_prob: float = 0.7
    supersample: int = 2
    motion: str = "keyframes"
    motion_speed: float = 1.0

    def __post_init__(self) -> None:
        for name in ("depth_mm", "key_gap"):
            value = tuple(getattr(self, name))
            if len(value) != 2:
                raise ValueError(f"{name} must be a (min, max) pair, got {value!r}")
            object.__setattr__(self, name, value)
        checks = {
            "fov_deg": 0 < self.fov_deg < 180,
            "depth_mm": 0 < self.depth_mm[0] <= self.depth_mm[1],
            "spread": self.spread >= 0,
            "key_gap": _is_int(self.key_gap) and 1 <= self.key_gap[0] <= self.key_gap[1],
            "pose_components": _is_int(self.pose_components) and 0 <= self.pose_components <= 45,
            "pose_scale": self.pose_scale >= 0,
            "beta_std": self.beta_std >= 0,
            "roll_deg": self.roll_deg >= 0,
            "yaw_deg": self.yaw_deg >= 0,
            "pitch_deg": self.pitch_deg >= 0,
            "occluder_prob": 0 <= self.occluder_prob <= 1,
            "supersample": _is_int(self.supersample) and self.supersample >= 1,
            "motion": self.motion in MOTIONS,
            "motion_speed": self.motion_speed > 0,
        }
        for name, ok in checks.items():
            if not ok:
                value = getattr(self, name)
                raise ValueError(f"{name} must be {PARAM_RULES[name]}, got {value!r}")


def _is_int(value) -> bool:
    values = value if isinstance(value, tuple) else (value,)
    return all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)


#: What each :class:`SynthParams` field must satisfy (for error messages) and its CLI help.
PARAM_RULES = {
    "fov_deg": "in (0, 180) degrees",
    "depth_mm": "a pair 0 < near <= far, mm",
    "spread": ">= 0",
    "key_gap": "a pair of integers 1 <= min <= max",
    "pose_components": "an integer in 0..45",
    "pose_scale": ">= 0",
    "beta_std": ">= 0",
    "roll_deg": ">= 0",
    "yaw_deg": ">= 0",
    "pitch_deg": ">= 0",
    "occluder_prob": "in [0, 1]",
    "supersample": "an integer >= 1",
    "motion": f"one of {MOTIONS}",
    "motion_speed": "> 0",
}
PARAM_HELP = {
    "fov_deg": "horizontal field of view, degrees",
    "depth_mm": "range of the hand centre's depth, mm",
    "spread": "the hand centre stays within this fraction of the half image from the centre",
    "key_gap": "frames between motion key poses: the motion speed, smaller is faster",
    "pose_components": "PCA components used for finger poses",
    "pose_scale": "spread of the finger-pose PCA coefficients, radians",
    "beta_std": "standard deviation of the shape beta",
    "roll_deg": "range (+-) of the key rotations about the camera's z axis",
    "yaw_deg": "range (+-) of the key rotations about the camera's y axis",
    "pitch_deg": "range (+-) of the key rotations about the camera's x axis",
    "occluder_prob": "chance that a video has occluders",
    "supersample": "anti-aliasing factor of the renderer",
    "motion": f"motion model: {' or '.join(MOTIONS)}",
    "motion_speed": "speed of the natural motion model (2: twice as fast)",
}
