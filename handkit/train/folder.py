"""A training run's folder: one writer at a time, a forced run that replaces the old one only
when it has something to replace it with, stale temporaries removed, curves written atomically.

* **Lock.** :func:`train` holds the folder's lock (:func:`handkit.files.folder_lock`, the hidden
  file ``.handkit.lock``) from its first look at the folder to its end (under torchrun: rank 0).
  A second ``train`` or ``evaluate`` into the same folder stops at once with one line naming the
  folder and the holder (pid, host, command, since when). The lock ends with the holder's
  process, however it ends.
* **--force.** A forced run over an earlier run writes into the hidden staging folder
  :data:`STAGING` inside the run folder. At its first checkpoint (``checkpoint_every`` steps,
  the end of a stage, or ``stop_after``) every file the old run made (:func:`run_files`: config,
  checkpoints, stage weights, curves, ``run.json``, ``evaluation-*.json/csv``) is removed and
  the staged files move in; from then on the run writes into the folder itself. A forced run
  that fails or is killed before its first checkpoint leaves the old run as it was. Files the
  kit did not write (notes, figures) stay.
* **Temporaries.** Each run first removes what an interrupted one left: the kit's temporaries
  (names starting with ``.handkit-tmp-``, e.g. a half-written checkpoint, or a staging folder),
  and says so in one line.
* **Checkpoints.** ``checkpoint.pt`` is the latest; the one it replaced is kept as
  ``checkpoint.prev.pt``. ``resume`` reads the latest, and if it is missing or damaged falls
  back to the previous one, saying which it used.
* **Refusals** (:func:`check_request`, :func:`prepare`), each one line, before the folder is
  touched: ``resume`` with ``force``, a negative ``stop_after``, a config whose stages all have
  0 steps, ``resume`` of a finished run (it has ``final.pt``) or of a run with another config.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from handkit.files import (
    TEMP_PREFIX,
    folder_lock,
    remove_stale_temporaries,
    removed_note,
    write_text_atomic,
)
from handkit.models import HandPredictor, PoseAligner
from handkit.train import distributed
from handkit.train.checkpoint import FINAL, LATEST, PREVIOUS, load_checkpoint, save_checkpoint
from handkit.train.config import TrainConfig, same_run
from handkit.train.parts import build_modules

#: Stages in the order they run; "control" starts from stage 1's weights.
ORDER = ("stage1", "control", "stage2", "stage3")
#: Files a run writes (``force`` removes these, :data:`RUN_PATTERNS` and nothing else).
RUN_FILES = ("config.json", LATEST, PREVIOUS, "stage1.pt", "control.pt", FINAL, "run.json")
#: Patterns of the other files written into a run folder: loss curves, ``evaluate``'s tables.
RUN_PATTERNS = ("curves/*.csv", "evaluation-*.json", "evaluation-*.csv")
#: Where a forced run writes until its first checkpoint (a kit temporary: see the docstring).
STAGING = f"{TEMP_PREFIX}forced-run"


class RunFolderError(RuntimeError):
    """The run folder holds a run that the call would overwrite, none to resume, or is in use."""


def check_request(config: TrainConfig, *, resume: bool, force: bool,
                  stop_after: int | None) -> None:
    """Refuse a contradictory or meaningless call of :func:`handkit.train.train` (ValueError)."""
    if resume and force:
        raise ValueError("resume and force contradict each other: --resume continues the run in "
                         "the folder, --force starts it over; give one of them")
    if stop_after is not None and stop_after < 0:
        raise ValueError(f"stop_after (--stop-after) must be 0 or more steps, got {stop_after}")
    if not any(config.steps(stage) for stage in ORDER):
        names = ", ".join(f"{stage}_steps" for stage in ORDER)
        raise ValueError(f"nothing to train: {names} are all 0; give at least one stage steps")


def run_files(folder: Path) -> list[Path]:
    """Every file in ``folder`` that a run (or ``evaluate``) wrote: :data:`RUN_FILES` and
    :data:`RUN_PATTERNS`; ``final.pt`` first (so a half-done removal no longer looks finished)."""
    found = [folder / name for name in (FINAL, *RUN_FILES) if (folder / name).is_file()]
    for pattern in RUN_PATTERNS:
        found += sorted(path for path in folder.glob(pattern) if path.is_file())
    return list(dict.fromkeys(found))


@contextlib.contextmanager
def locked(folder: Path, *, what: str = "handkit train") -> Iterator[Path]:
    """Hold the run folder's lock (:func:`handkit.files.folder_lock`; RunFolderError if busy)."""
    with folder_lock(folder, what=what, error=RunFolderError) as path:
        yield path


def evaluation_lock(folder: Path) -> contextlib.AbstractContextManager:
    """The run folder's lock for ``evaluate`` (none for a missing folder: evaluating it fails
    with its own message, and locking must not create it)."""
    return locked(folder, what="handkit evaluate") if folder.is_dir() else contextlib.nullcontext()


class RunFolder:
    """Where a run writes: the folder itself, or its staging folder until a forced run's first
    checkpoint (:meth:`checkpoint_written` then swaps the staged files in)."""

    def __init__(self, root: Path, *, staged: bool = False) -> None:
        self.root = root
        self.dir = root / STAGING if staged else root
        if staged:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir.mkdir(parents=True)

    @property
    def staged(self) -> bool:
        return self.dir != self.root

    def path(self, name: str) -> Path:
        """Where the run writes ``name`` now."""
        return self.dir / name

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Write ``checkpoint.pt`` (keeping the one it replaces as ``checkpoint.prev.pt``), and
        swap a forced run's staged files in."""
        save_checkpoint(self.path(LATEST), state, previous=self.path(PREVIOUS))
        if self.staged:
            self._swap_in()

    def _swap_in(self) -> None:
        """Remove the old run's files, move the staged ones in (checkpoint.pt last)."""
        for path in run_files(self.root):
            if path.name != LATEST:  # replaced by a rename below, never missing
                path.unlink()
        staged = sorted((p for p in self.dir.rglob("*") if p.is_file()),
                        key=lambda p: (p.name == LATEST, str(p)))
        for path in staged:
            target = self.root / path.relative_to(self.dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        shutil.rmtree(self.dir)
        self.dir = self.root

    def discard_staging(self) -> None:
        """A forced run that ends before its first checkpoint: drop what it staged."""
        if self.staged:
            shutil.rmtree(self.dir, ignore_errors=True)


def prepare(folder: Path, config: TrainConfig, *, resume: bool, force: bool,
            log: Callable[[str], None]) -> tuple[RunFolder, dict[str, Any] | None]:
    """Under the lock: remove stale temporaries, check what ``folder`` holds against what was
    asked, and return where to write and the checkpoint to resume (None for a new run)."""
    note = removed_note(remove_stale_temporaries(folder, folder / "curves"), folder)
    if note:
        log(note)
    final, latest = folder / FINAL, folder / LATEST
    if resume:
        if final.is_file():
            raise RunFolderError(f"{folder} holds a finished run ({FINAL}): nothing to resume; "
                                 f"evaluate it, or --force to train it again")
        return RunFolder(folder), resume_state(folder, config, log=log)
    if force:
        return RunFolder(folder, staged=bool(run_files(folder))), None
    if final.is_file():
        raise RunFolderError(f"{folder} already holds a finished run; choose another --out, or "
                             f"--force to overwrite it")
    if latest.is_file() or (folder / PREVIOUS).is_file():
        raise RunFolderError(f"{folder} holds an unfinished run: --resume to continue it, "
                             f"--force to start over")
    return RunFolder(folder), None


def resume_state(folder: Path, config: TrainConfig | None = None, *,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The checkpoint to resume: ``checkpoint.pt``, or ``checkpoint.prev.pt`` when the latest
    is missing or damaged (``log`` says so; the damaged file is removed, so that the next
    checkpoint does not push the good one out). Checked against ``config`` if given."""
    latest, previous = folder / LATEST, folder / PREVIOUS
    if not latest.is_file() and not previous.is_file():
        raise RunFolderError(f"nothing to resume in {folder}: no {LATEST}")
    try:
        state = load_checkpoint(latest, kind="resume")
    except (FileNotFoundError, ValueError) as error:
        if not previous.is_file():
            raise RunFolderError(f"cannot resume {folder}: {error}") from None
        try:
            state = load_checkpoint(previous, kind="resume")
        except ValueError as second:
            raise RunFolderError(f"cannot resume {folder}: {error}; and {second}") from None
        if log is not None:
            latest.unlink(missing_ok=True)
            log(f"resuming from {PREVIOUS} (stage {state['stage']}, step {state['step']}): "
                f"{error}")
    if config is not None:
        _check_same_run(folder, state, config)
    return state


def _check_same_run(folder: Path, state: dict[str, Any], config: TrainConfig) -> None:
    saved = TrainConfig.from_dict(state["config"])
    if not same_run(saved, config):
        changed = sorted(k for k, v in config.to_dict().items()
                         if saved.to_dict()[k] != v and k != "threads")
        raise RunFolderError(f"{folder} holds a run with another config (differs in "
                             f"{changed}); resume it with its own config.json")


def open_folder(ranks: distributed.Ranks, folder: Path, config: TrainConfig,
                held: contextlib.ExitStack, *, resume: bool, force: bool,
                log: Callable[[str], None]) -> tuple[RunFolder, dict[str, Any] | None]:
    """Rank 0 locks the folder (held until ``held`` closes), checks it (:func:`prepare`) and
    writes ``config.json``; the other ranks wait and hear of any error. Returns where to write
    and the checkpoint to resume (None for a new run)."""
    out, state, error = RunFolder(folder), None, None
    if ranks.main:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            held.enter_context(locked(folder))
            out, state = prepare(folder, config, resume=resume, force=force, log=log)
            held.callback(out.discard_staging)
            write_json(out.path("config.json"), config.to_dict())
        except Exception as failure:  # every rank must hear of it
            error = failure
    distributed.share_outcome(ranks, error)
    if resume and not ranks.main:
        state = resume_state(folder)
    return out, state


def write_json(path: Path, value: Any) -> None:
    """``value`` as indented JSON, atomically."""
    write_text_atomic(path, json.dumps(value, indent=2) + "\n")


def csv_text(rows: list[dict[str, Any]], names: list[str] | None = None) -> str:
    """CSV text with a header (``names``, default: the first row's keys)."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=names or (list(rows[0]) if rows else ["step"]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


class Curves:
    """``curves/<stage>.csv``: one row of loss terms every ``log_every`` steps, rewritten
    atomically (an interrupted write leaves the previous complete file)."""

    def __init__(self, folder: RunFolder, stage: str, start: int) -> None:
        self.folder, self.name = folder, f"curves/{stage}.csv"
        path = folder.path(self.name)
        kept = []
        if path.is_file() and start > 0:  # resuming: drop rows after the checkpoint
            with path.open(newline="") as handle:
                kept = [row for row in csv.DictReader(handle) if int(row["step"]) < start]
        self.rows = kept
        self._write_all()

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self._write_all()

    def _write_all(self) -> None:
        write_text_atomic(self.folder.path(self.name), csv_text(self.rows))


def write_evaluation(folder: Path, split: str, rows: list[dict[str, Any]],
                     distance_rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    """``evaluation-<split>.json`` and ``.csv`` in a run folder, atomically (``evaluate``)."""
    out = folder / f"evaluation-{split}"
    write_json(out.with_suffix(".json"), {"rows": rows, "distance_rows": distance_rows})
    write_text_atomic(out.with_suffix(".csv"), csv_text(rows))
    return out.with_suffix(".json"), out.with_suffix(".csv")


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
    final = load_checkpoint(folder / FINAL, map_location=device, kind="final")
    config = TrainConfig.from_dict(final["config"])
    predictor, aligner = build_modules(config)
    predictor.load_state_dict(final["predictor"])
    aligner.load_state_dict(final["aligner"])
    extra = {}
    for name in ("baseline", "control"):
        path = folder / ("stage1.pt" if name == "baseline" else "control.pt")
        if path.is_file():
            module = copy.deepcopy(predictor)
            weights = load_checkpoint(path, map_location=device, kind="weights")["predictor"]
            module.load_state_dict(weights)
            extra[name] = module.eval().to(device)
    return TrainedRun(config=config, predictor=predictor.eval().to(device),
                      aligner=aligner.eval().to(device), **extra)
