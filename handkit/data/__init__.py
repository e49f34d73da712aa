"""Datasets: synthetic sparsely-labelled videos, HO-3D and InterHand2.6M readers, pair sampling.

Every reader yields :class:`FrameRecord` s with the conventions of :mod:`handkit.data.record`.
"""

from handkit.data.crop import crop_record, random_roll_crop
from handkit.data.ho3d import HO3DReader, mini_ho3d
from handkit.data.interhand import InterHandReader, mini_interhand
from handkit.data.pairs import (
    LabelledFrameSampler,
    LabelledPairSampler,
    PairSampler,
    labelled_mask,
    labelled_masks,
    nearest_labelled,
)
from handkit.data.record import FrameRecord
from handkit.data.video_format import VideoDataset

__all__ = [
    "FrameRecord",
    "HO3DReader",
    "InterHandReader",
    "LabelledFrameSampler",
    "LabelledPairSampler",
    "PairSampler",
    "VideoDataset",
    "crop_record",
    "labelled_mask",
    "labelled_masks",
    "mini_ho3d",
    "mini_interhand",
    "nearest_labelled",
    "random_roll_crop",
]
