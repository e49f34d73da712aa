"""Datasets: synthetic sparsely-labelled videos, HO-3D and InterHand2.6M readers, pair sampling,
crops, and the batch adapter the training loop uses.

Every reader yields :class:`FrameRecord` s with the conventions of :mod:`handkit.data.record`;
:mod:`handkit.data.loaders` turns them into batches of torch tensors (:mod:`handkit.data.batch`).
"""

from handkit.data.batch import FrameBatch, PairBatch, roll_frame_batch
from handkit.data.crop import CropTransform, crop_record, random_roll_crop
from handkit.data.crop_torch import RolledCrops, roll_crop_batch
from handkit.data.datasets import (
    DATASET_DEFAULTS,
    DatasetDefaults,
    FullImageBox,
    GroundTruthBox,
    HandCrop,
    LabelBox,
    labelled_root_depths_mm,
    network_input,
    open_dataset,
    paper_table1,
)
from handkit.data.frames import ReaderSummary, SplitArrays, VideoFrames
from handkit.data.ho3d import HO3DReader, mini_ho3d
from handkit.data.interhand import InterHandReader, mini_interhand
from handkit.data.loaders import FrameDataset, PairDataset, data_loader
from handkit.data.pairs import (
    LabelledFrameSampler,
    LabelledPairSampler,
    PairSampler,
    labelled_mask,
    labelled_masks,
    nearest_labelled,
    previous_next_labelled,
)
from handkit.data.record import FrameRecord, without_ground_truth
from handkit.data.video_format import VideoDataset

__all__ = [
    "DATASET_DEFAULTS",
    "CropTransform",
    "DatasetDefaults",
    "FrameBatch",
    "FrameDataset",
    "FrameRecord",
    "FullImageBox",
    "GroundTruthBox",
    "HandCrop",
    "HO3DReader",
    "InterHandReader",
    "LabelBox",
    "LabelledFrameSampler",
    "LabelledPairSampler",
    "PairBatch",
    "PairDataset",
    "PairSampler",
    "ReaderSummary",
    "RolledCrops",
    "SplitArrays",
    "VideoDataset",
    "VideoFrames",
    "crop_record",
    "data_loader",
    "labelled_mask",
    "labelled_masks",
    "labelled_root_depths_mm",
    "mini_ho3d",
    "mini_interhand",
    "network_input",
    "open_dataset",
    "paper_table1",
    "nearest_labelled",
    "previous_next_labelled",
    "random_roll_crop",
    "roll_crop_batch",
    "roll_frame_batch",
    "without_ground_truth",
]
