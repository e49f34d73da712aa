"""One forward pass over a batch of pairs (u, s = N(u)): what stages 2 and 3 (Sec. IV) and the
alignment losses (Eqs. 7-10) need.

* The frames u and the frames s go through the predictor as two batches of B, as Hasson et al.
  2020's consistency training passes each frame of its pairs (so in train mode BatchNorm
  normalises the u frames and the s frames apart). One concatenated batch of 2B was measured as
  well (batch 64, 2 cores): 1 % slower at 64 px, 3-8 % slower at 128 px.
* The aligner runs both ways in one batch of 2B, u -> s (the predictor's gamma_u aligned to
  frame s, Fig. 1 left) and u <- s (the label gamma_s* aligned to frame u): it has no
  batch-dependent layer, so this is exactly two calls, with one MANO pass instead of two.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from handkit.models.aligner import PoseAligner
from handkit.models.predictor import HandPredictor
from handkit.models.records import HandOutput, HandParams, cat_features, cat_params


@dataclass(frozen=True)
class PairOutputs:
    """The four hands of a batch of B pairs (u, s = N(u)).

    Attributes:
        pred_u: the predictor's output for the frames u (gamma_u^reg, J_u^reg).
        pred_s: the predictor's output for the labelled frames s (gamma_s^reg, J_s^reg).
        aligned_s: u -> s, gamma_u^reg aligned to frame s (J_s^align of Eq. 7).
        aligned_u: u <- s, the label gamma_s* aligned to frame u (J_u^align of Eq. 7).
    """

    pred_u: HandOutput
    pred_s: HandOutput
    aligned_s: HandOutput
    aligned_u: HandOutput


def align_pair(
    aligner: PoseAligner, pred_u: HandOutput, pred_s: HandOutput, gamma_s: HandParams
) -> tuple[HandOutput, HandOutput]:
    """The aligner both ways in one batched call.

    Args:
        aligner: the Pose Aligner.
        pred_u, pred_s: predictor outputs for B frames u and their labelled frames s.
        gamma_s: the labels gamma_s* (B rows).
    Returns:
        (aligned_s, aligned_u): u -> s from pred_u's gamma, and u <- s from gamma_s.
    """
    gamma_b = cat_params(pred_u.params, gamma_s)  # (2B, ...): frame b = u, then s
    features_a = cat_features(pred_s.features, pred_u.features)  # target frames: s, then u
    features_b = cat_features(pred_u.features, pred_s.features)
    return aligner(gamma_b, features_a, features_b).split(pred_u.root.shape[0])


def forward_pair(
    predictor: HandPredictor,
    aligner: PoseAligner,
    *,
    images_u: torch.Tensor,
    intrinsics_u: torch.Tensor,
    images_s: torch.Tensor,
    intrinsics_s: torch.Tensor,
    gamma_s: HandParams,
    train_predictor: bool = True,
) -> PairOutputs:
    """Predictor on both frames, then the aligner both ways (Fig. 1, left).

    Args:
        predictor, aligner: the two modules.
        images_u, images_s: (B, 3, S, S) RGB in [0, 1], frame u and its labelled frame s.
        intrinsics_u, intrinsics_s: (B, 3, 3) their intrinsics.
        gamma_s: the labels gamma_s* = (r*, theta*, beta*) of the frames s.
        train_predictor: False for stage 2: the predictor runs without gradients, so only the
            aligner learns (call ``predictor.eval()`` too, so BatchNorm's running statistics
            stay as stage 1 left them).
    Returns:
        :class:`PairOutputs`.
    """
    if not isinstance(images_u, torch.Tensor) or not isinstance(images_s, torch.Tensor) or (
        images_u.shape != images_s.shape
    ):
        raise ValueError(
            f"images_u and images_s must have the same shape (B, 3, S, S), got "
            f"{_shape(images_u)} and {_shape(images_s)}"
        )
    with torch.set_grad_enabled(train_predictor and torch.is_grad_enabled()):
        pred_u = predictor(images_u, intrinsics_u)
        pred_s = predictor(images_s, intrinsics_s)
    aligned_s, aligned_u = align_pair(aligner, pred_u, pred_s, gamma_s)
    return PairOutputs(pred_u=pred_u, pred_s=pred_s, aligned_s=aligned_s, aligned_u=aligned_u)



class PairModel(torch.nn.Module):
    """The predictor and the aligner as one module whose forward is :func:`forward_pair`: what
    stage 3 trains, and what DistributedDataParallel wraps (one forward call per backward pass,
    although the predictor runs twice in it).

    Attributes:
        predictor, aligner: the two modules (shared, not copied).
    """

    def __init__(self, predictor: HandPredictor, aligner: PoseAligner) -> None:
        super().__init__()
        self.predictor = predictor
        self.aligner = aligner

    def forward(self, images_u: torch.Tensor, intrinsics_u: torch.Tensor,
                images_s: torch.Tensor, intrinsics_s: torch.Tensor,
                gamma_s: HandParams) -> PairOutputs:
        """:func:`forward_pair` on B pairs: images (B, 3, S, S), intrinsics (B, 3, 3)."""
        return forward_pair(self.predictor, self.aligner, images_u=images_u,
                            intrinsics_u=intrinsics_u, images_s=images_s,
                            intrinsics_s=intrinsics_s, gamma_s=gamma_s)


def _shape(value: object) -> object:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
