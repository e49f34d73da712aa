"""Trained weights as a small, safe file: half precision in a compressed ``.npz``, no pickle.

:func:`export_weights` writes the Hand Predictor and the Pose Aligner of a finished run as
float16 arrays (the MANO model's arrays are left out: they come from the MANO files or the
embedded hand) plus a JSON description (the training config, and whatever ``extra`` holds,
e.g. how the data were generated and the run's Table I rows). :func:`load_weights` reads it
with ``numpy.load(allow_pickle=False)``: the file can hold nothing but arrays, so nothing in it
can run. Half precision is plenty for inference (about 0.1 mm on the joints, measured by
:func:`export_weights`' caller); a ResNet-18 in float32 would be twice the size.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handkit.models import HandPredictor, PoseAligner
from handkit.train.config import TrainConfig
from handkit.train.runner import build_modules, load_run

FORMAT = "handkit-weights"
VERSION = 1
#: Module prefixes stored in the file.
MODULES = ("predictor", "aligner")
#: State-dict entries not stored: the MANO model's arrays (rebuilt from the model files).
SKIPPED_PREFIX = "mano."


@dataclass
class ExportedModel:
    """What :func:`load_weights` returns: the modules in eval mode and the file's description."""

    config: TrainConfig
    predictor: HandPredictor
    aligner: PoseAligner
    info: dict[str, Any]


def _arrays(module: torch.nn.Module, prefix: str) -> dict[str, np.ndarray]:
    out = {}
    for name, value in module.state_dict().items():
        if name.startswith(SKIPPED_PREFIX) or ".mano." in name:
            continue
        array = value.detach().cpu().numpy()
        out[f"{prefix}/{name}"] = array.astype(np.float16) if value.is_floating_point() else array
    return out


def export_weights(run_folder: str | Path, out: str | Path, *,
                   extra: dict[str, Any] | None = None) -> Path:
    """Write the run's final predictor and aligner to ``out`` (float16, compressed, atomic)."""
    run = load_run(run_folder)
    arrays = {**_arrays(run.predictor, "predictor"), **_arrays(run.aligner, "aligner")}
    info = {"format": FORMAT, "version": VERSION, "config": run.config.to_dict(),
            **(extra or {})}
    arrays["info"] = np.frombuffer(json.dumps(info).encode(), dtype=np.uint8)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".npz", delete=False) as handle:
        np.savez_compressed(handle, **arrays)
    os.chmod(handle.name, 0o644)  # a shareable file, not the temporary file's 0600
    os.replace(handle.name, out)
    return out


def read_info(path: str | Path) -> dict[str, Any]:
    """The description a weights file carries (training config, data setting, the run's Table I
    rows), without reading its weights.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not a handkit weights file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "info" not in archive.files:
                raise ValueError(f"{path}: not a handkit weights file (no 'info')")
            raw = archive["info"]
    except OSError as error:
        raise ValueError(f"{path}: not a readable .npz of arrays ({error})") from None
    info = json.loads(raw.tobytes().decode())
    if info.get("format") != FORMAT:
        raise ValueError(f"{path}: a {info.get('format')} file, not {FORMAT}")
    return info


def load_weights(path: str | Path, *, device: str | torch.device = "cpu",
                 mano_root: str | None = None) -> ExportedModel:
    """The modules of a file written by :func:`export_weights`, float32, eval mode.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not a handkit weights file, or its arrays do not fit the modules.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable .npz of arrays ({error})") from None
    if "info" not in arrays:
        raise ValueError(f"{path}: not a handkit weights file (no 'info')")
    info = json.loads(arrays.pop("info").tobytes().decode())
    if info.get("format") != FORMAT or info.get("version") != VERSION:
        raise ValueError(f"{path}: a {info.get('format')} file of version {info.get('version')}; "
                         f"this handkit reads {FORMAT} version {VERSION}")
    values = dict(info["config"], mano_root=mano_root)
    config = TrainConfig.from_dict(values)
    predictor, aligner = build_modules(config)
    for prefix, module in zip(MODULES, (predictor, aligner), strict=True):
        _load_into(module, prefix, arrays, path)
    return ExportedModel(config=config, predictor=predictor.eval().to(device),
                         aligner=aligner.eval().to(device), info=info)


def _load_into(module: torch.nn.Module, prefix: str, arrays: dict[str, np.ndarray],
               path: Path) -> None:
    state = module.state_dict()
    expected = {k for k in state if not (k.startswith(SKIPPED_PREFIX) or ".mano." in k)}
    stored = {k.split("/", 1)[1] for k in arrays if k.startswith(prefix + "/")}
    if stored != expected:
        missing, unknown = sorted(expected - stored)[:3], sorted(stored - expected)[:3]
        raise ValueError(f"{path}: {prefix} weights do not fit the module (missing {missing}, "
                         f"unexpected {unknown})")
    for name in expected:
        value = torch.from_numpy(arrays[f"{prefix}/{name}"].copy())
        if value.shape != state[name].shape:
            raise ValueError(f"{path}: {prefix}/{name} has shape {tuple(value.shape)}, the "
                             f"module expects {tuple(state[name].shape)}")
        state[name] = value.to(state[name].dtype)
    module.load_state_dict(state)


def load_trained(path: str | Path, *, device: str | torch.device = "cpu",
                 mano_root: str | None = None) -> ExportedModel:
    """A trained predictor and aligner from a weights file (:func:`load_weights`) or a finished
    run folder (:func:`handkit.train.load_run`; its own config, ``mano_root`` included)."""
    path = Path(path)
    if path.is_dir():
        run = load_run(path, device=device)
        return ExportedModel(config=run.config, predictor=run.predictor, aligner=run.aligner,
                             info={"made_by": f"the run folder {path}"})
    return load_weights(path, device=device, mano_root=mano_root)
