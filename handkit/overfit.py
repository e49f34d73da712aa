"""Tiny fits for the notebooks: a model fitted to a handful of frames in a few seconds, to show
that the pieces are wired up and can learn (the loss falls), not to train them.

* :func:`overfit_predictor` — the Hand Predictor on a few labelled frames with L_pred (Eq. 6),
  i.e. stage 1 (Sec. IV) on one fixed batch.
* :func:`overfit_aligner` — the Pose Aligner on fixed features and a fixed gamma_b, towards
  given joints for frame a (Eqs. 2-4 with L_J of Eq. 5): a capacity check of phi, which uses a
  target training never has for an unlabelled frame.

Both use Adam; the learning rate defaults to 1e-3 (the paper trains with 5e-5 over many epochs,
Sec. IV; a fit in seconds needs larger steps). Each returns a :class:`FitCurve`. The real
three-stage training is ``handkit.train``. Introduced in ``notebooks/03_hand_predictor.ipynb``
and ``notebooks/04_pose_alignment.ipynb``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from handkit.data.batch import FrameBatch
from handkit.losses import PAPER_CONFIG, LossConfig, joint_loss, predictor_loss
from handkit.models import HandFeatures, HandParams, HandPredictor, HandTargets, PoseAligner

#: Adam's step size for the tiny fits.
FIT_LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class FitCurve:
    """What a tiny fit did, step by step.

    Attributes:
        steps: (N,) 0 .. N - 1.
        loss: (N,) the objective at each step, before that step's update.
        joint_error_mm: (N,) mean distance of the fitted joints to their targets at each step,
            over valid joints, mm.
        seconds: wall-clock time of the whole fit.
    """

    steps: np.ndarray
    loss: np.ndarray
    joint_error_mm: np.ndarray
    seconds: float

    @property
    def drop(self) -> float:
        """loss[0] / loss[-1]: how many times the objective fell."""
        return float(self.loss[0] / self.loss[-1])


def mean_joint_error_mm(pred_joints: torch.Tensor, gt_joints: torch.Tensor,
                        joint_valid: torch.Tensor | None = None) -> float:
    """Mean Euclidean distance over valid joints, mm, of (B, 21, 3) joints against (B, 21, 3).

    >>> gt = torch.zeros(1, 21, 3); pred = gt.clone(); pred[0, :, 2] = 3.0
    >>> mean_joint_error_mm(pred, gt)
    3.0
    """
    distance = (pred_joints.detach() - gt_joints.to(pred_joints)).norm(dim=-1)  # (B, 21)
    if joint_valid is None:
        return float(distance.mean())
    if not bool(joint_valid.any()):
        raise ValueError("no valid joint to measure an error on")
    return float(distance[joint_valid].mean())


def _fit(parameters: Iterable[torch.nn.Parameter],
         objective: Callable[[], tuple[torch.Tensor, float]], *, steps: int, lr: float
         ) -> FitCurve:
    """Adam on ``parameters`` for ``steps`` steps of ``objective() -> (loss, joint error mm)``."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    optimizer = torch.optim.Adam(parameters, lr=lr)
    losses, errors = np.zeros(steps), np.zeros(steps)
    start = time.perf_counter()
    for step in range(steps):
        loss, error = objective()
        losses[step], errors[step] = float(loss.detach()), error
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return FitCurve(steps=np.arange(steps), loss=losses, joint_error_mm=errors,
                    seconds=time.perf_counter() - start)


def overfit_predictor(predictor: HandPredictor, batch: FrameBatch, *, steps: int = 60,
                      lr: float = FIT_LEARNING_RATE, config: LossConfig = PAPER_CONFIG
                      ) -> FitCurve:
    """Fit the predictor to one fixed batch of labelled frames with L_pred (Eq. 6).

    The predictor trains in train mode (BatchNorm on the batch) and is left in the mode it had.

    Args:
        predictor: the Hand Predictor; its weights are updated in place.
        batch: B >= 1 frames, each with ground truth (``batch.has_gt`` all True):
            images (B, 3, S, S), intrinsics (B, 3, 3), joints (B, 21, 3) mm, joint_valid (B, 21).
        steps: Adam steps.
        lr: Adam's learning rate.
        config: the loss weights (default the paper's).
    Returns:
        a :class:`FitCurve`; its loss is L_pred, its error the mean joint error in mm.
    """
    if not isinstance(batch, FrameBatch):
        raise ValueError(f"batch must be a FrameBatch, got {type(batch).__name__}")
    if not bool(batch.has_gt.all()):
        missing = torch.nonzero(~batch.has_gt).flatten().tolist()
        raise ValueError(f"every frame needs ground truth to fit to; rows {missing} have none "
                         "(unlabelled frames: pick labelled ones)")
    targets = HandTargets(root=batch.root, theta=batch.theta, beta=batch.beta,
                          joints=batch.joints, joint_valid=batch.joint_valid)

    def objective() -> tuple[torch.Tensor, float]:
        out = predictor(batch.images, batch.intrinsics)
        loss = predictor_loss(out, targets, config=config)
        return loss.total, mean_joint_error_mm(out.joints, batch.joints, batch.joint_valid)

    was_training = predictor.training
    predictor.train()
    try:
        return _fit(predictor.parameters(), objective, steps=steps, lr=lr)
    finally:
        predictor.train(was_training)


def overfit_aligner(aligner: PoseAligner, gamma_b: HandParams, features_a: HandFeatures,
                    features_b: HandFeatures, target_joints: torch.Tensor, *, steps: int = 60,
                    lr: float = FIT_LEARNING_RATE, length_unit_mm: float = 1000.0) -> FitCurve:
    """Fit phi^r and phi^theta so that gamma_b, aligned to frame a (Eqs. 2-4), lands on
    ``target_joints``, minimising L_J (Eq. 5) of the aligned joints. Features stay fixed.

    Args:
        aligner: the Pose Aligner; its weights are updated in place.
        gamma_b: (r_b (B, 3) mm, theta_b (B, 48), beta_b (B, 10)), e.g. a label gamma_s*.
        features_a, features_b: z of frames a and b, (B, 512) each (detached here).
        target_joints: (B, 21, 3) mm, the joints frame a should get.
        steps, lr: Adam steps and learning rate.
        length_unit_mm: L_J's unit (1000: metres, as :mod:`handkit.losses`).
    Returns:
        a :class:`FitCurve`; its loss is L_J, its error the mean joint error in mm.
    """
    z_a, z_b = (HandFeatures(z_r=f.z_r.detach(), z_theta=f.z_theta.detach())
                for f in (features_a, features_b))
    batch = gamma_b.root.shape[0]
    if target_joints.shape != (batch, 21, 3):
        raise ValueError(f"target_joints must have shape (B, 21, 3) with B={batch}, got "
                         f"{tuple(target_joints.shape)}")

    def objective() -> tuple[torch.Tensor, float]:
        out = aligner(gamma_b, z_a, z_b)
        loss = joint_loss(out.joints, target_joints, length_unit_mm=length_unit_mm)
        return loss, mean_joint_error_mm(out.joints, target_joints)

    return _fit(aligner.parameters(), objective, steps=steps, lr=lr)
