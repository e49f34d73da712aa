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

The run folder holds ``config.json``, ``checkpoint.pt`` (latest) and ``checkpoint.prev.pt`` (the
one before), ``stage1.pt``, ``control.pt``, ``final.pt`` (each stage's weights),
``curves/<stage>.csv`` (loss terms every ``log_every`` steps) and ``run.json`` (what ran, how
long). One run writes into a folder at a time; ``force`` replaces the old run only at the new
one's first checkpoint; stale temporaries are removed; contradictory or empty requests are
refused before the folder is touched: see :mod:`handkit.train.folder`.

This module runs the stage loop, its checkpoints and the stage weights; each stage's step
function (the batch a step draws, its rolls, the update) is built by
:mod:`handkit.train.stage_steps`.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from handkit.data.loaders import FrameDataset, PairDataset
from handkit.models import HandPredictor, PoseAligner
from handkit.models.precision import describe as describe_precision
from handkit.models.precision import encoder_dtype
from handkit.progress import progress_bar
from handkit.train import distributed
from handkit.train.checkpoint import FINAL, LATEST, save_checkpoint
from handkit.train.config import TrainConfig
from handkit.train.folder import (
    ORDER,
    RUN_FILES,
    Curves,
    RunFolder,
    RunFolderError,
    TrainedRun,
    check_request,
    load_run,
    open_folder,
    write_json,
)
from handkit.train.parts import (
    adam,
    build_modules,
    check_on_device,
    input_transform,
    learning_rate,
    open_reader,
)
from handkit.train.stage_steps import StageSteps
from handkit.train.stages import stage_modules, stage_parameters
from handkit.train.steps import TrainingDiverged

__all__ = ["ORDER", "RUN_FILES", "RunFolderError", "TrainResult", "TrainedRun", "train",
           "load_run", "open_reader", "input_transform", "build_modules", "learning_rate"]


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes:
        folder: the run folder.
        predictor, aligner: the trained modules (after the last stage run).
        seconds: wall time per stage run in this call.
        finished: whether every stage of the config is done (False after ``stop_after``).
        notes: what the run said about its folder (stale temporaries removed, the checkpoint
            it resumed from when the latest was damaged).
    """

    folder: Path
    predictor: HandPredictor
    aligner: PoseAligner
    seconds: dict[str, float] = field(default_factory=dict)
    finished: bool = True
    notes: list[str] = field(default_factory=list)


class _Run:
    """The state of one call of :func:`train`: config, modules, data, folder, position."""

    def __init__(self, config: TrainConfig, folder: Path, *, progress: bool,
                 stop_after: int | None,
                 on_step: Callable[[str, int, int], None] | None = None) -> None:
        self.ranks = distributed.setup(config.device)
        self.config = config
        self.folder = RunFolder(folder)  # replaced by what prepare() decides
        self.progress = progress and self.ranks.main
        self.on_step = on_step
        self.device = self.ranks.device
        if config.threads:
            torch.set_num_threads(config.threads)
        distributed.check_sync_batchnorm(config.sync_batchnorm, self.device)
        self.predictor, self.aligner = build_modules(config)
        self.predictor.to(self.device).encoder_dtype = encoder_dtype(config.precision,
                                                                     self.device)
        if config.compile:  # in place: the weights keep their names in checkpoints
            self.predictor.encoder.compile()
        self.aligner.to(self.device)  # every module on the run's one device, from the start
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
        self.stage_steps = StageSteps(
            config, self.ranks, masks,
            frames=FrameDataset(self.reader, transform=transform, seed=config.seed),
            pairs=PairDataset(self.reader, transform=transform, seed=config.seed))
        self.steps_left = stop_after
        self.seconds: dict[str, float] = {}
        self.finished: list[str] = []
        self.last_saved = "none yet"

    def copy_predictor(self) -> HandPredictor:
        """A copy of the predictor (the control's start), with the same precision and, when
        the config asks for it, its own compiled encoder."""
        compiled = getattr(self.predictor.encoder, "_compiled_call_impl", None)
        self.predictor.encoder._compiled_call_impl = None  # not deep-copied: compiled anew
        try:
            control = copy.deepcopy(self.predictor)
        finally:
            self.predictor.encoder._compiled_call_impl = compiled
        if self.config.compile:
            control.encoder.compile()
        return control

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
            self.control = self.copy_predictor()
            self.control.load_state_dict(state["control_predictor"])
        self.finished = list(state["finished"])
        self.last_saved = f"{state['stage']}, step {int(state['step'])}"
        return state["stage"], int(state["step"]), state["optimizer"]

    def save(self, stage: str, step: int, optimizer) -> None:
        if self.ranks.main:
            self.folder.save_checkpoint(self.state(stage, step, optimizer))
        self.last_saved = f"{stage}, step {step}"

    def _last_checkpoint(self) -> str:
        """Where the last good checkpoint of this run is, in words (for TrainingDiverged)."""
        if self.last_saved == "none yet":
            return "no checkpoint was written yet"
        return f"the last good checkpoint ({self.last_saved}) is {self.folder.root / LATEST}"

    def save_weights(self, name: str, predictor: HandPredictor, *, aligner: bool) -> None:
        if not self.ranks.main:
            return
        save_checkpoint(self.folder.path(name), {
            "config": self.config.to_dict(), "predictor": predictor.state_dict(),
            "aligner": self.aligner.state_dict() if aligner else None,
        })

    # -- the stage loop -----------------------------------------------------------------------

    def run_stage(self, stage: str, start: int, optimizer_state: dict | None) -> bool:
        """Run ``stage`` from step ``start``; False if stopped early (``stop_after``)."""
        steps = self.config.steps(stage)
        parameters = stage_parameters(stage, self.predictor, self.aligner, self.control)
        check_on_device(stage_modules(stage, self.predictor, self.aligner, self.control)
                        + [self.predictor], self.device)
        optimizer = adam(parameters, self.config, self.device)
        if optimizer_state is not None:
            optimizer.load_state_dict(optimizer_state)
        model = self.stage_steps.model(stage, self.predictor, self.aligner, self.control)
        step_fn = self.stage_steps.function(stage, optimizer, start, steps, model, self.predictor)
        curves = Curves(self.folder, stage, start) if self.ranks.main else None
        bar = progress_bar(total=steps, initial=start, desc=stage, show=self.progress,
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
                    raise TrainingDiverged(f"{error}; the weights were not updated, and "
                                           f"{self._last_checkpoint()}") from None
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
        distributed.broadcast_buffers(stage_modules(stage, self.predictor, self.aligner,
                                                    self.control), self.ranks)
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


def train(config: TrainConfig, out: str | Path, *, resume: bool = False, force: bool = False,
          progress: bool = True, stop_after: int | None = None,
          on_step: Callable[[str, int, int], None] | None = None,
          log: Callable[[str], None] | None = None) -> TrainResult:
    """Run the stages of ``config`` into the folder ``out`` (see the module docstring).

    Args:
        config: the run's choices (saved as ``out/config.json``).
        out: the run folder (created if missing).
        resume: continue the unfinished run in ``out`` (its config must be ``config``).
        force: start the run in ``out`` over; its files are replaced at the new run's first
            checkpoint (files a run did not write stay).
        progress: progress bars (tqdm) with the running loss terms.
        stop_after: stop (with a checkpoint) after this many steps in total; for tests and
            notebooks that show resuming.
        on_step: called as ``on_step(stage, steps_done, steps)`` after every step (e.g. a
            widget's progress bar).
        log: called with each line the run says about its folder (also kept in
            ``TrainResult.notes``); None: not shown.

    Raises:
        ValueError: ``resume`` with ``force``, a negative ``stop_after``, or no stage with steps
            (before any folder is created or changed).
        RunFolderError: ``out`` holds a run and neither ``resume`` nor ``force`` was given,
            there is nothing to resume (or the run is finished), or another process is writing
            into ``out``.
        handkit.train.TrainingDiverged: a loss term became NaN or infinite (the last good
            checkpoint is kept).
    """
    check_request(config, resume=resume, force=force, stop_after=stop_after)
    folder = Path(out)
    if resume and not folder.is_dir():
        raise RunFolderError(f"nothing to resume in {folder}: no such folder")
    run = _Run(config, folder, progress=progress, stop_after=stop_after, on_step=on_step)
    notes: list[str] = []

    def say(line: str) -> None:
        notes.append(line)
        if log is not None:
            log(line)

    try:
        with contextlib.ExitStack() as held:
            result = _train(run, folder, held, resume=resume, force=force, log=say)
        result.notes = notes
        return result
    finally:
        distributed.cleanup(run.ranks)


def print_note(line: str) -> None:
    """A :func:`train` ``log`` for the command line: the line on stderr."""
    print(f"handkit train: {line}", file=sys.stderr, flush=True)


def _train(run: _Run, folder: Path, held: contextlib.ExitStack, *, resume: bool, force: bool,
           log: Callable[[str], None]) -> TrainResult:
    config = run.config
    run.folder, state = open_folder(run.ranks, folder, run.config, held, resume=resume,
                                    force=force, log=log)
    current, start, optimizer_state = (None, 0, None)
    if state is not None:
        current, start, optimizer_state = run.restore(state)
    finished = True
    for stage in ORDER:
        if config.steps(stage) == 0 or stage in run.finished:
            continue
        if stage == "control" and run.control is None:
            run.control = run.copy_predictor()
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
               "precision": describe_precision(run.config.precision, run.device),
               "compiled_encoder": run.config.compile,
               "processes": run.ranks.world_size, "parameter_spread_across_processes": spread,
               "gradient_averaging": distributed.describe(run.ranks),
               "torch": torch.__version__}
    if run.ranks.main:
        write_json(run.folder.path("run.json"), summary)
    return TrainResult(folder=folder, predictor=run.predictor, aligner=run.aligner,
                       seconds=run.seconds, finished=finished)
