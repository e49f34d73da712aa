"""Videos, splits and labelled frames of the real datasets (paper Appendix A, Sec. II-A).

* Mini-HO-3D: named HO-3D ``train/`` sequences go to val and test, all others to train.
* Mini-InterHand: right-hand-only videos with at least 1000 frames from InterHand2.6M's official
  val and test splits; the last 25 filtered val videos are val, the rest of filtered val is train,
  a seeded random 100 of filtered test are test.

The readers' base class :class:`~handkit.data.frames.VideoFrames` lives in
:mod:`handkit.data.frames` (importable from here too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handkit.data.frames import VideoFrames

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


__all__ = [
    "MINI_HO3D_TEST",
    "MINI_HO3D_VAL",
    "SPLITS",
    "VideoFrames",
    "VideoInfo",
    "mini_ho3d_sequences",
    "mini_interhand_videos",
]
