"""Typed records the models take and return: gamma = (r, theta, beta), z = [z^r; z^theta], the
shared output of the Hand Predictor and the Pose Aligner, and a batch's ground truth.

Letters: B batch, D = 512 feature size; 21 joints, 778 vertices. Units: millimetres;
theta is MANO's 48 absolute axis-angles (global rotation first) of ``handkit.data.record``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

FEATURE_DIM = 512
"""d of Sec. II-B: the size of z^r and of z^theta (Sec. IV)."""
NUM_BETAS = 10
NUM_JOINTS = 21
THETA_DIM = 48
"""|theta| of Eq. 4: the global rotation (3) and 15 finger joints (45), axis-angles."""


def check_shape(name: str, value: object, expected: tuple[int | None, ...], text: str) -> None:
    """Raise a ValueError naming ``text`` and the received shape unless ``value`` is a tensor of
    shape ``expected`` (None matches any size)."""
    shape = tuple(value.shape) if isinstance(value, torch.Tensor) else None
    ok = shape is not None and len(shape) == len(expected) and all(
        want is None or got == want for got, want in zip(shape, expected, strict=True)
    )
    if not ok:
        got = shape if shape is not None else type(value).__name__
        raise ValueError(f"{name} must have shape {text}, got {got}")


def check_finite(name: str, value: torch.Tensor) -> None:
    """Raise a ValueError if ``value`` holds NaN or infinite entries."""
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must be finite, got NaN or inf in a tensor of shape "
                         f"{tuple(value.shape)}")


@dataclass(frozen=True)
class HandParams:
    """gamma = (r, theta, beta) of Sec. II-A for a batch: a label or a prediction.

    Attributes:
        root: (B, 3) r, the wrist in camera space, mm.
        theta: (B, 48) absolute axis-angles, global rotation first.
        beta: (B, 10) MANO shape.
    """

    root: torch.Tensor
    theta: torch.Tensor
    beta: torch.Tensor

    def __post_init__(self) -> None:
        check_shape("root", self.root, (None, 3), "(B, 3)")
        batch = self.root.shape[0]
        check_shape("theta", self.theta, (batch, THETA_DIM), f"(B, {THETA_DIM}) with B={batch}")
        check_shape("beta", self.beta, (batch, NUM_BETAS), f"(B, {NUM_BETAS}) with B={batch}")


@dataclass(frozen=True)
class HandFeatures:
    """z = [z^r; z^theta] of one batch of frames (Sec. II-B a).

    Attributes:
        z_r: (B, 512) low-level feature, for the root.
        z_theta: (B, 512) high-level feature, for theta and beta.
    """

    z_r: torch.Tensor
    z_theta: torch.Tensor

    def __post_init__(self) -> None:
        check_shape("z_r", self.z_r, (None, FEATURE_DIM), f"(B, {FEATURE_DIM})")
        batch = self.z_r.shape[0]
        check_shape("z_theta", self.z_theta, (batch, FEATURE_DIM),
                    f"(B, {FEATURE_DIM}) with B={batch}")


@dataclass(frozen=True)
class HandOutput:
    """What the Hand Predictor (Eq. 1) and the Pose Aligner (Eqs. 2-4) return for a batch.

    Attributes:
        z_r: (B, 512) the frame's low-level feature z^r (for the aligner: frame a's).
        z_theta: (B, 512) the frame's high-level feature z^theta (likewise).
        root: (B, 3) r, the wrist in camera space, mm.
        theta48: (B, 48) absolute axis-angles, global rotation first.
        beta: (B, 10) MANO shape.
        joints: (B, 21, 3) camera-space joints, mm, handkit order (wrist at ``root``).
        verts: (B, 778, 3) camera-space vertices, mm.
        pose18: (B, 18) the predictor's global axis-angle and 15 PCA coefficients; None for the
            aligner, whose theta lives in the full 48-d space (Eq. 4) and has no exact 15-d form.
        depth_offset: (B,) the predictor's d_f (mm per focal pixel); None for the aligner.
        pixel_offset: (B, 2) the predictor's (t_u, t_v) in pixels; None for the aligner.
    """

    z_r: torch.Tensor
    z_theta: torch.Tensor
    root: torch.Tensor
    theta48: torch.Tensor
    beta: torch.Tensor
    joints: torch.Tensor
    verts: torch.Tensor
    pose18: torch.Tensor | None = None
    depth_offset: torch.Tensor | None = None
    pixel_offset: torch.Tensor | None = None

    @property
    def params(self) -> HandParams:
        """gamma = (r, theta (48-d), beta), e.g. as the aligner's gamma_b."""
        return HandParams(root=self.root, theta=self.theta48, beta=self.beta)

    @property
    def features(self) -> HandFeatures:
        """z = [z^r; z^theta]."""
        return HandFeatures(z_r=self.z_r, z_theta=self.z_theta)

    def split(self, size: int) -> tuple[HandOutput, HandOutput]:
        """The first ``size`` rows and the rest, as two records (views, no copies)."""
        values = self._values()
        head = {k: None if v is None else v[:size] for k, v in values.items()}
        tail = {k: None if v is None else v[size:] for k, v in values.items()}
        return HandOutput(**head), HandOutput(**tail)

    def take(self, index: torch.Tensor) -> HandOutput:
        """The rows ``index`` (a (B',) int64 tensor; repeats allowed), as a new record."""
        values = self._values()
        return HandOutput(**{k: None if v is None else v[index] for k, v in values.items()})

    def detach(self) -> HandOutput:
        """The same record with every tensor detached (e.g. a frozen predictor's outputs)."""
        values = self._values()
        return HandOutput(**{k: None if v is None else v.detach() for k, v in values.items()})

    def _values(self) -> dict[str, torch.Tensor | None]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


@dataclass(frozen=True)
class HandTargets:
    """A batch's ground truth, as the losses (Eqs. 5-8) and the aligner (footnote 1) take it.

    Attributes:
        root: (B, 3) r*, mm.
        theta: (B, 48) theta*, absolute axis-angles.
        beta: (B, 10) beta*.
        joints: (B, 21, 3) J*, camera space, mm.
        joint_valid: (B, 21) bool; joints marked False never enter a loss. A frame whose label
            may not be used (unlabelled) must come with all False here.
    """

    root: torch.Tensor
    theta: torch.Tensor
    beta: torch.Tensor
    joints: torch.Tensor
    joint_valid: torch.Tensor

    def __post_init__(self) -> None:
        batch = self.params.root.shape[0]  # checks root, theta, beta
        check_shape("joints", self.joints, (batch, NUM_JOINTS, 3), f"(B, 21, 3) with B={batch}")
        check_shape("joint_valid", self.joint_valid, (batch, NUM_JOINTS), f"(B, 21) with B={batch}")
        if self.joint_valid.dtype != torch.bool:
            raise ValueError(f"joint_valid must be a bool tensor, got {self.joint_valid.dtype}")

    @property
    def params(self) -> HandParams:
        """gamma* = (r*, theta*, beta*), e.g. as the aligner's gamma_b (footnote 1)."""
        return HandParams(root=self.root, theta=self.theta, beta=self.beta)


def cat_params(first: HandParams, second: HandParams) -> HandParams:
    """Two batches of gamma stacked along the batch axis."""
    return HandParams(
        root=torch.cat([first.root, second.root]),
        theta=torch.cat([first.theta, second.theta]),
        beta=torch.cat([first.beta, second.beta]),
    )


def cat_features(first: HandFeatures, second: HandFeatures) -> HandFeatures:
    """Two batches of z stacked along the batch axis."""
    return HandFeatures(
        z_r=torch.cat([first.z_r, second.z_r]), z_theta=torch.cat([first.z_theta, second.z_theta])
    )

