"""The Pose Alignment module (Sec. II-B b, Eqs. 2-4, Fig. 3, Sec. IV).

Given gamma_b = (r_b, theta_b, beta_b) of frame b and the features z_a, z_b of frames a and b:

    beta_a  = beta_b                                          (Eq. 2)
    r_a     = r_b + phi^r(r_b, z_a^r - z_b^r)                 (Eq. 3)
    theta_a = theta_b + phi^theta(theta_b, z_a^theta - z_b^theta)   (Eq. 4)

then MANO gives frame a's mesh and joints. gamma_b is a label (annotation propagation,
scenario 2) or the predictor's output (training, footnote 1); theta is always the full 48-d
axis-angle vector (the predictor's 15 PCA coefficients are mapped to 45 by the MANO basis).

Readings where the paper is silent:

* phi^r: fully connected, 128 hidden units, ReLU, 2 residual blocks (Fig. 3 is not in the text).
  r_b enters in units of ``root_scale_mm`` (default 100 mm, so a hand 0.5 m away reads 5), and
  the output is multiplied by the same unit: one unit of phi^r's output is a 100 mm move.
* phi^theta: the same with 512 hidden units and Tanh as the last activation (Sec. IV), so each of
  the 48 displacement components lies in (-1, 1) rad, about +-57 degrees; theta_b enters in
  radians as it is.
* The feature differences enter as they are (no scaling).
* Both output layers start at zero, so an untrained aligner copies gamma_b ("copy the label").
* ``anchored=True`` (an ablation, not the paper): each displacement is phi(gamma_b, dz) -
  phi(gamma_b, 0), so equal features (dz = 0) copy gamma_b whatever the weights; the paper's
  phi(gamma_b, 0) is whatever training made it, since its pairs are rarely of similar frames.
* gamma_b is cast to the aligner's dtype and device; with float32 inputs beta_a is beta_b itself.

Introduced in ``notebooks/04_pose_alignment.ipynb``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from handkit.models.layers import ResidualMLP
from handkit.models.mano_decoder import ManoDecoder
from handkit.models.records import (
    FEATURE_DIM,
    THETA_DIM,
    HandFeatures,
    HandOutput,
    HandParams,
    check_finite,
)

ROOT_HIDDEN = 128
"""Sec. IV: phi^r's hidden units."""
THETA_HIDDEN = 512
"""Sec. IV: phi^theta's hidden units."""


class PoseAligner(nn.Module):
    """Eqs. 2-4: propagate gamma_b from frame b to frame a, and MANO's hand for frame a.

    Args:
        root_scale_mm: the length unit of phi^r's input r_b and of its output displacement.
        num_blocks: residual blocks in each of phi^r and phi^theta.
        mano_root: official MANO folder, or None for the embedded hand.
        side: "right" or "left".
        anchored: subtract phi(gamma_b, 0) from each displacement (see the module docstring).

    Example:
        >>> aligner = PoseAligner()
        >>> gamma_b = HandParams(root=torch.tensor([[0.0, 0.0, 500.0]]),
        ...                      theta=torch.zeros(1, 48), beta=torch.ones(1, 10))
        >>> z_a = HandFeatures(z_r=torch.rand(1, 512), z_theta=torch.rand(1, 512))
        >>> z_b = HandFeatures(z_r=torch.rand(1, 512), z_theta=torch.rand(1, 512))
        >>> out = aligner(gamma_b, z_a, z_b)
        >>> out.root.tolist(), out.beta is gamma_b.beta  # untrained: a copy of gamma_b
        ([[0.0, 0.0, 500.0]], True)
    """

    def __init__(
        self,
        *,
        root_scale_mm: float = 100.0,
        num_blocks: int = 2,
        mano_root: str | Path | None = None,
        side: str = "right",
        anchored: bool = False,
    ):
        super().__init__()
        self.anchored = bool(anchored)
        if not root_scale_mm > 0:
            raise ValueError(f"root_scale_mm must be positive, got {root_scale_mm!r}")
        self.root_scale_mm = float(root_scale_mm)
        self.root_net = ResidualMLP(3 + FEATURE_DIM, ROOT_HIDDEN, 3, num_blocks=num_blocks)
        self.theta_net = ResidualMLP(
            THETA_DIM + FEATURE_DIM, THETA_HIDDEN, THETA_DIM,
            num_blocks=num_blocks, final_activation=nn.Tanh(),
        )
        self.mano = ManoDecoder(mano_root=mano_root, side=side)

    def forward(
        self, gamma_b: HandParams, features_a: HandFeatures, features_b: HandFeatures
    ) -> HandOutput:
        """Align gamma_b (frame b) to frame a.

        Args:
            gamma_b: r_b (B, 3) mm, theta_b (B, 48), beta_b (B, 10): a label or a prediction.
            features_a: z_a^r, z_a^theta (B, 512) of the target frame a.
            features_b: z_b^r, z_b^theta (B, 512) of the source frame b.
        Returns:
            frame a's :class:`HandOutput` (z = z_a; pose18, d_f, (t_u, t_v) are None).
        """
        check_aligner_inputs(gamma_b, features_a, features_b)
        gamma_b = self._cast(gamma_b)
        root_a = self.align_root(gamma_b.root, features_a.z_r - features_b.z_r)
        theta_a = self.align_theta(gamma_b.theta, features_a.z_theta - features_b.z_theta)
        beta_a = gamma_b.beta  # Eq. 2
        verts, joints = self.mano(root_a, theta_a, beta_a)
        return HandOutput(
            z_r=features_a.z_r, z_theta=features_a.z_theta, root=root_a, theta48=theta_a,
            beta=beta_a, joints=joints, verts=verts,
        )

    def align_root(self, root_b: torch.Tensor, z_r_diff: torch.Tensor) -> torch.Tensor:
        """Eq. 3: (B, 3) r_b mm, (B, 512) z_a^r - z_b^r -> (B, 3) r_a mm."""
        scale = self.root_scale_mm
        step = self._displacement(self.root_net, root_b / scale, z_r_diff)  # (B, 3), scale units
        return root_b + scale * step

    def align_theta(self, theta_b: torch.Tensor, z_theta_diff: torch.Tensor) -> torch.Tensor:
        """Eq. 4: (B, 48) theta_b, (B, 512) z_a^theta - z_b^theta -> (B, 48) theta_a."""
        return theta_b + self._displacement(self.theta_net, theta_b, z_theta_diff)

    def _displacement(self, net: nn.Module, value_b: torch.Tensor, z_diff: torch.Tensor
                      ) -> torch.Tensor:
        """phi(value_b, z_diff): (B, D), (B, 512) -> (B, D); anchored: minus phi(value_b, 0)
        (both in one call of ``net``, 2B rows)."""
        if not self.anchored:
            return net(torch.cat([value_b, z_diff], 1))
        both = net(torch.cat([value_b.repeat(2, 1),
                              torch.cat([z_diff, torch.zeros_like(z_diff)])], 1))
        moved, still = both.chunk(2)
        return moved - still

    def _cast(self, gamma_b: HandParams) -> HandParams:
        """gamma_b in the aligner's dtype and device (the same tensors if they already are)."""
        like = self.root_net.input.weight
        return HandParams(root=gamma_b.root.to(like), theta=gamma_b.theta.to(like),
                          beta=gamma_b.beta.to(like))


def check_aligner_inputs(
    gamma_b: HandParams, features_a: HandFeatures, features_b: HandFeatures
) -> None:
    """ValueError unless the inputs are the right records, of one batch size, and finite."""
    named = {"gamma_b": (gamma_b, HandParams), "features_a": (features_a, HandFeatures),
             "features_b": (features_b, HandFeatures)}
    for name, (value, kind) in named.items():
        if not isinstance(value, kind):
            raise ValueError(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    batch = gamma_b.root.shape[0]
    for name in ("features_a", "features_b"):
        z_r = named[name][0].z_r
        if z_r.shape[0] != batch:
            raise ValueError(f"{name} must have batch size B={batch} like gamma_b, got z_r of "
                             f"shape {tuple(z_r.shape)}")
    for name, (value, _) in named.items():
        for field in dataclasses.fields(value):
            check_finite(f"{name}.{field.name}", getattr(value, field.name))
