"""gamma = (r, theta, beta) -> camera-space mesh and joints, the MANO step shared by the Hand
Predictor and the Pose Aligner (paper Sec. II-A, Sec. IV).

One decoding path for both modules: the 48-d absolute axis-angles go through
``ManoLayer(use_pca=False, flat_hand_mean=True, center_idx=0)`` and the result is shifted so the
wrist lands on r (the convention of ``handkit.data.record``). The predictor's 15 PCA coefficients
are first mapped to the 45 finger axis-angles through the layer's orthonormal basis (Sec. IV),
which with ``flat_hand_mean=True`` is exactly what ``ManoLayer(use_pca=True, ncomps=15)`` does.
Hasson et al.'s code uses ``flat_hand_mean=False``; handkit keeps True so that theta means the
same thing in the labels and in the predictions.
"""

from __future__ import annotations

from pathlib import Path

import torch

from handkit.mano import ManoLayer

NUM_PCA = 15
"""The predictor's PCA coefficients of the finger pose (Sec. IV: 18 = 3 + 15)."""
ROOT_JOINT = 0
"""r is the wrist, joint 0 of handkit's order."""


class ManoDecoder(torch.nn.Module):
    """MANO for camera-space hands: (r, theta48, beta) -> (verts, joints), mm.

    Args:
        mano_root: folder with the official MANO files, or None for the embedded hand
            (as :class:`handkit.mano.ManoLayer`).
        side: "right" or "left".
    """

    def __init__(self, *, mano_root: str | Path | None = None, side: str = "right"):
        super().__init__()
        self.layer = ManoLayer(
            mano_root, side=side, use_pca=False, flat_hand_mean=True, center_idx=ROOT_JOINT
        )
        # (15, 45): the first PCA rows; orthonormal, so coefficients keep their norm in 45-d.
        self.register_buffer("pca_basis", self.layer.hands_components[:NUM_PCA].clone())

    @property
    def faces(self) -> torch.Tensor:
        """(1538, 3) mesh triangles."""
        return self.layer.faces

    def pca_to_theta(self, pose18: torch.Tensor) -> torch.Tensor:
        """The predictor's 18 pose values -> 48 absolute axis-angles (Sec. IV).

        Args:
            pose18: (B, 18) global axis-angle (3) then 15 PCA coefficients.
        Returns:
            (B, 48): the global axis-angle, then coefficients @ basis (45 finger axis-angles).
        """
        fingers = pose18[:, 3:] @ self.pca_basis  # (B, 15) @ (15, 45) -> (B, 45)
        return torch.cat([pose18[:, :3], fingers], 1)

    def forward(
        self, root: torch.Tensor, theta48: torch.Tensor, beta: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Camera-space hand.

        Args:
            root: (B, 3) wrist position, mm.
            theta48: (B, 48) absolute axis-angles.
            beta: (B, 10) shape.
        Returns:
            verts (B, 778, 3) and joints (B, 21, 3), mm, with joints[:, 0] == root.
        """
        verts, joints = self.layer(theta48, beta)  # wrist-centred, mm
        offset = root[:, None]  # (B, 1, 3)
        return verts + offset, joints + offset
