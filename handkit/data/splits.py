"""Videos, splits and labelled frames of the real datasets (paper Appendix A, Sec. II-A).

* Mini-HO-3D: named HO-3D ``train/`` sequences go to val and test, all others to train.
* Mini-InterHand: right-hand-only videos with at least 1000 frames from InterHand2.6M's official
  val and test splits; the last 25 filtered val videos are val, the rest of filtered val is train,
  a seeded random 100 of filtered test are test.
* :class:`VideoFrames`: the base of the dataset readers. It numbers the frames of all videos
  0..N-1, knows each frame's video and position, and which frames are annotated and labelled.

A frame is *annotated* when the dataset gives it a usable hand annotation, and *labelled* when it
is annotated and sits on the label grid S_V = {0, K, 2K, ..., T-1} of its video
(:func:`handkit.data.pairs.labelled_mask`). Only annotated frames have ground truth to evaluate.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from handkit.data.pairs import labelled_mask
from handkit.data.record import FrameRecord

SPLITS = ("train", "val", "test")

#: Appendix A, Mini-HO-3D val sequences (taken from HO-3D's ``train/`` folder).
MINI_HO3D_VAL = ("ABF11", "BB12", "GPMF13", "GSF14")
#: Appendix A, Mini-HO-3D test sequences. The paper prints "MCI"; HO-3D's sequence is MC1.
MINI_HO3D_TEST = (
    "ABF10", "MC1", "MDF14", "BB11", "GPMF12", "GSF13",
    "SB14", "ShSu10", "SM3", "SMu1", "SiBF11", "SS2",
)

#: Appendix A, Mini-InterHand defaults.
MINI_INTERHAND_MIN_FRAMES = 1000
MINI_INTERHAND_NUM_VAL = 25
MINI_INTERHAND_NUM_TEST = 100


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def mini_ho3d_sequences(available: Sequence[str], split: str) -> list[str]:
    """The Mini-HO-3D sequences of ``split`` among the ``available`` HO-3D train sequences.

    Args:
        available: names of the folders in HO-3D's ``train/`` (e.g. "ABF10", "MC1").
        split: "train", "val" or "test".
    Returns:
        Sorted sequence names. Named val/test sequences absent from ``available`` are skipped.

    >>> mini_ho3d_sequences(["ABF10", "ABF11", "MC2"], "train")
    ['MC2']
    """
    _check_split(split)
    held_out = set(MINI_HO3D_VAL) | set(MINI_HO3D_TEST)
    wanted = {"val": set(MINI_HO3D_VAL), "test": set(MINI_HO3D_TEST)}
    if split == "train":
        return sorted(name for name in available if name not in held_out)
    return sorted(name for name in available if name in wanted[split])


@dataclass(frozen=True)
class VideoInfo:
    """What the Mini-InterHand filter needs to know about one video.

    Attributes:
        video_id: the video's name (InterHand: "Capture<c>/<seq_name>/cam<camera>").
        num_frames: number of frames (images) in the video.
        hand_types: the distinct ``hand_type`` values of its frames ("right", "left",
            "interacting").
    """

    video_id: str
    num_frames: int
    hand_types: frozenset[str]


def mini_interhand_videos(
    videos: Sequence[VideoInfo],
    split: str,
    *,
    min_frames: int = MINI_INTERHAND_MIN_FRAMES,
    num_val: int = MINI_INTERHAND_NUM_VAL,
    num_test: int = MINI_INTERHAND_NUM_TEST,
    seed: int = 0,
) -> list[str]:
    """The Mini-InterHand videos of ``split`` (Appendix A).

    Args:
        videos: the videos of InterHand2.6M's official *val* split (for "train" and "val") or
            *test* split (for "test"), in the order that defines "the last" videos.
        split: "train", "val" or "test".
        min_frames: keep only right-hand-only videos with at least this many frames.
        num_val: the last ``num_val`` filtered videos form val; the others form train.
        num_test: number of filtered videos drawn at random (without replacement) for test;
            all of them when fewer are left.
        seed: seed of that draw.
    Returns:
        Video ids, in the order of ``videos``.
    """
    _check_split(split)
    if min_frames < 1 or num_val < 0 or num_test < 0:
        raise ValueError(
            f"need min_frames >= 1, num_val >= 0, num_test >= 0, "
            f"got {min_frames}, {num_val}, {num_test}"
        )
    kept = [
        v.video_id for v in videos if v.hand_types == {"right"} and v.num_frames >= min_frames
    ]
    if split == "train":
        return kept[: max(len(kept) - num_val, 0)]
    if split == "val":
        return kept[max(len(kept) - num_val, 0):]
    chosen = np.random.default_rng(seed).choice(len(kept), min(num_test, len(kept)), replace=False)
    return [kept[i] for i in sorted(chosen)]


class VideoFrames:
    """Frames of several videos numbered 0..N-1, video after video; the readers' base class.

    Subclasses call ``super().__init__`` with each video's annotated-frame mask and implement
    :meth:`_read`. Indexing gives a :class:`FrameRecord`; ``iter_video`` walks one video.

    Args:
        annotated: video id -> (T,) bool, True where the frame has a usable annotation.
        label_every: K, the label spacing of S_V (Sec. II-A); the paper uses 128.
    """

    def __init__(self, annotated: Mapping[str, np.ndarray], *, label_every: int = 128):
        self.label_every = label_every
        self.video_ids = tuple(annotated)
        self.annotated_mask = np.concatenate(
            [np.asarray(annotated[v], dtype=bool) for v in self.video_ids] or [np.zeros(0, bool)]
        )  # (N,)
        grid = [labelled_mask(len(annotated[v]), label_every) for v in self.video_ids]
        self.labelled_mask = self.annotated_mask & np.concatenate(grid or [np.zeros(0, bool)])
        lengths = [len(annotated[v]) for v in self.video_ids]
        self._starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)  # (videos + 1,)
        self._video_pos = {v: i for i, v in enumerate(self.video_ids)}

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, index: int) -> FrameRecord:
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame index {index} out of range for {len(self)} frames")
        index = index % len(self)
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

    def _read(self, video_id: str, frame_index: int, labelled: bool) -> FrameRecord:
        raise NotImplementedError
