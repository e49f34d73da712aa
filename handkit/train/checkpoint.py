"""Checkpoints of a training run: written atomically, read without unpickling code.

A checkpoint is a plain dict of tensors, numbers and strings: the weights of both modules, the
optimizer of the stage in progress, where the run is (stage and step) and its config. It is
written to a temporary file in the run folder and renamed over the old one, so a crash never
leaves half a checkpoint, and read with ``torch.load(weights_only=True)``, which refuses
anything but tensors and plain containers (nothing in the file can run code). The temporary is
named ``.handkit-tmp-<name>.XXXXXXXX.tmp`` (see :mod:`handkit.files`), so the next run into the
folder can remove one that a killed process left. ``previous=`` keeps the checkpoint being
replaced under another name (``checkpoint.prev.pt``): a damaged latest one can fall back to it.

Two kinds of file share the format, told apart by their keys (:func:`load_checkpoint`'s
``kind``): a checkpoint to resume (``checkpoint.pt``: stage, step, finished, optimizer, ...)
and a stage's weights (``stage1.pt``, ``control.pt``, ``final.pt``: config, predictor, aligner).

Everything random in training is a function of (seed, stage, step) (see :mod:`handkit.train`),
so weights, optimizer state and position are all a resumed run needs to continue exactly.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from handkit.files import temporary_name

FORMAT = "handkit-training-checkpoint"
VERSION = 1
#: File names in a run folder.
LATEST = "checkpoint.pt"
FINAL = "final.pt"
PREVIOUS = "checkpoint.prev.pt"

#: The keys each kind of file holds (besides format and version), and the kind in words.
KINDS = {
    "resume": ({"config", "stage", "step", "finished", "predictor", "aligner",
                "control_predictor", "optimizer"}, "a checkpoint to resume (checkpoint.pt)"),
    "weights": ({"config", "predictor", "aligner"},
                "a stage's weights (stage1.pt, control.pt or final.pt)"),
    "final": ({"config", "predictor", "aligner"}, "a finished run's weights (final.pt)"),
    None: (set(), "a handkit training checkpoint"),
}


def save_checkpoint(path: Path, state: dict[str, Any], *, previous: Path | None = None) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename); with
    ``previous``, the file at ``path`` is first renamed to ``previous`` (for a moment between
    the two renames only ``previous`` exists: a reader falls back to it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, **state}
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=temporary_name(path.name),
                                     suffix=".tmp", delete=False) as handle:
        try:
            buffer = io.BytesIO()  # through memory: torch.save into a file on a full disk
            torch.save(payload, buffer)  # says only "enforce fail ... unexpected pos"
            handle.write(buffer.getbuffer())
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            handle.close()
            os.unlink(handle.name)
            raise
    if previous is not None and path.is_file():
        os.replace(path, previous)
    os.replace(handle.name, path)


def load_checkpoint(path: Path, *, map_location: str | torch.device = "cpu",
                    kind: str | None = None) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Args:
        path: the file.
        map_location: where its tensors go.
        kind: what the file must be (see :data:`KINDS`): "resume" (``checkpoint.pt``),
            "weights" (a stage's weights), "final" (weights with the aligner), or None (any).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a handkit training checkpoint (or not of this version), or
            not of the ``kind`` asked for (e.g. a ``final.pt`` copied over ``checkpoint.pt``).
    """
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # a truncated file, or one holding objects: name it
        raise ValueError(f"{path}: cannot be read as a handkit checkpoint ({error})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path}: not a handkit training checkpoint")
    if state.get("version") != VERSION:
        raise ValueError(f"{path}: checkpoint version {state.get('version')}, this handkit reads "
                         f"version {VERSION}")
    _check_kind(path, state, kind)
    return state


def _check_kind(path: Path, state: dict[str, Any], kind: str | None) -> None:
    """Raise ValueError naming what ``path`` should be and what it is, if not of ``kind``."""
    keys, expected = KINDS[kind]
    found = describe(state)
    wrong = (keys - set(state)
             or (kind == "final" and not isinstance(state.get("aligner"), dict)))
    if wrong:
        raise ValueError(f"{path}: expected {expected}, found {found}")


def describe(state: dict[str, Any]) -> str:
    """What kind of file a loaded checkpoint is, in words."""
    if KINDS["resume"][0] <= set(state):
        return KINDS["resume"][1]
    if KINDS["weights"][0] <= set(state):
        return (KINDS["final"][1] if isinstance(state["aligner"], dict)
                else "a predictor's weights without the aligner (stage1.pt or control.pt)")
    return f"a file with the keys {sorted(set(state) - {'format', 'version'})}"
