"""One switch between handkit's data sets.

* :func:`open_dataset` opens a split of "synthetic" (handkit's sparsely-labelled videos), "ho3d"
  (Mini-HO-3D, :func:`~handkit.data.ho3d.mini_ho3d`) or "interhand" (Mini-InterHand,
  :func:`~handkit.data.interhand.mini_interhand`) as a reader
  (:class:`~handkit.data.frames.VideoFrames`) for :mod:`handkit.data.loaders`.
* :func:`open_frames` opens it as the predictor's input (:mod:`handkit.data.network_view`).
* Each set's defaults (d_off, crop size, K, the paper's Table I rows) are in
  :mod:`handkit.data.dataset_defaults`; the crop boxes, which never read an unlabelled frame's
  ground truth by default, in :mod:`handkit.data.hand_boxes`. Their names are importable from
  here too.

docs/real-data.md ("Real data") shows how to point handkit at HO-3D, InterHand2.6M and the
MANO files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from handkit.data.dataset_defaults import (
    DATASET_DEFAULTS,
    DATASET_NAMES,
    TABLE1_COLUMNS,
    DatasetDefaults,
    check_dataset_name,
    paper_table1,
)
from handkit.data.frames import VideoFrames
from handkit.data.hand_boxes import (
    BOXES,
    DEFAULT_MARGIN,
    DEFAULT_TRAINING_JITTER,
    DEFAULT_WIDEN_PER_FRAME,
    BoxFunction,
    FullImageBox,
    GroundTruthBox,
    HandCrop,
    LabelBox,
    labelled_root_depths_mm,
)
from handkit.data.ho3d import MISSING_META_CHOICES, mini_ho3d
from handkit.data.interhand import mini_interhand
from handkit.data.network_view import NetworkFrames, network_input
from handkit.data.splits import (
    MINI_INTERHAND_MIN_FRAMES,
    MINI_INTERHAND_NUM_TEST,
    MINI_INTERHAND_NUM_VAL,
    SPLITS,
)
from handkit.data.synthetic import default_dataset_path
from handkit.data.video_format import VideoDataset
from handkit.mano.loading import load_model


def open_dataset(
    name: str,
    split: str,
    *,
    root: str | Path | None = None,
    label_every: int | None = None,
    hands_mean: np.ndarray | None = None,
    mano_root: str | Path | None = None,
    missing_meta: str = "unannotated",
    min_frames: int = MINI_INTERHAND_MIN_FRAMES,
    num_val: int = MINI_INTERHAND_NUM_VAL,
    num_test: int = MINI_INTERHAND_NUM_TEST,
    seed: int = 0,
) -> VideoFrames:
    """A split of one of handkit's data sets as a reader.

    Args:
        name: "synthetic", "ho3d" (Mini-HO-3D) or "interhand" (Mini-InterHand).
        split: "train", "val" or "test" (Appendix A for the real sets).
        root: the data set's folder. None: the shipped ``data_samples/synthetic`` for
            "synthetic" (or give a folder made by ``python -m handkit data synth``); for the
            real sets the environment variable ``HANDKIT_HO3D_ROOT`` / ``HANDKIT_INTERHAND_ROOT``
            (the HO-3D folder holding ``train/``; the InterHand2.6M folder holding
            ``annotations/`` and ``images/``).
        label_every: K of S_V; None: the synthetic set's own, 128 (the paper's) for the real
            sets.
        hands_mean: "interhand" only: (45,) MANO mean finger pose added to the fits' poses (see
            :mod:`handkit.data.interhand`). None: that of the right-hand MANO model in use
            (``mano_root``, else ``HANDKIT_MANO_ROOT``, else the embedded model, whose mean is
            not the official one: point handkit at the official files for real data).
        mano_root: folder of the official MANO files, for ``hands_mean`` (accepted, and
            unused, for the other sets, so one config can pass it always).
        missing_meta: "ho3d" only, see :class:`~handkit.data.ho3d.HO3DReader`.
        min_frames, num_val, num_test, seed: "interhand" only, the Mini-InterHand selection
            (:func:`~handkit.data.splits.mini_interhand_videos`).
    Returns:
        A :class:`~handkit.data.video_format.VideoDataset`,
        :class:`~handkit.data.ho3d.HO3DReader` or :class:`~handkit.data.interhand.InterHandReader`.

    >>> reader = open_dataset("synthetic", "test")
    >>> len(reader.video_ids), reader.label_every
    (2, 128)
    """
    defaults = check_dataset_name(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if label_every is not None and (isinstance(label_every, bool) or not isinstance(
            label_every, (int, np.integer)) or label_every < 1):
        raise ValueError(f"label_every must be None or an integer >= 1, got {label_every!r}")
    if missing_meta not in MISSING_META_CHOICES:
        raise ValueError(f"missing_meta must be one of {MISSING_META_CHOICES}, "
                         f"got {missing_meta!r}")
    _refuse_foreign_options(name, hands_mean=hands_mean, missing_meta=missing_meta,
                            min_frames=min_frames, num_val=num_val, num_test=num_test, seed=seed)
    if name == "synthetic":
        return VideoDataset(root or default_dataset_path(), split, label_every=label_every)
    root = _real_root(root, defaults)
    label_every = label_every or defaults.label_every
    if name == "ho3d":
        return mini_ho3d(root, split, label_every=label_every, missing_meta=missing_meta)
    if hands_mean is None:
        hands_mean = load_model(mano_root, "right").hands_mean
    return mini_interhand(root, split, hands_mean=hands_mean, min_frames=min_frames,
                          num_val=num_val, num_test=num_test, seed=seed, label_every=label_every)


#: Options of :func:`open_dataset` that apply to one data set only, with their defaults.
_OPTION_OWNERS = {
    "hands_mean": ("interhand", None),
    "missing_meta": ("ho3d", "unannotated"),
    "min_frames": ("interhand", MINI_INTERHAND_MIN_FRAMES),
    "num_val": ("interhand", MINI_INTERHAND_NUM_VAL),
    "num_test": ("interhand", MINI_INTERHAND_NUM_TEST),
    "seed": ("interhand", 0),
}


def _refuse_foreign_options(name: str, **options) -> None:
    """ValueError for an option given a non-default value for a data set it does not apply to."""
    for option, value in options.items():
        owner, default = _OPTION_OWNERS[option]
        is_default = value is None if default is None else value == default
        if owner != name and not is_default:
            raise ValueError(f"{option} applies to dataset {owner!r} only, got "
                             f"{option}={value!r} for {name!r}")


def _real_root(root: str | Path | None, defaults: DatasetDefaults) -> Path:
    if root is None:
        root = os.environ.get(defaults.root_env) or None
    if root is None:
        raise ValueError(
            f"{defaults.title}: no data folder given; pass root=... or set "
            f"{defaults.root_env} (handkit downloads nothing; see docs/real-data.md)"
        )
    return Path(root)




def open_frames(
    name: str = "synthetic",
    split: str = "train",
    *,
    root: str | Path | None = None,
    mano_root: str | Path | None = None,
    label_every: int | None = None,
    image_size: int | None = None,
) -> VideoFrames:
    """A split of a data set as the predictor's input, for notebooks and evaluation: the
    synthetic frames as they are (or resized to ``image_size``), the real sets' frames cropped
    around the nearest label's hand box (:class:`NetworkFrames` over :func:`open_dataset`).

    Args:
        name, split, root, mano_root, label_every: as :func:`open_dataset`.
        image_size: S; None: the set's default (:data:`DATASET_DEFAULTS`).

    >>> frames = open_frames("synthetic", "train")
    >>> frames[0].image.shape, type(frames).__name__
    ((64, 64, 3), 'VideoDataset')
    """
    reader = open_dataset(name, split, root=root, label_every=label_every, mano_root=mano_root)
    transform = network_input(name, image_size=image_size, training=False, reader=reader)
    return reader if transform is None else NetworkFrames(reader, transform)


__all__ = ["BOXES", "DATASET_DEFAULTS", "DATASET_NAMES", "DEFAULT_MARGIN",
           "DEFAULT_TRAINING_JITTER", "DEFAULT_WIDEN_PER_FRAME", "TABLE1_COLUMNS", "BoxFunction",
           "DatasetDefaults", "FullImageBox", "GroundTruthBox", "HandCrop", "LabelBox",
           "NetworkFrames", "labelled_root_depths_mm", "network_input", "open_dataset",
           "open_frames", "paper_table1"]
