"""One optimisation step of each training stage (Sec. IV), on batches from :mod:`handkit.data`.

* stage 1: the Hand Predictor on labelled frames, L_pred (Eq. 6);
* stage 2: the Pose Aligner alone on pairs of labelled frames, L_align (Eq. 8); the predictor is
  frozen (eval mode, no gradients, :func:`frozen_outputs`); without augmentation its outputs on
  the labelled frames are computed once;
* stage 3: everything on the stage-3 pairs, L_total (Eqs. 9-10);
* control: stage 1 continued on as many images per step as stage 3 sees (2 x pairs), no
  aligner (the synthetic Table I's control row).

Each step takes this process's groups of the step's global batch (one group without torchrun
or gradient accumulation; see :mod:`handkit.train.distributed`), returns its loss terms as
floats (averaged over groups and processes, for curves and progress bars) and raises
:class:`TrainingDiverged` before the optimiser touches the weights if a term is NaN or infinite.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

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
from handkit.train.distributed import (
    Ranks,
    average_buffers,
    average_gradients,
    mean_values,
    running_buffers,
)


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


def check_finite(values: dict[str, float], *, stage: str, step: int) -> dict[str, float]:
    """``values`` unchanged, or :class:`TrainingDiverged` naming the first term not finite."""
    for name, value in values.items():
        if not math.isfinite(value):
            raise TrainingDiverged(f"{stage}, step {step}: loss term {name!r} is {value}")
    return values


def accumulate_step(optimizer: torch.optim.Optimizer, modules: list[torch.nn.Module],
                    groups: list, compute: Callable, *, ranks: Ranks, stage: str, step: int
                    ) -> dict[str, float]:
    """One optimiser step over this process's groups of the global batch.

    Each group's loss (``compute(group)``, a loss record) is back-propagated divided by the
    number of groups; the terms are averaged over groups and processes; if any is not finite,
    :class:`TrainingDiverged` is raised (on every process alike) before the weights change;
    else gradients are averaged over the processes and the optimiser steps. With several groups
    BatchNorm's running statistics are updated by each group from the same start and averaged
    over all groups (:mod:`handkit.train.distributed`).
    """
    optimizer.zero_grad(set_to_none=True)
    sums: dict[str, float] = {}
    buffers = running_buffers(modules) if len(groups) > 1 or ranks.enabled else []
    start = [b.clone() for b in buffers]
    totals = [torch.zeros_like(b) for b in buffers]
    for group in groups:
        for buffer, value in zip(buffers, start, strict=True):
            buffer.copy_(value)
        loss = compute(group)
        terms = loss_terms(loss)
        (loss.total / len(groups)).backward()
        for name, value in terms.items():
            sums[name] = sums.get(name, 0.0) + float(value.detach()) / len(groups)
        for total, buffer in zip(totals, buffers, strict=True):
            total += buffer / len(groups)
    for buffer, total in zip(buffers, totals, strict=True):
        buffer.copy_(total)
    average_buffers(buffers, ranks)
    values = check_finite(mean_values(sums, ranks), stage=stage, step=step)
    average_gradients([p for m in modules for p in m.parameters()], ranks)
    optimizer.step()
    return values


def draw_angles(generator: torch.Generator, size: int, max_rad: float) -> torch.Tensor:
    """(size,) rolls uniform in [-max_rad, max_rad] (Appendix C), float64 on the CPU."""
    return (torch.rand(size, generator=generator, dtype=torch.float64) * 2 - 1) * max_rad


def roll_frames(batch: FrameBatch, angles: torch.Tensor | None) -> FrameBatch:
    """Roll every frame by its angle (B,) radians (Appendix C); None leaves the batch."""
    if angles is None:
        return batch
    return roll_frame_batch(batch, angles=angles.to(batch.images.device, torch.float32))


def roll_pair(batch: PairBatch, angles: torch.Tensor | None) -> PairBatch:
    """Roll both frames of every pair by the same angle (one camera films a video)."""
    if angles is None:
        return batch
    return PairBatch(roll_frames(batch.s, angles), roll_frames(batch.u, angles))


def predictor_step(predictor: HandPredictor, optimizer: torch.optim.Optimizer,
                   groups: list[FrameBatch], *, loss_config: LossConfig, ranks: Ranks, stage: str,
                   step: int) -> dict[str, float]:
    """Stage 1 (and the control): L_pred (Eq. 6) on labelled frames, one Adam step."""
    predictor.train()

    def compute(batch: FrameBatch) -> PredictorLoss:
        return predictor_loss(predictor(batch.images, batch.intrinsics), targets(batch),
                              config=loss_config)

    return accumulate_step(optimizer, [predictor], groups, compute, ranks=ranks, stage=stage,
                           step=step)


@torch.no_grad()
def frozen_outputs(predictor: HandPredictor, batch: FrameBatch, *, chunk: int = 128
                   ) -> HandOutput:
    """The frozen predictor's outputs on (all the labelled) frames, in eval mode, for stage 2."""
    predictor.eval()
    parts = [predictor(batch.images[i:i + chunk], batch.intrinsics[i:i + chunk])
             for i in range(0, len(batch), chunk)]
    values = {f.name: [getattr(p, f.name) for p in parts] for f in dataclasses.fields(HandOutput)}
    return HandOutput(**{k: None if v[0] is None else torch.cat(v) for k, v in values.items()})


@dataclasses.dataclass(frozen=True)
class LabelledPairs:
    """A group of stage-2 pairs: the frozen predictor's outputs and the labels of u and s."""

    pred_u: HandOutput
    pred_s: HandOutput
    target_u: HandTargets
    target_s: HandTargets


def aligner_step(aligner: PoseAligner, optimizer: torch.optim.Optimizer,
                 groups: list[LabelledPairs], *, backward_target: str, loss_config: LossConfig,
                 ranks: Ranks, step: int) -> dict[str, float]:
    """Stage 2: L_align (Eq. 8) on pairs of labelled frames, the predictor frozen.

    ``backward_target``: "prediction": Eq. 7's L_{u<-s} against J_u^reg, as written; "label":
    against J_u* (u is labelled in stage 2).
    """
    aligner.train()

    def compute(pairs: LabelledPairs) -> AlignmentLoss:
        aligned_s, aligned_u = align_pair(aligner, pairs.pred_u, pairs.pred_s,
                                          pairs.target_s.params)
        pred_u = pairs.pred_u
        if backward_target == "label":
            pred_u = dataclasses.replace(pred_u, joints=pairs.target_u.joints)
        return alignment_loss(aligned_s, aligned_u, pred_u, pairs.target_s, config=loss_config)

    return accumulate_step(optimizer, [aligner], groups, compute, ranks=ranks, stage="stage2",
                           step=step)


def take_targets(labels: HandTargets, rows: torch.Tensor | slice) -> HandTargets:
    """The rows ``rows`` of a batch of labels."""
    return HandTargets(**{f.name: getattr(labels, f.name)[rows]
                          for f in dataclasses.fields(HandTargets)})


def take_frames(batch: FrameBatch, rows: torch.Tensor) -> FrameBatch:
    """The rows ``rows`` of a frame batch (repeats allowed)."""
    return FrameBatch(**{f.name: getattr(batch, f.name)[rows]
                         for f in dataclasses.fields(FrameBatch)})


def pair_step(predictor: HandPredictor, aligner: PoseAligner, optimizer: torch.optim.Optimizer,
              groups: list[PairBatch], *, loss_config: LossConfig, ranks: Ranks, step: int,
              backward_detach: str = "none") -> dict[str, float]:
    """Stage 3: L_total (Eqs. 9-10) on pairs (u, s = N(u)), predictor and aligner together.

    ``backward_detach`` holds one side of Eq. 7's L_{u<-s} fixed (see
    :class:`handkit.train.TrainConfig`).
    """
    predictor.train()
    aligner.train()

    def compute(batch: PairBatch) -> TotalLoss:
        target_s = targets(batch.s)
        pair = forward_pair(predictor, aligner,
                            images_u=batch.u.images, intrinsics_u=batch.u.intrinsics,
                            images_s=batch.s.images, intrinsics_s=batch.s.intrinsics,
                            gamma_s=target_s.params)
        if backward_detach == "aligned":
            pair = dataclasses.replace(pair, aligned_u=pair.aligned_u.detach())
        elif backward_detach == "predicted":
            pair = dataclasses.replace(pair, pred_u=pair.pred_u.detach())
        return pair_objective(pair, target_s, config=loss_config)

    return accumulate_step(optimizer, [predictor, aligner], groups, compute, ranks=ranks,
                           stage="stage3", step=step)
