"""One optimisation step of each training stage (Sec. IV), on batches from :mod:`handkit.data`.

* stage 1: the Hand Predictor on labelled frames, L_pred (Eq. 6);
* stage 2: the Pose Aligner alone on pairs of labelled frames, L_align (Eq. 8); the predictor is
  frozen (eval mode, no gradients, :func:`frozen_outputs`); without augmentation its outputs on
  the labelled frames are computed once;
* stage 3: everything on the stage-3 pairs, L_total (Eqs. 9-10);
* control: stage 1 continued on as many images per step as stage 3 sees (2 x pairs), no
  aligner (the synthetic Table I's control row).

Each step returns its loss terms as floats (for curves and progress bars) and raises
:class:`TrainingDiverged` before the optimiser touches the weights if a term is NaN or infinite.
"""

from __future__ import annotations

import dataclasses

import torch

from handkit.data.batch import FrameBatch, PairBatch, roll_frame_batch
from handkit.losses import (
    AlignmentLoss,
    LossConfig,
    PredictorLoss,
    TotalLoss,
    alignment_loss,
    pair_objective,
    predictor_loss,
)
from handkit.models import HandOutput, HandPredictor, HandTargets, PoseAligner, forward_pair
from handkit.models.pair import align_pair


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the message names the stage, the step and the term."""


def targets(batch: FrameBatch) -> HandTargets:
    """The batch's ground truth as the losses take it (rows without it have no valid joint)."""
    return HandTargets(root=batch.root, theta=batch.theta, beta=batch.beta, joints=batch.joints,
                       joint_valid=batch.joint_valid)


def loss_terms(loss: PredictorLoss | AlignmentLoss | TotalLoss) -> dict[str, torch.Tensor]:
    """Every (unweighted) term of a loss record and its total, by name, as scalar tensors."""
    if isinstance(loss, TotalLoss):
        return {"total": loss.total, **{f"pred_{k}": v for k, v in loss_terms(loss.pred).items()},
                **{f"align_{k}": v for k, v in loss_terms(loss.align).items()}}
    return {f.name: getattr(loss, f.name) for f in dataclasses.fields(loss) if f.name != "config"}


def check_finite(terms: dict[str, torch.Tensor], *, stage: str, step: int) -> dict[str, float]:
    """The terms as floats, or :class:`TrainingDiverged` naming the first that is not finite."""
    values = {name: float(value.detach()) for name, value in terms.items()}
    for name, value in values.items():
        if not torch.isfinite(torch.tensor(value)):
            raise TrainingDiverged(f"{stage}, step {step}: loss term {name!r} is {value}")
    return values


def _update(optimizer: torch.optim.Optimizer, total: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()


def roll_pair(batch: PairBatch, generator: torch.Generator | None, max_rad: float) -> PairBatch:
    """Roll both frames of every pair by the same angle (one camera films a video), App. C."""
    if max_rad <= 0 or generator is None:
        return batch
    angles = (torch.rand(len(batch), generator=generator, dtype=torch.float64) * 2 - 1) * max_rad
    angles = angles.to(batch.s.images.device, torch.float32)
    return PairBatch(roll_frame_batch(batch.s, angles=angles),
                     roll_frame_batch(batch.u, angles=angles))


def roll_frames(batch: FrameBatch, generator: torch.Generator | None, max_rad: float
                ) -> FrameBatch:
    """Roll every frame by its own angle in [-max_rad, max_rad] (Appendix C)."""
    if max_rad <= 0 or generator is None:
        return batch
    angles = (torch.rand(len(batch), generator=generator, dtype=torch.float64) * 2 - 1) * max_rad
    return roll_frame_batch(batch, angles=angles.to(batch.images.device, torch.float32))


def predictor_step(predictor: HandPredictor, optimizer: torch.optim.Optimizer, batch: FrameBatch,
                   *, loss_config: LossConfig, stage: str, step: int) -> dict[str, float]:
    """Stage 1 (and the control): L_pred (Eq. 6) on labelled frames, one Adam step."""
    predictor.train()
    loss = predictor_loss(predictor(batch.images, batch.K), targets(batch), config=loss_config)
    values = check_finite(loss_terms(loss), stage=stage, step=step)
    _update(optimizer, loss.total)
    return values


@torch.no_grad()
def frozen_outputs(predictor: HandPredictor, batch: FrameBatch, *, chunk: int = 128
                   ) -> HandOutput:
    """The frozen predictor's outputs on (all the labelled) frames, in eval mode, for stage 2."""
    predictor.eval()
    parts = [predictor(batch.images[i:i + chunk], batch.K[i:i + chunk])
             for i in range(0, len(batch), chunk)]
    values = {f.name: [getattr(p, f.name) for p in parts] for f in dataclasses.fields(HandOutput)}
    return HandOutput(**{k: None if v[0] is None else torch.cat(v) for k, v in values.items()})


def aligner_step(aligner: PoseAligner, optimizer: torch.optim.Optimizer, pred_u: HandOutput,
                 pred_s: HandOutput, target_s: HandTargets, target_u: HandTargets, *,
                 backward_target: str, loss_config: LossConfig, step: int) -> dict[str, float]:
    """Stage 2: L_align (Eq. 8) on pairs of labelled frames, from the frozen predictor's outputs.

    Args:
        pred_u, pred_s: the frozen predictor's outputs for the B frames u and s.
        target_s, target_u: their labels (both frames are labelled in stage 2).
        backward_target: "prediction": Eq. 7's L_{u<-s} against J_u^reg, as written; "label":
            against J_u*.
    """
    aligner.train()
    aligned_s, aligned_u = align_pair(aligner, pred_u, pred_s, target_s.params)
    if backward_target == "label":
        pred_u = dataclasses.replace(pred_u, joints=target_u.joints)
    loss = alignment_loss(aligned_s, aligned_u, pred_u, target_s, config=loss_config)
    values = check_finite(loss_terms(loss), stage="stage2", step=step)
    _update(optimizer, loss.total)
    return values


def take_targets(labels: HandTargets, rows: torch.Tensor | slice) -> HandTargets:
    """The rows ``rows`` of a batch of labels."""
    return HandTargets(**{f.name: getattr(labels, f.name)[rows]
                          for f in dataclasses.fields(HandTargets)})


def take_frames(batch: FrameBatch, rows: torch.Tensor) -> FrameBatch:
    """The rows ``rows`` of a frame batch (repeats allowed)."""
    return FrameBatch(**{f.name: getattr(batch, f.name)[rows]
                         for f in dataclasses.fields(FrameBatch)})


def pair_step(predictor: HandPredictor, aligner: PoseAligner, optimizer: torch.optim.Optimizer,
              batch: PairBatch, *, loss_config: LossConfig, step: int,
              backward_detach: str = "none") -> dict[str, float]:
    """Stage 3: L_total (Eqs. 9-10) on pairs (u, s = N(u)), predictor and aligner together.

    ``backward_detach`` holds one side of Eq. 7's L_{u<-s} fixed (see
    :class:`handkit.train.TrainConfig`).
    """
    predictor.train()
    aligner.train()
    target_s = targets(batch.s)
    pair = forward_pair(predictor, aligner, images_u=batch.u.images, K_u=batch.u.K,
                        images_s=batch.s.images, K_s=batch.s.K, gamma_s=target_s.params)
    if backward_detach == "aligned":
        pair = dataclasses.replace(pair, aligned_u=pair.aligned_u.detach())
    elif backward_detach == "predicted":
        pair = dataclasses.replace(pair, pred_u=pair.pred_u.detach())
    loss = pair_objective(pair, target_s, config=loss_config)
    values = check_finite(loss_terms(loss), stage="stage3", step=step)
    _update(optimizer, loss.total)
    return values
