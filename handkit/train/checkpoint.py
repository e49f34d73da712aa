"""Checkpoints of a training run: written atomically, read without unpickling code.

A checkpoint is a plain dict of tensors, numbers and strings: the weights of both modules, the
optimizer of the stage in progress, where the run is (stage and step) and its config. It is
written to a temporary file in the run folder and renamed over the old one, so a crash never
leaves half a checkpoint, and read with ``torch.load(weights_only=True)``, which refuses
anything but tensors and plain containers (nothing in the file can run code).

Everything random in training is a function of (seed, stage, step) (see :mod:`handkit.train`),
so weights, optimizer state and position are all a resumed run needs to continue exactly.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

FORMAT = "handkit-training-checkpoint"
VERSION = 1
#: File names in a run folder.
LATEST = "checkpoint.pt"
FINAL = "final.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, **state}
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                     delete=False) as handle:
        try:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            handle.close()
            os.unlink(handle.name)
            raise
    os.replace(handle.name, path)


def load_checkpoint(path: Path, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a handkit training checkpoint (or not of this version).
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
    return state
