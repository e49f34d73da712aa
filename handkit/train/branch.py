"""A run that starts where another run's stage 1 (and control) ended: :func:`branch`.

Ablations of stages 2 and 3 (the aligner's training) share stage 1: training it once per seed
and branching each ablation from it saves most of a run's time. A branched run is the run its
config describes, not an approximation of it: stage 1 and the control read only fields the two
configs share, the aligner is untouched until stage 2 (its starting weights come from the seed,
:func:`handkit.train.parts.build_modules`), and stage 2 and 3 draw their batches and rolls from
(seed, stage, step) alone. So ``branch(source, config, out)`` followed by
``train(config, out, resume=True)`` ends with the weights ``train(config, out)`` gives, bit for
bit on the same machine and threads (tested).
"""

from __future__ import annotations

import shutil
from dataclasses import fields
from pathlib import Path

from handkit.errors import InputError
from handkit.losses import LossConfig
from handkit.train.checkpoint import LATEST, load_checkpoint, save_checkpoint
from handkit.train.config import TrainConfig, run_config
from handkit.train.folder import write_json
from handkit.train.parts import build_modules

#: TrainConfig fields read only by stages 2 and 3 (and ``threads``, which resume ignores too).
LATER_FIELDS = ("stage2_steps", "stage3_steps", "stage2_backward_target", "backward_detach",
                "stage2_roll", "aligner_anchored", "p_unlabelled", "max_gap",
                "num_near_labelled", "threads")
#: LossConfig fields read only by stages 2 and 3 (L_pred's lambdas shape stage 1).
LATER_LOSS_FIELDS = ("lambda_align",)
#: Written into a branched run's folder: where its stage 1 came from.
BRANCH_FILE = "branch.json"


def shared_differences(source: TrainConfig, config: TrainConfig) -> list[str]:
    """Names of the fields stage 1 or the control reads in which the two configs differ
    (``control_steps`` may also be 0 in ``config``: a branch without the control)."""
    changed = [f.name for f in fields(TrainConfig)
               if f.name not in LATER_FIELDS + ("loss", "control_steps")
               and getattr(source, f.name) != getattr(config, f.name)]
    changed += [f"loss.{f.name}" for f in fields(LossConfig)
                if f.name not in LATER_LOSS_FIELDS
                and getattr(source.loss, f.name) != getattr(config.loss, f.name)]
    if config.control_steps not in (0, source.control_steps):
        changed.append("control_steps")
    return changed


def branch(source: str | Path, config: TrainConfig, out: str | Path) -> Path:
    """Make ``out`` a run of ``config`` that has finished stage 1 (and the control) with the
    weights of the run in ``source``; ``train(config, out, resume=True)`` trains the rest.

    Args:
        source: a run folder whose stage 1 (and control, if ``config`` has one) is done
            (``stage1.pt``, ``control.pt``).
        config: the new run's config: the same as ``source``'s in everything stage 1 and the
            control read (:func:`shared_differences`).
        out: a folder without a run (created if missing).
    Returns:
        ``out``.
    Raises:
        handkit.errors.InputError: ``config`` differs from the source's in a field stage 1
            reads (each named), or ``out`` already holds a run; nothing is written then.
        FileNotFoundError: ``source`` is not a run folder or has not finished stage 1.
    """
    source, out = Path(source), Path(out)
    source_config = run_config(source)
    changed = shared_differences(source_config, config)
    if changed:
        raise InputError(f"cannot branch from {source}: the new config differs in {changed}, "
                         f"which stage 1 or the control read; train it from the start")
    if config.stage1_steps == 0:
        raise InputError("cannot branch a config without stage 1 (stage1_steps is 0)")
    if (out / "config.json").exists() or (out / LATEST).exists():
        raise InputError(f"{out} already holds a run; choose another folder")
    finished = ["stage1"] + (["control"] if config.control_steps else [])
    weights = {stage: source / f"{stage}.pt" for stage in finished}
    missing = [str(path) for path in weights.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"cannot branch from {source}: missing {missing} (its stage 1 "
                                f"and control must be finished)")
    stage1 = load_checkpoint(weights["stage1"], kind="weights")
    _, aligner = build_modules(config)  # the seed's starting aligner, as train() builds it
    out.mkdir(parents=True, exist_ok=True)
    (out / "curves").mkdir(exist_ok=True)
    for stage, path in weights.items():
        shutil.copyfile(path, out / path.name)
        curve = source / "curves" / f"{stage}.csv"
        if curve.is_file():
            shutil.copyfile(curve, out / "curves" / curve.name)
    write_json(out / BRANCH_FILE, {"source": str(source), "stages_from_source": finished,
                                   "source_config": source_config.to_dict()})
    write_json(out / "config.json", config.to_dict())
    save_checkpoint(out / LATEST, {
        "config": config.to_dict(), "stage": finished[-1], "step": config.steps(finished[-1]),
        "finished": finished, "predictor": stage1["predictor"],
        "aligner": aligner.state_dict(), "control_predictor": None, "optimizer": None})
    return out
