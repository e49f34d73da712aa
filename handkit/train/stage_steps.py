"""Each training stage's step function: the batch a step draws and the update it makes.

:class:`StageSteps` holds what a run's steps draw from (its labelled masks, frame and pair
datasets, seed and process groups) and builds, for a stage, the module it trains
(:meth:`StageSteps.model`) and the function that makes its step t (:meth:`StageSteps.function`).
Step t's global batch is the stage sampler's epoch t (a pure function of seed and t); its rolls
come from a generator seeded by (seed, stage, t); this process takes its groups of positions
of that batch (see :mod:`handkit.train.distributed`).

Split from :mod:`handkit.train.runner`, which runs the stage loop, checkpoints and the folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from handkit.data.batch import FrameBatch, PairBatch
from handkit.data.loaders import FrameDataset, PairDataset
from handkit.data.pairs import LabelledFrameSampler, LabelledPairSampler, PairSampler
from handkit.models import HandPredictor, PoseAligner
from handkit.models.pair import PairModel
from handkit.train import distributed
from handkit.train.config import TrainConfig
from handkit.train.folder import ORDER
from handkit.train.parts import StepBatches, group_rows
from handkit.train.steps import (
    LabelledPairs,
    aligner_step,
    draw_angles,
    frozen_outputs,
    pair_step,
    predictor_step,
    roll_frames,
    roll_pair,
    take_frames,
    take_targets,
    targets,
)

StepFunction = Callable[[int], dict[str, float]]
"""Makes step t of a stage (one optimiser update) and returns its loss terms by name."""


@dataclass
class StageSteps:
    """What a run's steps draw from, and the step functions built on it.

    Attributes:
        config: the run's choices.
        ranks: this process's place among the training processes (its device included).
        masks: the labelled frames, one (T^i,) bool mask per video.
        frames: the frames as a dataset (items ``(video, frame)``).
        pairs: the frame pairs as a dataset (items ``(video, s, u, u_is_labelled)``).
    """

    config: TrainConfig
    ranks: distributed.Ranks
    masks: list[np.ndarray]
    frames: FrameDataset
    pairs: PairDataset

    @property
    def device(self) -> torch.device:
        return self.ranks.device

    # -- data ---------------------------------------------------------------------------------

    def groups(self, global_size: int) -> list[np.ndarray]:
        """This process's groups of positions in a global batch of ``global_size``."""
        return distributed.my_groups(global_size, self.ranks, self.config.accumulate)

    def loader(self, dataset, sampler, start: int, stop: int, groups: list[np.ndarray]
               ) -> DataLoader:
        """This process's batches of steps ``start .. stop - 1`` (step t: the sampler's
        epoch t, the items at ``groups``' positions)."""
        return DataLoader(dataset, batch_sampler=StepBatches(sampler, start, stop, groups),
                          collate_fn=dataset.collate)

    def angles(self, stage: str, step: int, global_size: int) -> torch.Tensor | None:
        """The (global_size,) rolls of step ``step``'s global batch (None without
        augmentation)."""
        if self.config.rotation_aug_rad <= 0:
            return None
        return draw_angles(self.generator(stage, step), global_size,
                           self.config.rotation_aug_rad)

    def rolls_stage2(self, step: int, size: int) -> torch.Tensor | None:
        """Stage 2's (2 size,) rolls of step ``step``: the s frames' then the u frames'; with
        ``stage2_roll="shared"`` a pair's two frames get the same angle."""
        if self.config.stage2_roll == "independent":
            return self.angles("stage2", step, 2 * size)
        angles = self.angles("stage2", step, size)
        return None if angles is None else angles.repeat(2)

    def seed(self, stage: str) -> int:
        """The seed of ``stage``'s sampler."""
        return self.config.seed * 10 + ORDER.index(stage)

    def generator(self, stage: str, step: int) -> torch.Generator:
        """The generator of step ``step``'s rolls in ``stage``."""
        return torch.Generator().manual_seed(self.seed(stage) * 1_000_003 + step)

    # -- step functions -----------------------------------------------------------------------

    def model(self, stage: str, predictor: HandPredictor, aligner: PoseAligner,
              control: HandPredictor | None) -> torch.nn.Module:
        """The module ``stage`` trains, as one module (stage 3: predictor and aligner), wrapped
        in DistributedDataParallel when several processes train."""
        module = {"stage1": predictor, "control": control, "stage2": aligner,
                  "stage3": PairModel(predictor, aligner)}[stage]
        return distributed.wrap(module, self.ranks, sync_batchnorm=self.config.sync_batchnorm)

    def function(self, stage: str, optimizer, start: int, steps: int, model: torch.nn.Module,
                 predictor: HandPredictor) -> StepFunction:
        """The step function of ``stage``, steps ``start .. steps - 1``, training ``model``
        (from :meth:`model`) with ``optimizer``; ``predictor`` is stage 2's frozen one."""
        config, device, loss, ranks = self.config, self.device, self.config.loss, self.ranks
        if stage in ("stage1", "control"):
            size = config.batch_size if stage == "stage1" else 2 * config.pair_batch_size
            groups = self.groups(size)
            sampler = LabelledFrameSampler(self.masks, num_samples=size, seed=self.seed(stage))
            batches = iter(self.loader(self.frames, sampler, start, steps, groups))

            def frame_step(step: int) -> dict[str, float]:
                batch, angles = next(batches).to(device), self.angles(stage, step, size)
                parts = [roll_frames(take_frames(batch, rows),
                                     None if angles is None else angles[positions])
                         for rows, positions in group_rows(groups, device)]
                return predictor_step(model, optimizer, parts, loss_config=loss, ranks=ranks,
                                      stage=stage, step=step)

            return frame_step
        if stage == "stage2":
            return self.aligner_function(optimizer, model, predictor)
        size = config.pair_batch_size
        groups = self.groups(size)
        sampler = PairSampler(self.masks, p_unlabelled=config.p_unlabelled,
                              max_gap=config.max_gap, num_near_labelled=config.num_near_labelled,
                              num_samples=size, seed=self.seed(stage))
        pairs = iter(self.loader(self.pairs, sampler, start, steps, groups))

        def pairs_step(step: int) -> dict[str, float]:
            batch, angles = next(pairs).to(device), self.angles(stage, step, size)
            parts = [roll_pair(PairBatch(take_frames(batch.s, rows), take_frames(batch.u, rows)),
                               None if angles is None else angles[positions])
                     for rows, positions in group_rows(groups, device)]
            return pair_step(model, optimizer, parts, loss_config=loss, ranks=ranks, step=step,
                             backward_detach=config.backward_detach)

        return pairs_step

    def aligner_function(self, optimizer, model: torch.nn.Module,
                         predictor: HandPredictor) -> StepFunction:
        """Stage 2 on pairs of labelled frames. Without rolls the frozen ``predictor``'s outputs
        on every labelled frame are computed once; with rolls (``rotation_aug_rad`` > 0) each
        frame of a pair is rolled (both are labelled, so both labels follow; by its own angle or
        by the pair's, ``stage2_roll``), and the frozen predictor runs on the rolled frames at
        every step."""
        labelled = sorted((int(v), int(f)) for v, f in LabelledFrameSampler(self.masks).draw())
        row_of = {item: row for row, item in enumerate(labelled)}
        frames = FrameBatch.collate([self.frames[item] for item in labelled]).to(self.device)
        outputs = frozen_outputs(predictor, frames)
        size = self.config.pair_batch_size
        groups = self.groups(size)
        sampler = LabelledPairSampler(self.masks, num_near_labelled=self.config.num_near_labelled,
                                      num_samples=size, seed=self.seed("stage2"))

        def stage2_step(step: int) -> dict[str, float]:
            sampler.set_epoch(step)
            items = sampler.draw()  # (size, 4) video, s, u, True: the global batch
            angles = self.rolls_stage2(step, size)  # (2 size,) s frames first, then u
            parts = []
            for positions in groups:
                mine = items[positions]
                rows = torch.tensor([row_of[(v, f)] for v, f in mine[:, :2].tolist()]
                                    + [row_of[(v, f)] for v, f in mine[:, [0, 2]].tolist()],
                                    device=self.device)  # (2b,) s then u
                both = take_frames(frames, rows)
                if angles is None:
                    pred = outputs.take(rows)
                else:
                    both = roll_frames(both, angles[np.concatenate([positions, positions + size])])
                    pred = frozen_outputs(predictor, both)
                pred_s, pred_u = pred.split(len(positions))
                target = targets(both)
                half = slice(0, len(positions)), slice(len(positions), None)
                parts.append(LabelledPairs(pred_u=pred_u, pred_s=pred_s,
                                           target_u=take_targets(target, half[1]),
                                           target_s=take_targets(target, half[0])))
            return aligner_step(model, optimizer, parts,
                                backward_target=self.config.stage2_backward_target,
                                loss_config=self.config.loss, ranks=self.ranks, step=step)

        return stage2_step
