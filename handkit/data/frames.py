"""The readers' base class: frames of several videos numbered 0..N-1, and what it offers.

A frame is *annotated* when the dataset gives it a usable hand annotation, and *labelled* when it
is annotated and sits on the label grid S_V = {0, K, 2K, ..., T-1} of its video
(:func:`handkit.data.pairs.labelled_mask`). Only annotated frames have ground truth to evaluate;
only labelled ones may be trained on.

:class:`VideoFrames` knows each frame's video and position, the annotated and labelled masks
(whole set and per video), maps a sampler's ``(video, frame)`` to a dataset index
(:meth:`VideoFrames.index_of`), stacks a whole split into arrays (:class:`SplitArrays`) and says
what its reader did (:class:`ReaderSummary`). Letters: N frames in the set, V videos, T^i frames
of video i.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from handkit.data.pairs import labelled_mask
from handkit.data.record import FrameRecord


@dataclass(frozen=True)
class SplitArrays:
    """Every frame of a reader stacked into arrays, in dataset order (N frames, video after video).

    Ground truth is full (also on unlabelled frames, for evaluation); zeros where a frame is not
    annotated. Training code must use only the rows where ``labelled`` is True (the batch
    adapter :mod:`handkit.data.batch` hides the others by default).

    Attributes:
        video: (N,) int64 position of the frame's video in the reader's ``video_ids``.
        frame: (N,) int64 position of the frame in its video.
        intrinsics: (N, 3, 3) float64 intrinsics.
        root: (N, 3) float64 wrist, camera space, mm.
        theta: (N, 48) float64 absolute axis-angle pose.
        beta: (N, 10) float64 shape.
        joints: (N, 21, 3) float64 camera-space joints, mm.
        joint_valid: (N, 21) bool.
        annotated: (N,) bool, the frame has a usable annotation.
        labelled: (N,) bool, S_V (annotated frames on the label grid).
        images: (N, H, W, 3) uint8, or None when not asked for.
    """

    video: np.ndarray
    frame: np.ndarray
    intrinsics: np.ndarray
    root: np.ndarray
    theta: np.ndarray
    beta: np.ndarray
    joints: np.ndarray
    joint_valid: np.ndarray
    annotated: np.ndarray
    labelled: np.ndarray
    images: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.video)


@dataclass(frozen=True)
class ReaderSummary:
    """What a reader found: counts of videos and frames, and why frames are unannotated.

    Attributes:
        reader: the reader's class name.
        videos, frames, annotated, labelled: counts.
        unannotated: reason -> names of the frames left unannotated for that reason; every
            unannotated frame has exactly one reason, so the counts add up to frames - annotated.
        notes: other things the reader did -> names of the frames concerned (e.g. intrinsics
            taken from a neighbouring frame).
    """

    reader: str
    videos: int
    frames: int
    annotated: int
    labelled: int
    unannotated: dict[str, tuple[str, ...]]
    notes: dict[str, tuple[str, ...]]

    def __str__(self) -> str:
        lines = [
            f"{self.reader}: {self.videos} videos, {self.frames} frames, "
            f"{self.annotated} annotated, {self.labelled} labelled"
        ]
        for title, table in (("unannotated", self.unannotated), ("note", self.notes)):
            for reason, names in table.items():
                shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
                lines.append(f"  {title}: {len(names)} frames, {reason} ({shown})")
        return "\n".join(lines)


def read_rgb_image(path: Path, *, dataset: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of an image file; errors name the file."""
    if not path.is_file():
        raise FileNotFoundError(f"{dataset} image not found: expected {path}")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as error:  # truncated or not an image
        raise ValueError(f"{path}: cannot read this {dataset} image ({error})") from error


class VideoFrames:
    """Frames of several videos numbered 0..N-1, video after video; the readers' base class.

    Subclasses call ``super().__init__`` with each video's annotated-frame mask and implement
    :meth:`_image` and :meth:`_annotation`. Indexing gives a :class:`FrameRecord`;
    ``iter_video`` walks one video; :meth:`split_arrays` stacks every frame's ground truth;
    :meth:`index_of` maps a sampler's ``(video, frame)`` to a dataset index.

    Args:
        annotated: video id -> (T,) bool, True where the frame has a usable annotation.
        label_every: K, the label spacing of S_V (Sec. II-A); the paper uses 128.
        unannotated: reason -> names of the unannotated frames (for :meth:`summary`); the names
            must cover every unannotated frame once. Default: one reason, "no annotation".
        notes: other things the reader did -> names of the frames concerned.
    """

    def __init__(
        self,
        annotated: Mapping[str, np.ndarray],
        *,
        label_every: int = 128,
        unannotated: Mapping[str, Sequence[str]] | None = None,
        notes: Mapping[str, Sequence[str]] | None = None,
    ):
        self.label_every = label_every
        self.video_ids = tuple(annotated)
        #: (videos,) number of frames T of each video.
        self.lengths = tuple(len(annotated[v]) for v in self.video_ids)
        self.annotated_mask = np.concatenate(
            [np.asarray(annotated[v], dtype=bool) for v in self.video_ids] or [np.zeros(0, bool)]
        )  # (N,)
        grid = [labelled_mask(len(annotated[v]), label_every) for v in self.video_ids]
        self.labelled_mask = self.annotated_mask & np.concatenate(grid or [np.zeros(0, bool)])
        self._starts = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)  # (V + 1,)
        self._video_pos = {v: i for i, v in enumerate(self.video_ids)}
        self._unannotated = self._check_reasons(unannotated)
        self._notes = {k: tuple(v) for k, v in (notes or {}).items() if len(v)}

    def _check_reasons(self, reasons: Mapping[str, Sequence[str]] | None) -> dict:
        missing = int((~self.annotated_mask).sum())
        if reasons is None:
            video, frame = self.locate(np.flatnonzero(~self.annotated_mask))
            names = [f"{self.video_ids[v]}/{f}" for v, f in zip(video, frame, strict=True)]
            return {"no annotation": tuple(names)} if names else {}
        table = {k: tuple(v) for k, v in reasons.items() if len(v)}
        if sum(map(len, table.values())) != missing:
            raise ValueError(
                f"unannotated reasons must name each of the {missing} unannotated frames once, "
                f"found {sum(map(len, table.values()))} names"
            )
        return table

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, index: int) -> FrameRecord:
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame index {index} out of range for {len(self)} frames")
        index = int(index) % len(self)
        video = int(np.searchsorted(self._starts, index, side="right")) - 1
        frame_index = index - int(self._starts[video])
        return self._read(self.video_ids[video], frame_index, bool(self.labelled_mask[index]))

    def video_indices(self, video_id: str) -> range:
        """Dataset indices of the frames of ``video_id``, in temporal order."""
        if video_id not in self._video_pos:
            raise KeyError(f"unknown video {video_id!r}; known: {list(self.video_ids)[:5]}...")
        pos = self._video_pos[video_id]
        return range(int(self._starts[pos]), int(self._starts[pos + 1]))

    def iter_video(self, video_id: str) -> Iterator[FrameRecord]:
        """The records of one video, frame 0 first (images are read one at a time)."""
        for index in self.video_indices(video_id):
            yield self[index]

    def labelled_masks(self) -> list[np.ndarray]:
        """S_V of every video as one (T^i,) bool mask per video, in ``video_ids`` order: the
        ``labelled`` argument of the stage samplers (:mod:`handkit.data.pairs`), whose items
        ``(video, frame)`` map back to dataset indices with :meth:`index_of`."""
        return self._per_video(self.labelled_mask)

    def annotated_masks(self) -> list[np.ndarray]:
        """One (T^i,) bool mask of the annotated frames per video, in ``video_ids`` order."""
        return self._per_video(self.annotated_mask)

    def _per_video(self, values: np.ndarray) -> list[np.ndarray]:
        """(N, ...) -> one (T^i, ...) copy per video."""
        bounds = zip(self._starts[:-1], self._starts[1:], strict=True)
        return [values[a:b].copy() for a, b in bounds]

    def index_of(self, video, frame):
        """Dataset indices of ``(video, frame)`` pairs, vectorised.

        Args:
            video: int or int array, position of the video in ``video_ids`` (as the samplers
                of :mod:`handkit.data.pairs` yield it).
            frame: int or int array (broadcast with ``video``), position in that video.
        Returns:
            An int for scalar inputs, else an int64 array of the broadcast shape.

        >>> frames = VideoFrames({"a": np.ones(3, bool), "b": np.ones(4, bool)})
        >>> frames.index_of(1, 2), frames.index_of([0, 1, 1], [2, 0, 3]).tolist()
        (5, [2, 3, 6])
        """
        v, f = np.broadcast_arrays(np.asarray(video), np.asarray(frame))
        if not (np.issubdtype(v.dtype, np.integer) and np.issubdtype(f.dtype, np.integer)):
            raise ValueError(f"video and frame must be integers, got {v.dtype} and {f.dtype}")
        bad_video = (v < 0) | (v >= len(self.video_ids))
        if bad_video.any():
            raise IndexError(
                f"video positions must lie in 0..{len(self.video_ids) - 1}, "
                f"got {v[bad_video].ravel()[:5].tolist()}"
            )
        length = np.asarray(self.lengths, dtype=np.int64)[v]
        bad_frame = (f < 0) | (f >= length)
        if bad_frame.any():
            pairs = np.stack([v[bad_frame], f[bad_frame]], axis=-1)[:5].tolist()
            raise IndexError(f"frames out of range for their videos, (video, frame): {pairs}")
        index = self._starts[v] + f  # broadcast shape
        return int(index) if index.ndim == 0 else index.astype(np.int64)

    def locate(self, index) -> tuple[np.ndarray, np.ndarray]:
        """(video position, frame position) of dataset indices, the inverse of :meth:`index_of`.

        Args:
            index: int array-like of dataset indices in 0..N-1.
        Returns:
            video and frame, int64 arrays of the shape of ``index``.
        """
        index = np.asarray(index, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            bad = index[(index < 0) | (index >= len(self))][:5].tolist()
            raise IndexError(f"dataset indices must lie in 0..{len(self) - 1}, got {bad}")
        video = np.searchsorted(self._starts, index, side="right") - 1
        return video.astype(np.int64), index - self._starts[video]

    def split_arrays(self, *, images: bool = False) -> SplitArrays:
        """Every frame's ground truth (and optionally image) stacked, in dataset order.

        Args:
            images: also stack every image (N, H, W, 3); all images must have one size. This
                reads every image file of the reader: mind the memory for a real split.
        """
        video, frame = self.locate(np.arange(len(self)))
        rows = [self._annotation(self.video_ids[v], f) for v, f in zip(video, frame, strict=True)]
        stacked = {
            name: np.stack([row[name] for row in rows]) if rows else np.zeros((0, *shape), dtype)
            for name, (shape, dtype) in _GT_SHAPES.items()
        }
        pixels = None
        if images:
            pixels = self._stack_images(
                [self._image(self.video_ids[v], f) for v, f in zip(video, frame, strict=True)]
            )
        return SplitArrays(
            video=video, frame=frame, annotated=self.annotated_mask.copy(),
            labelled=self.labelled_mask.copy(), images=pixels, **stacked,
        )

    @staticmethod
    def _stack_images(images: list[np.ndarray]) -> np.ndarray:
        shapes = sorted({image.shape for image in images})
        if len(shapes) > 1:
            raise ValueError(f"images of one size are needed to stack them, found sizes {shapes}")
        return np.stack(images) if images else np.zeros((0, 0, 0, 3), np.uint8)

    def summary(self) -> ReaderSummary:
        """Counts of videos, frames, annotated and labelled frames, with the reasons why frames
        are unannotated and anything else the reader did (``print`` it for a short report)."""
        return ReaderSummary(
            reader=type(self).__name__,
            videos=len(self.video_ids),
            frames=len(self),
            annotated=int(self.annotated_mask.sum()),
            labelled=int(self.labelled_mask.sum()),
            unannotated=dict(self._unannotated),
            notes=dict(self._notes),
        )

    def _read(self, video_id: str, frame_index: int, labelled: bool) -> FrameRecord:
        return FrameRecord(
            image=self._image(video_id, frame_index),
            labelled=labelled,
            video_id=video_id,
            frame_index=frame_index,
            **self._annotation(video_id, frame_index),
        )

    def _image(self, video_id: str, frame_index: int) -> np.ndarray:
        """(H, W, 3) uint8 image of one frame."""
        raise NotImplementedError

    def _annotation(self, video_id: str, frame_index: int) -> dict[str, np.ndarray]:
        """One frame's intrinsics, root, theta, beta, joints, joint_valid (zeros and all-False
        joint_valid when not annotated), optionally mask and verts: the :class:`FrameRecord`
        fields."""
        raise NotImplementedError


#: Per-frame ground-truth arrays of :class:`SplitArrays`: trailing shape and dtype.
_GT_SHAPES = {
    "intrinsics": ((3, 3), np.float64),
    "root": ((3,), np.float64),
    "theta": ((48,), np.float64),
    "beta": ((10,), np.float64),
    "joints": ((21, 3), np.float64),
    "joint_valid": ((21,), np.bool_),
}
