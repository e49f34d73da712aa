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

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator

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
from handkit.models import HandOutput, HandPredictor, HandTargets
from handkit.models.pair import align_pair
from handkit.train.distributed import Ranks, mean_values, no_sync_unless


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


def accumulate_step(optimizer: torch.optim.Optimizer, model: torch.nn.Module, groups: list,
                    compute: Callable, *, ranks: Ranks, stage: str, step: int
                    ) -> dict[str, float]:
    """One optimiser step over this process's groups of the global batch.

    ``model`` is the stage's trained module, DistributedDataParallel with several processes
    (:func:`handkit.train.distributed.wrap`); ``compute(model, group)`` runs it once on a group
    and returns a loss record. Each group's loss is back-propagated divided by the number of
    groups, the gradients kept local for all groups but the last (``no_sync``), where DDP
    averages them over the processes: the mean over every group of the step. The loss terms
    are averaged over groups and processes in one tensor on the training device; if any is not
    finite, :class:`TrainingDiverged` is raised (on every process alike) before the weights
    change; else the optimiser steps.
    """
    optimizer.zero_grad(set_to_none=True)
    names, sums = None, None
    for index, group in enumerate(groups):
        with (no_sync_unless(index == len(groups) - 1, model),
              running_stats_frozen(model, index > 0)):
            loss = compute(model, group)
            (loss.total / len(groups)).backward()
        terms = loss_terms(loss)
        stacked = torch.stack([value.detach().float() for value in terms.values()])
        names = list(terms)
        sums = stacked / len(groups) if sums is None else sums + stacked / len(groups)
    averaged = mean_values(sums, ranks).tolist()  # one device-to-host copy per step
    values = check_finite(dict(zip(names, averaged, strict=True)), stage=stage, step=step)
    optimizer.step()
    return values


@contextlib.contextmanager
def running_stats_frozen(model: torch.nn.Module, frozen: bool = True) -> Iterator[None]:
    """BatchNorm layers normalise by the batch's statistics without updating their running
    statistics (``track_running_stats`` off) while inside, if ``frozen``: the groups after a
    step's first (see :mod:`handkit.train.distributed`)."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
              and m.track_running_stats] if frozen else []
    for layer in layers:
        layer.track_running_stats = False
    try:
        yield
    finally:
        for layer in layers:
            layer.track_running_stats = True


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


def predictor_step(predictor: torch.nn.Module, optimizer: torch.optim.Optimizer,
                   groups: list[FrameBatch], *, loss_config: LossConfig, ranks: Ranks, stage: str,
                   step: int) -> dict[str, float]:
    """Stage 1 (and the control): L_pred (Eq. 6) on labelled frames, one Adam step.

    ``predictor``: the :class:`HandPredictor`, or DistributedDataParallel wrapping it.
    """
    predictor.train()

    def compute(model: torch.nn.Module, batch: FrameBatch) -> PredictorLoss:
        return predictor_loss(model(batch.images, batch.intrinsics), targets(batch),
                              config=loss_config)

    return accumulate_step(optimizer, predictor, groups, compute, ranks=ranks, stage=stage,
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


def aligner_step(aligner: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 groups: list[LabelledPairs], *, backward_target: str, loss_config: LossConfig,
                 ranks: Ranks, step: int) -> dict[str, float]:
    """Stage 2: L_align (Eq. 8) on pairs of labelled frames, the predictor frozen.

    ``aligner``: the :class:`PoseAligner`, or DistributedDataParallel wrapping it.
    ``backward_target``: "prediction": Eq. 7's L_{u<-s} against J_u^reg, as written; "label":
    against J_u* (u is labelled in stage 2).
    """
    aligner.train()

    def compute(model: torch.nn.Module, pairs: LabelledPairs) -> AlignmentLoss:
        aligned_s, aligned_u = align_pair(model, pairs.pred_u, pairs.pred_s,
                                          pairs.target_s.params)
        pred_u = pairs.pred_u
        if backward_target == "label":
            pred_u = dataclasses.replace(pred_u, joints=pairs.target_u.joints)
        return alignment_loss(aligned_s, aligned_u, pred_u, pairs.target_s, config=loss_config)

    return accumulate_step(optimizer, aligner, groups, compute, ranks=ranks, stage="stage2",
                           step=step)


def take_targets(labels: HandTargets, rows: torch.Tensor | slice) -> HandTargets:
    """The rows ``rows`` of a batch of labels."""
    return HandTargets(**{f.name: getattr(labels, f.name)[rows]
                          for f in dataclasses.fields(HandTargets)})


def take_frames(batch: FrameBatch, rows: torch.Tensor) -> FrameBatch:
    """The rows ``rows`` of a frame batch (repeats allowed)."""
    return FrameBatch(**{f.name: getattr(batch, f.name)[rows]
                         for f in dataclasses.fields(FrameBatch)})


def pair_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
              groups: list[PairBatch], *, loss_config: LossConfig, ranks: Ranks, step: int,
              backward_detach: str = "none") -> dict[str, float]:
    """Stage 3: L_total (Eqs. 9-10) on pairs (u, s = N(u)), predictor and aligner together.

    ``model``: a :class:`~handkit.models.pair.PairModel` (predictor and aligner), or
    DistributedDataParallel wrapping it. ``backward_detach`` holds one side of Eq. 7's
    L_{u<-s} fixed (see :class:`handkit.train.TrainConfig`).
    """
    model.train()

    def compute(pair_model: torch.nn.Module, batch: PairBatch) -> TotalLoss:
        target_s = targets(batch.s)
        pair = pair_model(batch.u.images, batch.u.intrinsics, batch.s.images,
                          batch.s.intrinsics, target_s.params)
        if backward_detach == "aligned":
            pair = dataclasses.replace(pair, aligned_u=pair.aligned_u.detach())
        elif backward_detach == "predicted":
            pair = dataclasses.replace(pair, pred_u=pair.pred_u.detach())
        return pair_objective(pair, target_s, config=loss_config)

    return accumulate_step(optimizer, model, groups, compute, ranks=ranks, stage="stage3",
                           step=step)
