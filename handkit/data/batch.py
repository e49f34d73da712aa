"""Batches of torch tensors for the training loop and evaluation, from any reader.

* :class:`FrameBatch`: B frames (stage 1, evaluation, scenario 1 of Sec. III-C).
* :class:`PairBatch`: B pairs (I_s, I_u) of one video each (stages 2 and 3, Eq. 10).
* :func:`roll_frame_batch`: the per-item crop / roll of :class:`handkit.data.crop.CropTransform`
  on a whole batch in torch (on the GPU if there is one).

:mod:`handkit.data.loaders` makes them from a reader (``FrameDataset``, ``PairDataset``,
``data_loader``).

**Unlabelled ground truth never reaches a loss.** By default (``hide_unlabelled=True``) a frame
outside S_V carries zeros for root, theta, beta and joints (never NaN) and ``joint_valid`` all
False, and transforms only ever see that; ``hide_unlabelled=False`` gives every annotated frame's
ground truth, for evaluation. ``FrameBatch.has_gt`` says which rows carry ground truth.

Images are float32 RGB in [0, 1], channels first, square: (B, 3, S, S). They are *not*
normalised: :class:`handkit.models.HandPredictor` normalises its input itself.

Letters: B batch, S image side, J = 21 joints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from handkit.data.crop import MAX_ROTATION_RAD
from handkit.data.crop_torch import roll_crop_batch
from handkit.data.record import FrameRecord, without_ground_truth

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
            record_batch(
                without_ground_truth(r) if hide_unlabelled and not r.labelled else r,
                position[r.video_id],
            )
            for r in records
        ]
        return cls.collate(items)


def record_batch(record: FrameRecord, video: int) -> FrameBatch:
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
