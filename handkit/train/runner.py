"""The three training stages of Sec. IV, run into a folder: :func:`train`.

Stage 1 pre-trains the Hand Predictor on labelled frames (L_pred); the optional control continues
it without the aligner; stage 2 freezes the predictor and trains the Pose Aligner on pairs of
labelled frames (L_align); stage 3 trains both on the stage-3 pairs (L_total). Each stage has
its own Adam optimiser (the paper's lr; "cosine" decays it to 0 over the stage).

Reproducible and resumable: the initial weights come from ``torch.manual_seed(seed)``; the batch
of step t of a stage is the stage sampler's epoch t (a pure function of seed and t); a step's
rolls come from a generator seeded by (seed, stage, t). A checkpoint (weights, the stage's
optimizer, stage and step) is written every ``checkpoint_every`` steps and at the end of each
stage, so ``resume=True`` continues exactly where an interrupted run stopped: on the CPU, with
the same number of threads, the resumed run ends with the same weights, bit for bit.

The run folder holds ``config.json``, ``checkpoint.pt`` (latest), ``stage1.pt``, ``control.pt``,
``final.pt`` (each stage's weights), ``curves/<stage>.csv`` (loss terms every ``log_every``
steps) and ``run.json`` (what ran, how long).
"""

from __future__ import annotations

import copy
import csv
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

from handkit.data.batch import FrameBatch, FrameDataset, PairBatch, PairDataset
from handkit.data.datasets import network_input, open_dataset
from handkit.data.frames import VideoFrames
from handkit.data.pairs import LabelledFrameSampler, LabelledPairSampler, PairSampler
from handkit.models import HandPredictor, PoseAligner
from handkit.train import distributed
from handkit.train.checkpoint import FINAL, LATEST, load_checkpoint, save_checkpoint
from handkit.train.config import TrainConfig, same_run
from handkit.train.stages import stage_modules, stage_parameters
from handkit.train.steps import (
    LabelledPairs,
    TrainingDiverged,
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

#: Stages in the order they run; "control" starts from stage 1's weights.
ORDER = ("stage1", "control", "stage2", "stage3")
#: Files a run writes (``force`` removes these and nothing else).
RUN_FILES = ("config.json", LATEST, "stage1.pt", "control.pt", FINAL, "run.json")


class RunFolderError(RuntimeError):
    """The run folder holds a run that the call would overwrite, or none to resume."""


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes:
        folder: the run folder.
        predictor, aligner: the trained modules (after the last stage run).
        seconds: wall time per stage run in this call.
        finished: whether every stage of the config is done (False after ``stop_after``).
    """

    folder: Path
    predictor: HandPredictor
    aligner: PoseAligner
    seconds: dict[str, float] = field(default_factory=dict)
    finished: bool = True


class _StepBatches(Sampler):
    """This process's items of each step's global batch, steps start..stop-1: step t's global
    batch is the stage sampler's epoch t; its groups (see :mod:`handkit.train.distributed`)
    follow each other."""

    def __init__(self, sampler, start: int, stop: int, groups: list[np.ndarray]) -> None:
        self.sampler, self.start, self.stop = sampler, start, stop
        self.positions = np.concatenate(groups)

    def __len__(self) -> int:
        return max(self.stop - self.start, 0)

    def __iter__(self) -> Iterator[list]:
        for step in range(self.start, self.stop):
            self.sampler.set_epoch(step)
            rows = self.sampler.draw()[self.positions]
            yield [(*row[:-1], bool(row[-1])) if len(row) == 4 else tuple(row)
                   for row in rows.tolist()]


def open_reader(config: TrainConfig, split: str | None = None) -> VideoFrames:
    """A split (default: the training split, ``config.split``) of the config's data set: the
    shipped sample set for ``data="synthetic"``, a synthetic folder, or a real set
    (:func:`handkit.data.datasets.open_dataset` with ``data_root`` and ``mano_root``)."""
    if config.dataset != "synthetic":
        root = config.data_root
    else:  # None: the shipped sample set
        root = None if config.data == "synthetic" else config.data
    return open_dataset(config.dataset, config.split if split is None else split, root=root,
                        label_every=config.label_every, mano_root=config.mano_root)


def input_transform(config: TrainConfig, reader: VideoFrames, *, training: bool):
    """The per-frame transform making the predictor's input from ``reader``'s frames, or None
    (:func:`handkit.data.datasets.network_input`: the synthetic frames as they are or resized
    to ``image_size``; for the real sets a crop around the nearest label's hand box)."""
    return network_input(config.dataset, image_size=config.image_size, training=training,
                         reader=reader)


def build_modules(config: TrainConfig) -> tuple[HandPredictor, PoseAligner]:
    """Fresh modules with the seed's initial weights."""
    torch.manual_seed(config.seed)
    predictor = HandPredictor(d_off_mm=config.d_off(), mano_root=config.mano_root)
    aligner = PoseAligner(mano_root=config.mano_root)
    return predictor, aligner


def learning_rate(config: TrainConfig, step: int, steps: int) -> float:
    """The lr of ``step`` of a stage of ``steps`` steps (constant, or cosine down to 0)."""
    if config.lr_schedule == "constant":
        return config.lr
    return 0.5 * config.lr * (1.0 + math.cos(math.pi * step / max(steps, 1)))


def _adam(parameters, config: TrainConfig, device: torch.device) -> torch.optim.Adam:
    # the fused kernel: the same update as the default, several times faster on CPU (bench model)
    return torch.optim.Adam(parameters, lr=config.lr, fused=device.type in ("cpu", "cuda"))


class _Curves:
    """``curves/<stage>.csv``: one row of loss terms every ``log_every`` steps."""

    def __init__(self, folder: Path, stage: str, start: int) -> None:
        self.path = folder / "curves" / f"{stage}.csv"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if self.path.is_file() and start > 0:  # resuming: drop rows after the checkpoint
            with self.path.open(newline="") as handle:
                kept = [row for row in csv.DictReader(handle) if int(row["step"]) < start]
        self.rows = kept
        self._write_all()

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self._write_all()

    def _write_all(self) -> None:
        names = list(self.rows[0]) if self.rows else ["step"]
        with self.path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=names)
            writer.writeheader()
            writer.writerows(self.rows)


class _Run:
    """The state of one call of :func:`train`: config, modules, data, folder, position."""

    def __init__(self, config: TrainConfig, folder: Path, *, progress: bool,
                 stop_after: int | None,
                 on_step: Callable[[str, int, int], None] | None = None) -> None:
        self.ranks = distributed.setup(config.device)
        self.config, self.folder = config, folder
        self.progress = progress and self.ranks.main
        self.on_step = on_step
        self.device = self.ranks.device
        if config.threads:
            torch.set_num_threads(config.threads)
        self.predictor, self.aligner = build_modules(config)
        self.control: HandPredictor | None = None
        self.reader = open_reader(config)
        masks = self.reader.labelled_masks()
        if not any(mask.any() for mask in masks):
            raise ValueError(f"{config.data} ({config.split}): no labelled frame at K = "
                             f"{self.reader.label_every}")
        transform = input_transform(config, self.reader, training=True)
        for stage, size in (("stage1", config.batch_size), ("control", 2 * config.pair_batch_size),
                            ("stage2", config.pair_batch_size),
                            ("stage3", config.pair_batch_size)):
            if config.steps(stage) > 0:  # a clear error now rather than at the stage's start
                distributed.group_positions(size, self.ranks.world_size * config.accumulate)
        self.frames = FrameDataset(self.reader, transform=transform, seed=config.seed)
        self.pairs = PairDataset(self.reader, transform=transform, seed=config.seed)
        self.masks = masks
        self.steps_left = stop_after
        self.seconds: dict[str, float] = {}
        self.finished: list[str] = []
        self.last_saved = "none yet"

    # -- data ---------------------------------------------------------------------------------

    def _groups(self, global_size: int) -> list[np.ndarray]:
        """This process's groups of positions in a global batch of ``global_size``."""
        return distributed.my_groups(global_size, self.ranks, self.config.accumulate)

    def _loader(self, dataset, sampler, start: int, stop: int, groups: list[np.ndarray]
                ) -> DataLoader:
        return DataLoader(dataset, batch_sampler=_StepBatches(sampler, start, stop, groups),
                          collate_fn=dataset.collate)

    def _angles(self, stage: str, step: int, global_size: int) -> torch.Tensor | None:
        """The rolls of step ``step``'s global batch (None without augmentation)."""
        if self.config.rotation_aug_rad <= 0:
            return None
        return draw_angles(self._generator(stage, step), global_size,
                           self.config.rotation_aug_rad)

    def _seed(self, stage: str) -> int:
        return self.config.seed * 10 + ORDER.index(stage)

    def _generator(self, stage: str, step: int) -> torch.Generator:
        return torch.Generator().manual_seed(self._seed(stage) * 1_000_003 + step)

    # -- checkpoints --------------------------------------------------------------------------

    def state(self, stage: str, step: int, optimizer) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(), "stage": stage, "step": step,
            "finished": list(self.finished),
            "predictor": self.predictor.state_dict(), "aligner": self.aligner.state_dict(),
            "control_predictor": None if self.control is None else self.control.state_dict(),
            "optimizer": None if optimizer is None else optimizer.state_dict(),
        }

    def restore(self, state: dict[str, Any]) -> tuple[str, int, dict | None]:
        self.predictor.load_state_dict(state["predictor"])
        self.aligner.load_state_dict(state["aligner"])
        if state["control_predictor"] is not None and "control" not in state["finished"]:
            self.control = copy.deepcopy(self.predictor)
            self.control.load_state_dict(state["control_predictor"])
        self.finished = list(state["finished"])
        return state["stage"], int(state["step"]), state["optimizer"]

    def save(self, stage: str, step: int, optimizer) -> None:
        if self.ranks.main:
            save_checkpoint(self.folder / LATEST, self.state(stage, step, optimizer))
        self.last_saved = f"{stage}, step {step}"

    def save_weights(self, name: str, predictor: HandPredictor, *, aligner: bool) -> None:
        if not self.ranks.main:
            return
        save_checkpoint(self.folder / name, {
            "config": self.config.to_dict(), "predictor": predictor.state_dict(),
            "aligner": self.aligner.state_dict() if aligner else None,
        })

    # -- the stage loop -----------------------------------------------------------------------

    def run_stage(self, stage: str, start: int, optimizer_state: dict | None) -> bool:
        """Run ``stage`` from step ``start``; False if stopped early (``stop_after``)."""
        steps = self.config.steps(stage)
        for module in stage_modules(stage, self.predictor, self.aligner, self.control):
            module.to(self.device)
        parameters = stage_parameters(stage, self.predictor, self.aligner, self.control)
        optimizer = _adam(parameters, self.config, self.device)
        if optimizer_state is not None:
            optimizer.load_state_dict(optimizer_state)
        step_fn = self._step_function(stage, optimizer, start, steps)
        curves = _Curves(self.folder, stage, start) if self.ranks.main else None
        bar = tqdm(total=steps, initial=start, desc=stage, disable=not self.progress,
                   leave=True, dynamic_ncols=True)
        began = time.perf_counter()
        try:
            for step in range(start, steps):
                if self.steps_left == 0:  # stop_after reached: keep the place and stop
                    self.save(stage, step, optimizer)
                    return False
                lr = learning_rate(self.config, step, steps)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                try:
                    values = step_fn(step)
                except TrainingDiverged as error:
                    raise TrainingDiverged(
                        f"{error}; the weights were not updated, and the last good checkpoint "
                        f"({self.last_saved}) is {self.folder / LATEST}") from None
                if curves and (step % self.config.log_every == 0 or step == steps - 1):
                    curves.add({"step": step, "lr": lr, **values})
                bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()
                                 if k in ("total", "joints", "forward", "pred_joints")})
                bar.update(1)
                if self.on_step is not None:
                    self.on_step(stage, step + 1, steps)
                if self.steps_left is not None:
                    self.steps_left -= 1
                if (step + 1) % self.config.checkpoint_every == 0 and step + 1 < steps:
                    self.save(stage, step + 1, optimizer)
        finally:
            bar.close()
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - began
        self._save_stage_weights(stage)
        self.finished.append(stage)
        self.save(stage, steps, None)
        return True

    def _save_stage_weights(self, stage: str) -> None:
        """Weights Table I evaluates: the stage-1 predictor (Baseline) and the control's."""
        if stage == "stage1":
            self.save_weights("stage1.pt", self.predictor, aligner=False)
        elif stage == "control":
            self.save_weights("control.pt", self.control, aligner=False)

    def _step_function(self, stage: str, optimizer, start: int, steps: int
                       ) -> Callable[[int], dict[str, float]]:
        config, device, loss, ranks = self.config, self.device, self.config.loss, self.ranks
        if stage in ("stage1", "control"):
            size = config.batch_size if stage == "stage1" else 2 * config.pair_batch_size
            groups = self._groups(size)
            sampler = LabelledFrameSampler(self.masks, num_samples=size, seed=self._seed(stage))
            batches = iter(self._loader(self.frames, sampler, start, steps, groups))
            model = self.predictor if stage == "stage1" else self.control

            def frame_step(step: int) -> dict[str, float]:
                batch, angles = next(batches).to(device), self._angles(stage, step, size)
                parts = [roll_frames(take_frames(batch, rows),
                                     None if angles is None else angles[positions])
                         for rows, positions in _group_rows(groups, device)]
                return predictor_step(model, optimizer, parts, loss_config=loss, ranks=ranks,
                                      stage=stage, step=step)

            return frame_step
        if stage == "stage2":
            return self._aligner_steps(optimizer)
        size = config.pair_batch_size
        groups = self._groups(size)
        sampler = PairSampler(self.masks, p_unlabelled=config.p_unlabelled,
                              max_gap=config.max_gap, num_near_labelled=config.num_near_labelled,
                              num_samples=size, seed=self._seed(stage))
        pairs = iter(self._loader(self.pairs, sampler, start, steps, groups))

        def pairs_step(step: int) -> dict[str, float]:
            batch, angles = next(pairs).to(device), self._angles(stage, step, size)
            parts = [roll_pair(PairBatch(take_frames(batch.s, rows), take_frames(batch.u, rows)),
                               None if angles is None else angles[positions])
                     for rows, positions in _group_rows(groups, device)]
            return pair_step(self.predictor, self.aligner, optimizer, parts, loss_config=loss,
                             ranks=ranks, step=step, backward_detach=config.backward_detach)

        return pairs_step

    def _aligner_steps(self, optimizer) -> Callable[[int], dict]:
        """Stage 2 on pairs of labelled frames. Without rolls the frozen predictor's outputs on
        every labelled frame are computed once; with rolls (``rotation_aug_rad`` > 0) each frame
        of a pair gets its own roll (both are labelled, so both labels follow), and the frozen
        predictor runs on the rolled frames at every step."""
        labelled = sorted((int(v), int(f)) for v, f in LabelledFrameSampler(self.masks).draw())
        row_of = {item: row for row, item in enumerate(labelled)}
        frames = FrameBatch.collate([self.frames[item] for item in labelled]).to(self.device)
        outputs = frozen_outputs(self.predictor, frames)
        size = self.config.pair_batch_size
        groups = self._groups(size)
        sampler = LabelledPairSampler(self.masks, num_near_labelled=self.config.num_near_labelled,
                                      num_samples=size, seed=self._seed("stage2"))

        def stage2_step(step: int) -> dict[str, float]:
            sampler.set_epoch(step)
            items = sampler.draw()  # (size, 4) video, s, u, True: the global batch
            angles = self._angles("stage2", step, 2 * size)  # s frames first, then u frames
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
                    pred = frozen_outputs(self.predictor, both)
                pred_s, pred_u = pred.split(len(positions))
                target = targets(both)
                half = slice(0, len(positions)), slice(len(positions), None)
                parts.append(LabelledPairs(pred_u=pred_u, pred_s=pred_s,
                                           target_u=take_targets(target, half[1]),
                                           target_s=take_targets(target, half[0])))
            return aligner_step(self.aligner, optimizer, parts,
                                backward_target=self.config.stage2_backward_target,
                                loss_config=self.config.loss, ranks=self.ranks, step=step)

        return stage2_step


def _group_rows(groups: list[np.ndarray], device: torch.device
                ) -> list[tuple[torch.Tensor, np.ndarray]]:
    """(rows of each group in this process's loaded batch, the group's global positions)."""
    out, offset = [], 0
    for positions in groups:
        out.append((torch.arange(offset, offset + len(positions), device=device), positions))
        offset += len(positions)
    return out


def _prepare_folder(folder: Path, config: TrainConfig, *, resume: bool, force: bool
                    ) -> dict[str, Any] | None:
    """Check what ``folder`` holds against what was asked; return the checkpoint to resume."""
    final, latest = folder / FINAL, folder / LATEST
    if force and not resume:
        for name in RUN_FILES:
            (folder / name).unlink(missing_ok=True)
        for curve in (folder / "curves").glob("*.csv"):
            curve.unlink()
        return None
    if resume:
        if not latest.is_file():
            raise RunFolderError(f"nothing to resume in {folder}: no {LATEST}")
        state = load_checkpoint(latest)
        saved = TrainConfig.from_dict(state["config"])
        if not same_run(saved, config):
            changed = sorted(k for k, v in config.to_dict().items()
                             if saved.to_dict()[k] != v and k != "threads")
            raise RunFolderError(f"{folder} holds a run with another config (differs in "
                                 f"{changed}); resume it with its own config.json")
        return state
    if final.is_file():
        raise RunFolderError(f"{folder} already holds a finished run; choose another --out, or "
                             f"--force to overwrite it")
    if latest.is_file():
        raise RunFolderError(f"{folder} holds an unfinished run: --resume to continue it, "
                             f"--force to start over")
    return None


def train(config: TrainConfig, out: str | Path, *, resume: bool = False, force: bool = False,
          progress: bool = True, stop_after: int | None = None,
          on_step: Callable[[str, int, int], None] | None = None) -> TrainResult:
    """Run the stages of ``config`` into the folder ``out`` (see the module docstring).

    Args:
        config: the run's choices (saved as ``out/config.json``).
        out: the run folder (created if missing).
        resume: continue the unfinished run in ``out`` (its config must be ``config``).
        force: overwrite a run in ``out`` (only the files a run writes are removed).
        progress: progress bars (tqdm) with the running loss terms.
        stop_after: stop (with a checkpoint) after this many steps in total; for tests and
            notebooks that show resuming.
        on_step: called as ``on_step(stage, steps_done, steps)`` after every step (e.g. a
            widget's progress bar).

    Raises:
        RunFolderError: ``out`` holds a run and neither ``resume`` nor ``force`` was given, or
            there is nothing to resume.
        handkit.train.TrainingDiverged: a loss term became NaN or infinite (the last good
            checkpoint is kept).
    """
    folder = Path(out)
    run = _Run(config, folder, progress=progress, stop_after=stop_after, on_step=on_step)
    try:
        return _train(run, folder, resume=resume, force=force)
    finally:
        distributed.cleanup(run.ranks)


def _train(run: _Run, folder: Path, *, resume: bool, force: bool) -> TrainResult:
    config = run.config
    state, error = None, None
    if run.ranks.main:  # rank 0 checks and prepares the folder, the others wait for it
        try:
            folder.mkdir(parents=True, exist_ok=True)
            state = _prepare_folder(folder, config, resume=resume, force=force)
            (folder / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        except Exception as failure:  # every rank must hear of it
            error = failure
    distributed.share_outcome(run.ranks, error)
    if resume and not run.ranks.main:
        state = load_checkpoint(folder / LATEST)
    current, start, optimizer_state = (None, 0, None)
    if state is not None:
        current, start, optimizer_state = run.restore(state)
    finished = True
    for stage in ORDER:
        if config.steps(stage) == 0 or stage in run.finished:
            continue
        if stage == "control" and run.control is None:
            run.control = copy.deepcopy(run.predictor)
        resuming = stage == current
        if not run.run_stage(stage, start if resuming else 0,
                             optimizer_state if resuming else None):
            finished = False
            break
        if stage == "control":
            run.control = None
    if finished:
        run.save_weights(FINAL, run.predictor, aligner=True)
    spread = distributed.parameter_spread([run.predictor, run.aligner], run.ranks)
    summary = {"finished": finished, "stages_done": run.finished,
               "seconds_this_call": {k: round(v, 2) for k, v in run.seconds.items()},
               "threads": torch.get_num_threads(), "device": str(run.device),
               "processes": run.ranks.world_size, "parameter_spread_across_processes": spread,
               "torch": torch.__version__}
    if run.ranks.main:
        (folder / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
    return TrainResult(folder=folder, predictor=run.predictor, aligner=run.aligner,
                       seconds=run.seconds, finished=finished)


@dataclass
class TrainedRun:
    """The modules of a finished run folder (:func:`load_run`).

    Attributes:
        config: the run's config.
        predictor, aligner: after the last stage (Baseline + Align, and the Pose Aligner).
        baseline: the stage-1 predictor (Table I's Baseline), if stage 1 ran.
        control: the control predictor, if the run had one.
    """

    config: TrainConfig
    predictor: HandPredictor
    aligner: PoseAligner
    baseline: HandPredictor | None = None
    control: HandPredictor | None = None


def load_run(folder: str | Path, *, device: str | torch.device = "cpu") -> TrainedRun:
    """The trained modules of a finished run, in eval mode, on ``device``."""
    folder = Path(folder)
    final = load_checkpoint(folder / FINAL, map_location=device)
    config = TrainConfig.from_dict(final["config"])
    predictor, aligner = build_modules(config)
    predictor.load_state_dict(final["predictor"])
    aligner.load_state_dict(final["aligner"])
    extra = {}
    for name in ("baseline", "control"):
        path = folder / ("stage1.pt" if name == "baseline" else "control.pt")
        if path.is_file():
            module = copy.deepcopy(predictor)
            module.load_state_dict(load_checkpoint(path, map_location=device)["predictor"])
            extra[name] = module.eval().to(device)
    return TrainedRun(config=config, predictor=predictor.eval().to(device),
                      aligner=aligner.eval().to(device), **extra)
