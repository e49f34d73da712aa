"""The parts a training run is built from: the data reader and input transform, fresh modules
with the seed's initial weights, the learning rate and optimiser, and each step's batch.

Split from :mod:`handkit.train.runner` (which runs the stages) so that notebooks, the evaluation
and :func:`handkit.train.folder.load_run` can build the same things without the stage loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler

from handkit.data.datasets import network_input, open_dataset
from handkit.data.frames import VideoFrames
from handkit.models import HandPredictor, PoseAligner
from handkit.train.config import TrainConfig


class StepBatches(Sampler):
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
    aligner = PoseAligner(mano_root=config.mano_root, anchored=config.aligner_anchored)
    return predictor, aligner


def learning_rate(config: TrainConfig, step: int, steps: int) -> float:
    """The lr of ``step`` of a stage of ``steps`` steps (constant, or cosine down to 0)."""
    if config.lr_schedule == "constant":
        return config.lr
    return 0.5 * config.lr * (1.0 + math.cos(math.pi * step / max(steps, 1)))


def adam(parameters, config: TrainConfig, device: torch.device) -> torch.optim.Adam:
    # the fused kernel: the same update as the default, several times faster on CPU (bench model)
    return torch.optim.Adam(parameters, lr=config.lr, fused=device.type in ("cpu", "cuda"))


def group_rows(groups: list[np.ndarray], device: torch.device
                ) -> list[tuple[torch.Tensor, np.ndarray]]:
    """(rows of each group in this process's loaded batch, the group's global positions)."""
    out, offset = [], 0
    for positions in groups:
        out.append((torch.arange(offset, offset + len(positions), device=device), positions))
        offset += len(positions)
    return out


def check_on_device(modules: list[torch.nn.Module], device: torch.device) -> None:
    """RuntimeError naming the first parameter or buffer of ``modules`` not on ``device``
    (the run decides its device once; a stage must never find a module elsewhere)."""
    for module in modules:
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            if tensor.device != device:
                raise RuntimeError(f"{type(module).__name__}.{name} is on {tensor.device}, "
                                   f"but this run trains on {device}")
