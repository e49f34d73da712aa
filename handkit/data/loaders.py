"""``torch.utils.data`` datasets and loaders over any reader, for the training loop and evaluation.

* :class:`FrameDataset` / :class:`PairDataset`: ``Dataset`` s over a reader
  (:class:`~handkit.data.frames.VideoFrames`: the synthetic set, HO-3D, InterHand2.6M), indexed by
  the items of the stage samplers of :mod:`handkit.data.pairs`, yielding the
  :class:`~handkit.data.batch.FrameBatch` / :class:`~handkit.data.batch.PairBatch` of one item;
* :func:`data_loader` wraps them in a ``DataLoader`` (any ``num_workers``: readers pickle
  cheaply);
* :class:`handkit.data.crop.CropTransform`: the per-item crop / roll hook (a :data:`Transform`).

Example (stage 1 on the shipped set, 64 items per epoch)::

    train = VideoDataset(default_dataset_path(), "train")
    sampler = LabelledFrameSampler(train.labelled_masks(), num_samples=64, seed=0)
    dataset = FrameDataset(train, transform=CropTransform(out_size=64, max_rotation_rad=pi / 8))
    loader = data_loader(dataset, sampler, batch_size=32, num_workers=2)
    for epoch in range(num_epochs):
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)
        for batch in loader:
            batch = batch.to(device)  # FrameBatch: batch.images (32, 3, 64, 64), ...

Letters: B batch, S image side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from torch.utils.data import DataLoader, Dataset, Sampler

from handkit.data.batch import FrameBatch, PairBatch, record_batch
from handkit.data.frames import VideoFrames
from handkit.data.record import FrameRecord, without_ground_truth

#: A per-item transform: (record, generator) -> record, e.g. :class:`CropTransform`.
Transform = Callable[[FrameRecord, np.random.Generator], FrameRecord]


class _ReaderDataset(Dataset):
    """Shared by the frame and pair datasets: the reader, the GT policy, the transform, seeds."""

    def __init__(
        self,
        frames: VideoFrames,
        *,
        hide_unlabelled: bool = True,
        transform: Transform | None = None,
        seed: int = 0,
    ) -> None:
        if not isinstance(frames, VideoFrames):
            raise ValueError(f"frames must be a VideoFrames reader, got {type(frames).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.frames = frames
        self.hide_unlabelled = bool(hide_unlabelled)
        self.transform = transform
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch of the transforms' random draws (workers see it when they start,
        i.e. at each epoch unless the DataLoader keeps persistent workers)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be an integer >= 0, got {epoch!r}")
        self.epoch = epoch

    def _item(self, index: int, key: Sequence[int]) -> FrameBatch:
        """One frame as a batch of one: GT hidden if asked, then the transform drawing from a
        generator seeded by (seed, epoch, *key)."""
        record = self.frames[index]
        hide = self.hide_unlabelled and not record.labelled
        if hide:
            record = without_ground_truth(record)
        if self.transform is not None:
            rng = np.random.default_rng([self.seed, self.epoch, *map(int, key)])
            record = self.transform(record, rng)
            if hide:  # whatever the transform did (e.g. rolling a zero pose), nothing leaks
                record = without_ground_truth(record)
        video = int(self.frames.locate([index])[0][0])
        return record_batch(record, video)


class FrameDataset(_ReaderDataset):
    """Frames of a reader as :class:`FrameBatch` items of one frame (stage 1, evaluation).

    Items are dataset indices (``len(dataset)`` of them, for a sequential evaluation loader)
    or the ``(video, frame)`` items of :class:`~handkit.data.pairs.LabelledFrameSampler` built on
    ``frames.labelled_masks()``.

    Args:
        frames: a reader (:class:`~handkit.data.frames.VideoFrames`).
        hide_unlabelled: True (training, the default): frames outside S_V carry no ground truth;
            False (evaluation): every annotated frame's ground truth.
        transform: optional per-item hook ``(record, generator) -> record`` (e.g.
            :class:`handkit.data.crop.CropTransform`), run after the ground truth is hidden; the
            generator is seeded by (seed, epoch, video, frame): items do not depend on workers.
        seed: seed of the transforms' draws.
    """

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, item: int | tuple[int, int]) -> FrameBatch:
        if isinstance(item, (tuple, list)):
            if len(item) != 2:
                raise ValueError(f"frame items are (video, frame), got {item!r}")
            index = self.frames.index_of(int(item[0]), int(item[1]))
        else:
            index = int(item)
            if not 0 <= index < len(self):
                raise IndexError(f"frame index {item} out of range for {len(self)} frames")
        video, frame = self.frames.locate([index])
        return self._item(index, (int(video[0]), int(frame[0])))

    collate = staticmethod(FrameBatch.collate)


class PairDataset(_ReaderDataset):
    """Pairs (I_s, I_u) as :class:`PairBatch` items of one pair (stages 2 and 3).

    Items are the ``(video, s, u, u_is_labelled)`` of :class:`~handkit.data.pairs.PairSampler`
    or :class:`~handkit.data.pairs.LabelledPairSampler` built on ``frames.labelled_masks()``; an
    item whose s is not labelled, or whose ``u_is_labelled`` disagrees with the reader, raises
    ``ValueError`` (a sampler built from other masks). Both frames of a pair get the same
    transform draws (generators seeded by (seed, epoch, video, s, u)): one roll for both, as
    one camera films the video. Arguments as for :class:`FrameDataset`.
    """

    def __getitem__(self, item: tuple[int, int, int, bool]) -> PairBatch:
        if not isinstance(item, (tuple, list)) or len(item) != 4:
            raise ValueError(f"pair items are (video, s, u, u_is_labelled), got {item!r}")
        video, s, u, u_is_labelled = (int(item[0]), int(item[1]), int(item[2]), bool(item[3]))
        s_index, u_index = self.frames.index_of(video, [s, u]).tolist()
        if not self.frames.labelled_mask[s_index]:
            raise ValueError(f"pair {item}: frame s = {s} of video {video} is not labelled")
        if bool(self.frames.labelled_mask[u_index]) != u_is_labelled:
            raise ValueError(
                f"pair {item}: the sampler says u_is_labelled={u_is_labelled}, the reader says "
                f"{not u_is_labelled}; build the sampler from this reader's labelled_masks()"
            )
        key = (video, s, u)
        return PairBatch(self._item(s_index, key), self._item(u_index, key))

    collate = staticmethod(PairBatch.collate)


def data_loader(
    dataset: FrameDataset | PairDataset,
    sampler: Sampler | None = None,
    *,
    batch_size: int,
    num_workers: int = 0,
    pin_memory: bool = False,
    drop_last: bool = False,
) -> DataLoader:
    """A ``DataLoader`` yielding :class:`FrameBatch` or :class:`PairBatch` es.

    Args:
        dataset: a :class:`FrameDataset` or :class:`PairDataset`.
        sampler: a stage sampler of :mod:`handkit.data.pairs` (needed for pairs); None walks a
            :class:`FrameDataset` in order (evaluation).
        batch_size, num_workers, pin_memory, drop_last: as for ``DataLoader``.
    """
    if sampler is None and not isinstance(dataset, FrameDataset):
        raise ValueError("a PairDataset needs a pair sampler (PairSampler, LabelledPairSampler)")
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=dataset.collate,
        pin_memory=pin_memory,
        drop_last=drop_last,
    )
