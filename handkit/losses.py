"""The training losses, Eqs. 5-10 of the paper (Sec. II-C), one function per equation.

Readings where the paper is silent (it adopts Hasson et al. 2020's objective and weights, so
handkit takes that code's reductions and units):

* Reductions: every term is a mean, never a sum. L_J is the mean over the batch, the 21 joints
  and the 3 coordinates of the squared difference (Hasson's ``mse_loss``), over valid joints
  only; L_beta the mean over the batch and the 10 shape values; L_theta the mean over the batch
  and the 15 PCA coefficients (below). A batch is thus the Monte-Carlo estimate of Eq. 10's
  expectation over pairs, and the loss does not grow with the batch size.
* Units: joints are compared in metres (``LossConfig.length_unit_mm = 1000``), as Hasson's code
  does, which is what the paper's lambda_J = 0.5 was tuned with. In millimetres
  (``length_unit_mm = 1``) L_J is 10^6 times larger: the same lambdas then weigh the joints
  10^6 times more against the theta and beta regularisers.
* Which theta the regulariser sees: the finger articulation only (Hasson regularises
  ``pose[:, 3:]``, never the global rotation, which the camera decides). For the predictor that
  is the mean square of its 15 PCA coefficients; handkit computes it from the 48-d theta as
  ||theta[3:]||^2 / 15, which is the same number because the 15 PCA rows are orthonormal, and
  which also applies to the aligner's 48-d theta (Eq. 7): the same hand pose costs the same
  whichever module produced it.
* Invalid joints (``joint_valid`` False) are removed before the difference is taken (so even a
  NaN there cannot reach the loss or its gradient); a batch without a valid joint gives L_J = 0,
  still attached to the graph.
* L_pred in Eq. 9 is Eq. 6 on the labelled frames s of the pairs (L_pred is defined on the
  supervised frames; a frame u gets no label loss even when it happens to be labelled).

Introduced in ``notebooks/05_losses.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from handkit.checks import field_problems
from handkit.errors import InputError
from handkit.models.mano_decoder import NUM_PCA
from handkit.models.pair import PairOutputs
from handkit.models.records import HandOutput, HandTargets


@dataclass(frozen=True)
class LossConfig:
    """The weights of Eqs. 6, 8 and 9 (defaults: the paper's, Sec. IV) and the length unit.

    Attributes:
        lambda_j: lambda_J, weight of the joint terms (Eqs. 6 and 8).
        lambda_theta: lambda_theta, weight of the pose regulariser (Eqs. 6 and 8).
        lambda_beta: lambda_beta, weight of the shape regulariser (Eq. 6).
        lambda_align: lambda_align, weight of L_align in L_total (Eq. 9).
        length_unit_mm: joints are divided by this before squaring: 1000 compares them in
            metres (Hasson's code, the unit the lambdas were set for), 1 in millimetres.
    """

    lambda_j: float = 0.5
    lambda_theta: float = 5e-6
    lambda_beta: float = 5e-7
    lambda_align: float = 0.1
    length_unit_mm: float = 1000.0

    def __post_init__(self) -> None:
        """Finite numbers (:mod:`handkit.checks`), lambdas >= 0, the unit > 0; else
        :class:`~handkit.errors.InputError` naming each wrong value."""
        problems = field_problems(self)
        if not problems:
            problems = [f"{name} must be >= 0, got {getattr(self, name)!r}"
                        for name in ("lambda_j", "lambda_theta", "lambda_beta", "lambda_align")
                        if getattr(self, name) < 0]
            if self.length_unit_mm <= 0:
                problems.append(f"length_unit_mm must be > 0, got {self.length_unit_mm!r}")
        if problems:
            raise InputError("; ".join(problems))


PAPER_CONFIG = LossConfig()
"""The paper's weights (Sec. IV) with joints in metres."""


@dataclass(frozen=True)
class PredictorLoss:
    """L_pred (Eq. 6) and its unweighted terms (Eq. 5), scalar tensors.

    Attributes:
        total: lambda_J L_J + lambda_theta L_theta + lambda_beta L_beta.
        joints: L_J, in length_unit^2 (m^2 by default).
        theta: L_theta, rad^2.
        beta: L_beta.
        config: the weights used.
    """

    total: torch.Tensor
    joints: torch.Tensor
    theta: torch.Tensor
    beta: torch.Tensor
    config: LossConfig = field(repr=False)

    def weighted(self) -> dict[str, float]:
        """Each term times its lambda (they add up to ``total``), as floats."""
        c = self.config
        return {"joints": c.lambda_j * float(self.joints), "theta": c.lambda_theta *
                float(self.theta), "beta": c.lambda_beta * float(self.beta)}


@dataclass(frozen=True)
class AlignmentLoss:
    """L_align (Eq. 8) and its unweighted terms (Eq. 7), scalar tensors.

    Attributes:
        total: lambda_J (L_{u->s} + L_{u<-s}) + lambda_theta L_theta.
        forward: L_{u->s}, gamma_u^reg aligned to s against J_s*.
        backward: L_{u<-s}, gamma_s* aligned to u against the predictor's J_u^reg.
        theta: Eq. 7's L_theta on both aligned outputs.
        config: the weights used.
    """

    total: torch.Tensor
    forward: torch.Tensor
    backward: torch.Tensor
    theta: torch.Tensor
    config: LossConfig = field(repr=False)

    def weighted(self) -> dict[str, float]:
        """Each term times its lambda (they add up to ``total``), as floats."""
        c = self.config
        return {"forward": c.lambda_j * float(self.forward), "backward": c.lambda_j *
                float(self.backward), "theta": c.lambda_theta * float(self.theta)}


@dataclass(frozen=True)
class TotalLoss:
    """L_total (Eq. 9) of a batch of pairs, and its parts.

    Attributes:
        total: L_pred + lambda_align L_align, a scalar tensor to call ``backward()`` on.
        pred: L_pred on the labelled frames s.
        align: L_align.
    """

    total: torch.Tensor
    pred: PredictorLoss
    align: AlignmentLoss

    def weighted(self) -> dict[str, float]:
        """Every term's share of ``total`` (its lambdas, and lambda_align for L_align's)."""
        shares = {f"pred_{k}": v for k, v in self.pred.weighted().items()}
        lambda_align = self.align.config.lambda_align
        shares.update({f"align_{k}": lambda_align * v for k, v in self.align.weighted().items()})
        return shares


def joint_loss(
    pred_joints: torch.Tensor,
    gt_joints: torch.Tensor,
    joint_valid: torch.Tensor | None = None,
    *,
    length_unit_mm: float = 1000.0,
) -> torch.Tensor:
    """Eq. 5's L_J = ||J* - J||^2 (also Eq. 7's L_{u->s} and L_{u<-s}): mean squared difference.

    Args:
        pred_joints: (B, 21, 3) mm.
        gt_joints: (B, 21, 3) mm, the target.
        joint_valid: (B, 21) bool, or None for all valid. Invalid joints never enter.
        length_unit_mm: the unit the difference is measured in (1000: metres).
    Returns:
        scalar: the mean over valid (joint, coordinate) entries of the squared difference, in
        length_unit^2; 0 (attached to the graph) when no joint is valid.

    >>> pred = torch.zeros(1, 21, 3); gt = torch.zeros(1, 21, 3); gt[0, 0] = 3.0
    >>> valid = torch.zeros(1, 21, dtype=torch.bool); valid[0, :2] = True
    >>> joint_loss(pred, gt, valid, length_unit_mm=1.0).item()  # (3 * 9 + 3 * 0) / 6
    4.5
    """
    if pred_joints.shape != gt_joints.shape or pred_joints.shape[1:] != (21, 3):
        raise ValueError(
            f"pred_joints and gt_joints must both have shape (B, 21, 3), got "
            f"{tuple(pred_joints.shape)} and {tuple(gt_joints.shape)}"
        )
    gt_joints = gt_joints.to(pred_joints)
    if joint_valid is None:
        return ((pred_joints - gt_joints) / length_unit_mm).square().mean()
    if joint_valid.shape != pred_joints.shape[:2] or joint_valid.dtype != torch.bool:
        raise ValueError(
            f"joint_valid must be a bool tensor of shape {tuple(pred_joints.shape[:2])}, got "
            f"{joint_valid.dtype} {tuple(joint_valid.shape)}"
        )
    # invalid joints: the target is the prediction itself, so difference and gradient are 0
    gt_joints = torch.where(joint_valid[..., None], gt_joints, pred_joints.detach())
    squared = ((pred_joints - gt_joints) / length_unit_mm).square()  # (B, 21, 3)
    return squared.sum() / (3 * joint_valid.sum()).clamp(min=1)


def theta_loss(theta48: torch.Tensor) -> torch.Tensor:
    """Eq. 5's L_theta = ||theta||^2, on the finger articulation (the global rotation is free).

    Args:
        theta48: (B, 48) absolute axis-angles.
    Returns:
        scalar: mean over the batch of ||theta[3:]||^2 / 15, i.e. the mean square of the
        predictor's 15 PCA coefficients (the PCA rows are orthonormal), rad^2.

    >>> theta = torch.zeros(2, 48); theta[0, 3:6] = torch.tensor([1.0, 2.0, 2.0])
    >>> round(theta_loss(theta).item(), 6)  # (9 / 15 + 0) / 2
    0.3
    """
    if theta48.dim() != 2 or theta48.shape[1] != 48:
        raise ValueError(f"theta48 must have shape (B, 48), got {tuple(theta48.shape)}")
    return (theta48[:, 3:].square().sum(1) / NUM_PCA).mean()


def beta_loss(beta: torch.Tensor) -> torch.Tensor:
    """Eq. 5's L_beta = ||beta||^2: the mean over the batch and the 10 values of beta^2.

    Args:
        beta: (B, 10).

    >>> beta_loss(torch.tensor([[1.0, 3.0] + [0.0] * 8])).item()  # (1 + 9) / 10
    1.0
    """
    if beta.dim() != 2 or beta.shape[1] != 10:
        raise ValueError(f"beta must have shape (B, 10), got {tuple(beta.shape)}")
    return beta.square().mean()


def predictor_loss(
    pred: HandOutput, target: HandTargets, *, config: LossConfig = PAPER_CONFIG
) -> PredictorLoss:
    """Eq. 6: L_pred = lambda_J L_J + lambda_theta L_theta + lambda_beta L_beta (stage 1).

    Args:
        pred: the predictor's output for B labelled frames.
        target: their labels; only ``joints`` and ``joint_valid`` are used.
        config: weights and length unit.
    """
    joints = joint_loss(pred.joints, target.joints, target.joint_valid,
                        length_unit_mm=config.length_unit_mm)
    theta = theta_loss(pred.theta48)
    beta = beta_loss(pred.beta)
    total = config.lambda_j * joints + config.lambda_theta * theta + config.lambda_beta * beta
    return PredictorLoss(total=total, joints=joints, theta=theta, beta=beta, config=config)


def forward_alignment_loss(
    aligned_s: HandOutput, target_s: HandTargets, *, length_unit_mm: float = 1000.0
) -> torch.Tensor:
    """Eq. 7's L_{u->s} = ||J_s* - J_s^align||^2: u's prediction aligned to s, against s's label.

    Args:
        aligned_s: the aligner's output for frames s from gamma_u^reg.
        target_s: the labels of frames s (invalid joints excluded).
    """
    return joint_loss(aligned_s.joints, target_s.joints, target_s.joint_valid,
                      length_unit_mm=length_unit_mm)


def backward_alignment_loss(
    aligned_u: HandOutput, pred_u: HandOutput, *, length_unit_mm: float = 1000.0
) -> torch.Tensor:
    """Eq. 7's L_{u<-s} = ||J_u^reg - J_u^align||^2: s's label aligned to u, against the
    predictor's joints for u. Neither side is detached (see :func:`alignment_loss`).

    Args:
        aligned_u: the aligner's output for frames u from gamma_s*.
        pred_u: the predictor's output for frames u.
    """
    return joint_loss(aligned_u.joints, pred_u.joints, length_unit_mm=length_unit_mm)


def alignment_theta_loss(aligned_s: HandOutput, aligned_u: HandOutput) -> torch.Tensor:
    """Eq. 7's L_theta = ||theta_s^align||^2 + ||theta_u^align||^2 (each as :func:`theta_loss`)."""
    return theta_loss(aligned_s.theta48) + theta_loss(aligned_u.theta48)


def alignment_loss(
    aligned_s: HandOutput,
    aligned_u: HandOutput,
    pred_u: HandOutput,
    target_s: HandTargets,
    *,
    config: LossConfig = PAPER_CONFIG,
) -> AlignmentLoss:
    """Eq. 8: L_align = lambda_J (L_{u->s} + L_{u<-s}) + lambda_theta L_theta (stage 2).

    Nothing is detached, reading Eq. 10 literally (all of psi, pi, phi minimise L_total, and the
    paper names no stop-gradient): L_{u->s} reaches the predictor through gamma_u^reg and the
    features, which is how the aligner's supervision improves the predictor on unlabelled
    frames; L_{u<-s} pulls the predictor's J_u^reg towards the propagated label (the
    "regularisation" of Sec. II-C) and also trains the aligner towards J_u^reg. A caller that
    wants a one-way target can pass ``pred_u.detach()``. In stage 2 the predictor runs without
    gradients (``forward_pair(train_predictor=False)``), so only the aligner learns.

    Args:
        aligned_s: u -> s, gamma_u^reg aligned to frames s.
        aligned_u: u <- s, gamma_s* aligned to frames u.
        pred_u: the predictor's output for frames u.
        target_s: the labels of frames s.
        config: weights and length unit.
    """
    unit = config.length_unit_mm
    forward = forward_alignment_loss(aligned_s, target_s, length_unit_mm=unit)
    backward = backward_alignment_loss(aligned_u, pred_u, length_unit_mm=unit)
    theta = alignment_theta_loss(aligned_s, aligned_u)
    total = config.lambda_j * (forward + backward) + config.lambda_theta * theta
    return AlignmentLoss(total=total, forward=forward, backward=backward, theta=theta,
                         config=config)


def total_loss(pred: PredictorLoss, align: AlignmentLoss) -> TotalLoss:
    """Eq. 9: L_total(I_u, I_s) = L_pred + lambda_align L_align (stage 3).

    Args:
        pred: L_pred on the frames s; align: L_align; both computed with the same config.
    """
    if pred.config != align.config:
        raise ValueError(f"pred and align were computed with different configs: "
                         f"{pred.config} and {align.config}")
    return TotalLoss(total=pred.total + align.config.lambda_align * align.total, pred=pred,
                     align=align)


def pair_alignment_loss(
    pair: PairOutputs, target_s: HandTargets, *, config: LossConfig = PAPER_CONFIG
) -> AlignmentLoss:
    """Stage 2's objective, Eq. 8 on a batch of pairs from :func:`handkit.models.forward_pair`."""
    return alignment_loss(pair.aligned_s, pair.aligned_u, pair.pred_u, target_s, config=config)


def pair_objective(
    pair: PairOutputs, target_s: HandTargets, *, config: LossConfig = PAPER_CONFIG
) -> TotalLoss:
    """Eq. 10 for a batch: the mean over its pairs (u, s = N(u)) of L_total (Eq. 9), stage 3.

    Every term is already a mean over the batch, so Eq. 9 on the batch is the Monte-Carlo
    estimate of Eq. 10's expectation over videos and pairs (exactly the mean of the per-pair
    L_total when every joint is valid; with invalid joints each valid coordinate counts once).

    Args:
        pair: :func:`handkit.models.forward_pair`'s output for B pairs.
        target_s: the labels of the frames s.
        config: weights and length unit.
    """
    pred = predictor_loss(pair.pred_s, target_s, config=config)
    return total_loss(pred, pair_alignment_loss(pair, target_s, config=config))
