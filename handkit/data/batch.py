"""Batches of torch tensors for the training loop and evaluation, from any reader.

* :class:`FrameBatch`: B frames (stage 1, evaluation, scenario 1 of Sec. III-C).
* :class:`PairBatch`: B pairs (I_s, I_u) of one video each (stages 2 and 3, Eq. 10).
* :class:`FrameDataset` / :class:`PairDataset`: ``torch.utils.data.Dataset`` s over a reader
  (:class:`~handkit.data.frames.VideoFrames`: the synthetic set, HO-3D, InterHand2.6M), indexed by
  the items of the stage samplers of :mod:`handkit.data.pairs`; :func:`data_loader` wraps them
  in a ``DataLoader`` (any ``num_workers``: readers pickle cheaply).
* :class:`handkit.data.crop.CropTransform`: the per-item crop / roll hook;
  :func:`roll_frame_batch`: the same roll on a whole batch in torch (on the GPU if there is one).

**Unlabelled ground truth never reaches a loss.** By default (``hide_unlabelled=True``) a frame
outside S_V carries zeros for root, theta, beta and joints (never NaN) and ``joint_valid`` all
False, and transforms only ever see that; ``hide_unlabelled=False`` gives every annotated frame's
ground truth, for evaluation. ``FrameBatch.has_gt`` says which rows carry ground truth.

Images are float32 RGB in [0, 1], channels first, square: (B, 3, S, S). They are *not*
normalised: :class:`handkit.models.HandPredictor` normalises its input itself.

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

Letters: B batch, S image side, J = 21 joints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from handkit.data.crop import MAX_ROTATION_RAD
from handkit.data.crop_torch import roll_crop_batch
from handkit.data.frames import VideoFrames
from handkit.data.record import FrameRecord, without_ground_truth

#: A per-item transform: (record, generator) -> record, e.g. :class:`CropTransform`.
Transform = Callable[[FrameRecord, np.random.Generator], FrameRecord]

#: FrameBatch fields: trailing shape (None: images) and dtype.
_FIELDS = {
    "images": (None, torch.float32),
    "intrinsics": ((3, 3), torch.float32),
    "root": ((3,), torch.float32),
    "theta": ((48,), torch.float32),
    "beta": ((10,), torch.float32),
    "joints": ((21, 3), torch.float32),
    "joint_valid": ((21,), torch.bool),
    "labelled": ((), torch.bool),
    "video": ((), torch.int64),
    "frame": ((), torch.int64),
}


@dataclass(frozen=True)
class FrameBatch:
    """B frames as tensors (shapes and dtypes are checked).

    Attributes:
        images: (B, 3, S, S) float32 RGB in [0, 1], not normalised (the Hand Predictor does it).
        intrinsics: (B, 3, 3) float32 intrinsics of ``images``.
        root: (B, 3) float32 wrist in camera space, mm.
        theta: (B, 48) float32 absolute axis-angle pose.
        beta: (B, 10) float32 shape.
        joints: (B, 21, 3) float32 camera-space joints, mm.
        joint_valid: (B, 21) bool; all False where the row carries no ground truth.
        labelled: (B,) bool, the frame is in S_V.
        video: (B,) int64 position of the frame's video in the reader's ``video_ids``.
        frame: (B,) int64 position of the frame in its video.
    """

    images: torch.Tensor
    intrinsics: torch.Tensor
    root: torch.Tensor
    theta: torch.Tensor
    beta: torch.Tensor
    joints: torch.Tensor
    joint_valid: torch.Tensor
    labelled: torch.Tensor
    video: torch.Tensor
    frame: torch.Tensor

    def __post_init__(self) -> None:
        batch = len(self.video) if self.video.ndim == 1 else -1
        for name, (tail, dtype) in _FIELDS.items():
            value = getattr(self, name)
            size = value.shape[-1] if name == "images" and value.ndim == 4 else -1
            shape = (batch, 3, size, size) if tail is None else (batch, *tail)
            if tuple(value.shape) != shape or value.dtype != dtype or batch < 0:
                raise ValueError(
                    f"FrameBatch.{name} must be {dtype} {shape} (B from video), "
                    f"got {value.dtype} {tuple(value.shape)}"
                )

    def __len__(self) -> int:
        return len(self.video)

    @property
    def has_gt(self) -> torch.Tensor:
        """(B,) bool: the row carries ground truth (root, theta, beta; joints where valid)."""
        return self.joint_valid.any(dim=1)

    def to(self, device: torch.device | str, *, non_blocking: bool = False) -> FrameBatch:
        """The batch with every tensor on ``device``."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> FrameBatch:
        """Page-locked copies (``DataLoader(pin_memory=True)`` calls this)."""
        return self._map(torch.Tensor.pin_memory)

    def _map(self, function: Callable[[torch.Tensor], torch.Tensor]) -> FrameBatch:
        return FrameBatch(**{f.name: function(getattr(self, f.name)) for f in fields(self)})

    @staticmethod
    def collate(items: Sequence[FrameBatch]) -> FrameBatch:
        """Concatenate batches (e.g. the B = 1 items of :class:`FrameDataset`) along B."""
        if not items:
            raise ValueError("collate needs at least one batch, got none")
        sizes = sorted({tuple(item.images.shape[1:]) for item in items})
        if len(sizes) != 1:
            raise ValueError(
                f"images of one size are needed to batch them, found sizes {sizes}: give the "
                "dataset a transform=CropTransform(out_size=S)"
            )
        names = [f.name for f in fields(FrameBatch)]
        return FrameBatch(**{n: torch.cat([getattr(item, n) for item in items]) for n in names})

    @classmethod
    def from_records(
        cls,
        records: Sequence[FrameRecord],
        *,
        video_ids: Sequence[str],
        hide_unlabelled: bool = True,
    ) -> FrameBatch:
        """Stack records into a batch.

        Args:
            records: B >= 1 records with square images of one size (S, S, 3) uint8.
            video_ids: the reader's ``video_ids`` (gives ``video`` from ``record.video_id``).
            hide_unlabelled: remove the ground truth of records that are not labelled.
        """
        position = {video_id: i for i, video_id in enumerate(video_ids)}
        unknown = sorted({r.video_id for r in records} - set(position))
        if unknown:
            raise ValueError(f"records of videos {unknown[:3]} not among video_ids")
        items = [
            _record_batch(
                without_ground_truth(r) if hide_unlabelled and not r.labelled else r,
                position[r.video_id],
            )
            for r in records
        ]
        return cls.collate(items)


def _record_batch(record: FrameRecord, video: int) -> FrameBatch:
    """One record as a batch of one (B = 1)."""
    image = np.asarray(record.image)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] != image.shape[1]:
        raise ValueError(
            f"{record.video_id} frame {record.frame_index}: a batch needs square images "
            f"(S, S, 3), got {image.shape}: give the dataset a transform=CropTransform(out_size=S)"
        )
    if image.dtype != np.uint8:
        raise ValueError(f"{record.video_id} frame {record.frame_index}: images must be uint8, "
                         f"got {image.dtype}")
    pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)  # (3, S, S)

    def tensor(value, dtype=torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.asarray(value), dtype=dtype)[None]

    return FrameBatch(
        images=pixels[None].to(torch.float32) / 255.0,
        intrinsics=tensor(record.intrinsics),
        root=tensor(record.root),
        theta=tensor(record.theta),
        beta=tensor(record.beta),
        joints=tensor(record.joints),
        joint_valid=tensor(record.joint_valid, torch.bool),
        labelled=tensor(bool(record.labelled), torch.bool),
        video=tensor(video, torch.int64),
        frame=tensor(record.frame_index, torch.int64),
    )


@dataclass(frozen=True)
class PairBatch:
    """B pairs (I_s, I_u) of Sec. IV, each from one video: s labelled, u labelled or not.

    Attributes:
        s: :class:`FrameBatch` of the labelled frames I_s (full ground truth).
        u: :class:`FrameBatch` of the frames I_u; with ``hide_unlabelled`` (the default) an
            unlabelled u carries no ground truth (``u.joint_valid`` all False).
    """

    s: FrameBatch
    u: FrameBatch

    def __post_init__(self) -> None:
        if len(self.s) != len(self.u) or not torch.equal(self.s.video, self.u.video):
            raise ValueError(
                f"PairBatch needs s and u of equal length from the same videos, got "
                f"{len(self.s)} and {len(self.u)} frames"
            )

    def __len__(self) -> int:
        return len(self.s)

    @property
    def u_is_labelled(self) -> torch.Tensor:
        """(B,) bool, the sampler's ``u_is_labelled`` (= ``u.labelled``)."""
        return self.u.labelled

    def to(self, device: torch.device | str, *, non_blocking: bool = False) -> PairBatch:
        """The batch with every tensor on ``device``."""
        return PairBatch(
            self.s.to(device, non_blocking=non_blocking),
            self.u.to(device, non_blocking=non_blocking),
        )

    def pin_memory(self) -> PairBatch:
        """Page-locked copies (``DataLoader(pin_memory=True)`` calls this)."""
        return PairBatch(self.s.pin_memory(), self.u.pin_memory())

    @staticmethod
    def collate(items: Sequence[PairBatch]) -> PairBatch:
        """Concatenate pair batches along B."""
        return PairBatch(
            FrameBatch.collate([item.s for item in items]),
            FrameBatch.collate([item.u for item in items]),
        )


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
        return _record_batch(record, video)


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


def roll_frame_batch(
    batch: FrameBatch,
    *,
    angles: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    max_rotation_rad: float = MAX_ROTATION_RAD,
) -> FrameBatch:
    """Roll every frame of a batch about its image centre (Appendix C), in torch, on the batch's
    device: :func:`handkit.data.crop_torch.roll_crop_batch` with the whole image as the box.

    Rows without ground truth keep their zeros. Args: ``angles`` (B,) radians, or drawn with
    ``generator`` uniformly in [-max_rotation_rad, max_rotation_rad].
    """
    size = batch.images.shape[-1]
    centre = (size - 1) / 2.0
    boxes = torch.tensor([[centre, centre, float(size)]], device=batch.intrinsics.device)
    boxes = boxes.expand(len(batch), 3)  # (B, 3) the whole image
    out = roll_crop_batch(
        batch.images, batch.intrinsics, batch.joints, batch.root, batch.theta,
        out_size=size, angles=angles, generator=generator,
        max_rotation_rad=max_rotation_rad, boxes=boxes,
    )
    has_gt = batch.has_gt[:, None]  # (B, 1)
    return replace(
        batch,
        images=out.images,
        intrinsics=out.intrinsics,
        joints=out.joints * has_gt[:, :, None],
        root=out.root * has_gt,
        theta=torch.where(has_gt, out.theta, batch.theta),
    )
