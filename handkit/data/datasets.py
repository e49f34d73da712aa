"""One switch between handkit's data sets, and the square input the Hand Predictor sees.

* :func:`open_dataset` opens a split of "synthetic" (handkit's sparsely-labelled videos), "ho3d"
  (Mini-HO-3D, :func:`~handkit.data.ho3d.mini_ho3d`) or "interhand" (Mini-InterHand,
  :func:`~handkit.data.interhand.mini_interhand`) as a reader
  (:class:`~handkit.data.frames.VideoFrames`) for :mod:`handkit.data.batch`.
* :data:`DATASET_DEFAULTS` holds each set's d_off (Fig. 2), crop size, label spacing K and the
  paper's Table I rows, so a notebook prints them beside its own results.
* :func:`network_input` gives the per-item transform that turns a reader's frames into the
  predictor's (S, S, 3) input: nothing or a resize for the synthetic set; a square crop around
  the hand for the real sets.

**Crops never read an unlabelled frame's ground truth.** The default box,
:class:`LabelBox`, is the hand box of the nearest labelled frame of the same video (its
projected valid joints, enlarged by a margin, widened with the distance to that label): it is
built from the labelled frames' annotations only and looks at nothing of the frame it crops but
its video, position and image size. Many papers crop around every frame's own ground-truth hand
instead, which tells the network where the hand is on frames whose labels it must not use;
``box="ground_truth"`` (:class:`GroundTruthBox`) does that, for comparisons only.
``box="full_image"`` (:class:`FullImageBox`) shows the whole frame, as Hasson et al.'s HO-3D
code does (the frame padded to a square and resized to 256).

docs/real-data.md ("Real data") shows how to point handkit at HO-3D, InterHand2.6M and the
MANO files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handkit.data.crop import CropTransform, crop_matrix, crop_record, joint_box, project
from handkit.data.frames import VideoFrames
from handkit.data.ho3d import MISSING_META_CHOICES, mini_ho3d
from handkit.data.interhand import mini_interhand
from handkit.data.record import FrameRecord
from handkit.data.splits import (
    MINI_INTERHAND_MIN_FRAMES,
    MINI_INTERHAND_NUM_TEST,
    MINI_INTERHAND_NUM_VAL,
    SPLITS,
)
from handkit.data.synthetic import default_dataset_path
from handkit.data.video_format import VideoDataset
from handkit.mano.loading import load_model

DATASET_NAMES = ("synthetic", "ho3d", "interhand")
#: Table I's columns (the paper's order) as :mod:`handkit.metrics` keys.
TABLE1_COLUMNS = ("f5", "f15", "mpvpe", "mpvpe_p", "mpjpe", "mpjpe_t", "mpjpe_sd", "mpjpe_p")
#: The crop boxes :func:`network_input` knows.
BOXES = ("labels", "ground_truth", "full_image")
#: Margin of a hand box: the fraction of the joints' larger extent added on each side.
DEFAULT_MARGIN = 0.25
#: A label box grows by this fraction of its side per frame of distance to its label (the
#: hand moves away from where it was labelled); at most to the image's larger side.
DEFAULT_WIDEN_PER_FRAME = 0.01
#: In training, hand boxes are jittered: centre shifted by up to this fraction of the side in
#: u and v, side scaled by a factor in [1 - j, 1 + j] (so labelled crops are not all centred,
#: as the crops of unlabelled frames, made from a nearby label's box, are not).
DEFAULT_TRAINING_JITTER = 0.1


def _rows(*rows: tuple) -> dict[str, tuple[float, ...]]:
    return {name: tuple(values) for name, *values in rows}


@dataclass(frozen=True)
class DatasetDefaults:
    """What handkit uses for one data set unless told otherwise.

    Attributes:
        title: the set's name in the paper or the docs.
        d_off_mm: d_off of Fig. 2, mm: the predictor's wrist depth at zero output
            (d_z = f d_f + d_off); a typical wrist depth of the set.
        d_off_reason: where ``d_off_mm`` comes from (printable).
        image_size: the crop side S the networks see; None: the set's frames as they are.
        label_every: K of S_V (None: the set's own, ``index.json``).
        root_env: environment variable :func:`open_dataset` reads when ``root`` is None.
        paper_table1: the paper's Table I (K = 128, unlabelled frames) for this set:
            split ("test", "train") -> row ("Baseline", "Baseline + Align", "Propagation") ->
            the 8 values in :data:`TABLE1_COLUMNS` order (mm; F-scores in [0, 1]). Empty for
            the synthetic set.
    """

    title: str
    d_off_mm: float
    d_off_reason: str
    image_size: int | None
    label_every: int | None
    root_env: str | None
    paper_table1: Mapping[str, Mapping[str, tuple[float, ...]]] = field(default_factory=dict)


#: Per-data-set defaults (see :class:`DatasetDefaults`). Table I values: paper, Sec. V-C.
DATASET_DEFAULTS: dict[str, DatasetDefaults] = {
    "synthetic": DatasetDefaults(
        title="handkit synthetic videos",
        d_off_mm=500.0,
        d_off_reason="the generator's wrists lie 300-720 mm away, 517 mm on average",
        image_size=None,
        label_every=None,
        root_env=None,
    ),
    "ho3d": DatasetDefaults(
        title="Mini-HO-3D",
        d_off_mm=400.0,
        d_off_reason="Hasson et al.'s code (handobjectconsist, meshreg/models/project.py: "
                     "recover_3d_proj(..., off_z=0.4) in metres), whose hand branch the paper's "
                     "baseline is",
        image_size=128,
        label_every=128,
        root_env="HANDKIT_HO3D_ROOT",
        paper_table1={
            "test": _rows(
                ("Baseline", 0.483, 0.944, 64.813, 10.688, 65.507, 39.424, 46.351, 10.892),
                ("Baseline + Align", 0.459, 0.940, 62.337, 11.105, 63.013, 40.169, 45.275,
                 11.272),
                ("Propagation", 0.677, 0.977, 43.083, 7.825, 44.014, 39.723, 38.426, 7.681),
            ),
            "train": _rows(
                ("Baseline", 0.666, 0.980, 25.577, 7.508, 25.610, 21.173, 20.011, 7.523),
                ("Baseline + Align", 0.662, 0.979, 25.891, 7.587, 25.957, 22.544, 20.487,
                 7.565),
                ("Propagation", 0.666, 0.978, 27.169, 7.820, 27.232, 23.785, 21.766, 7.613),
            ),
        },
    ),
    "interhand": DatasetDefaults(
        title="Mini-InterHand",
        d_off_mm=1100.0,
        d_off_reason="InterHand2.6M's cameras stand about 1.1 m from the hands: in the four "
                     "real annotation samples mmpose ships (tests/data/interhand2.6m; 4 "
                     "captures, 4 cameras) the wrists lie 1072-1160 mm from the camera; check "
                     "yours with np.median(labelled_root_depths_mm(reader))",
        image_size=128,
        label_every=128,
        root_env="HANDKIT_INTERHAND_ROOT",
        paper_table1={
            "test": _rows(
                ("Baseline", 0.457, 0.935, 40.349, 10.490, 41.282, 26.291, 21.555, 11.914),
                ("Baseline + Align", 0.465, 0.937, 39.257, 10.353, 40.242, 23.270, 20.300,
                 11.821),
                ("Propagation", 0.573, 0.938, 20.480, 9.646, 22.153, 19.981, 18.288, 11.837),
            ),
            "train": _rows(
                ("Baseline", 0.573, 0.958, 14.060, 8.382, 15.116, 13.981, 12.006, 9.887),
                ("Baseline + Align", 0.584, 0.958, 13.812, 8.325, 14.943, 13.689, 11.765,
                 9.908),
                ("Propagation", 0.666, 0.960, 13.552, 7.688, 15.393, 13.823, 12.383, 10.278),
            ),
        },
    ),
}


def _check_name(name: str) -> DatasetDefaults:
    if name not in DATASET_NAMES:
        raise ValueError(f"dataset must be one of {DATASET_NAMES}, got {name!r}")
    return DATASET_DEFAULTS[name]


def paper_table1(name: str, split: str = "test") -> dict[str, dict[str, float]]:
    """The paper's Table I rows for data set ``name`` and ``split`` ("test" or "train"):
    row -> column (:data:`TABLE1_COLUMNS`) -> value; empty for the synthetic set.

    >>> paper_table1("ho3d")["Propagation"]["mpjpe"]
    44.014
    """
    defaults = _check_name(name)
    if split not in ("test", "train"):
        raise ValueError(f"Table I has 'test' and 'train' rows, got split {split!r}")
    rows = defaults.paper_table1.get(split, {})
    return {row: dict(zip(TABLE1_COLUMNS, values, strict=True)) for row, values in rows.items()}


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
    defaults = _check_name(name)
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


# ----------------------------------------------------------------------------- crop boxes

#: A crop box function: record -> (u, v, side) pixels of the record's image.
BoxFunction = Callable[[FrameRecord], tuple[float, float, float]]


def _labelled_annotations(reader: VideoFrames):
    """(video id, frame, annotation dict) of every labelled frame of ``reader``; reads the
    labelled frames' annotations only (no image, nothing of an unlabelled frame)."""
    video, frame = reader.locate(np.flatnonzero(reader.labelled_mask))
    for v, f in zip(video.tolist(), frame.tolist(), strict=True):
        # the readers' annotation hook (VideoFrames._annotation): intrinsics and ground truth,
        # no image
        yield reader.video_ids[v], f, reader._annotation(reader.video_ids[v], f)


def labelled_root_depths_mm(reader: VideoFrames) -> np.ndarray:
    """(L,) wrist depths (z, mm) of the reader's labelled frames, e.g. to check d_off:
    ``np.median(labelled_root_depths_mm(reader))``."""
    return np.array([a["root"][2] for _, _, a in _labelled_annotations(reader)], dtype=float)


def _image_box(record: FrameRecord) -> tuple[float, float, float]:
    """The whole image padded to a square: centre of the image, side = its larger side."""
    height, width = record.image.shape[:2]
    return (width - 1) / 2.0, (height - 1) / 2.0, float(max(height, width))


@dataclass(frozen=True)
class FullImageBox:
    """The whole frame padded to a square (no ground truth used): Hasson et al.'s HO-3D input
    (centre (320, 240), side 640, resized to 256)."""

    def __call__(self, record: FrameRecord) -> tuple[float, float, float]:
        return _image_box(record)


@dataclass(frozen=True)
class LabelBox:
    """The crop box of a frame from its video's **labelled frames only** (the default crop).

    For frame u of video V: the box of the nearest labelled frame s = N(u) of V (ties: the
    earlier label; Sec. II-C), i.e. the square around the projection of s's valid joints with
    ``margin`` (:func:`~handkit.data.crop.joint_box`), its side multiplied by
    ``1 + widen_per_frame * |u - s|`` and capped at the image's larger side. A labelled frame
    gets its own hand box. Calling it reads only the record's ``video_id``, ``frame_index`` and
    image size, so an unlabelled frame's annotation is never used (it may be hidden, zero or
    NaN). Pixel boxes carry over between frames because one camera films a video (HO-3D:
    a sequence; InterHand2.6M: one camera of a sequence). A video without labelled frames
    gets the whole frame (:class:`FullImageBox`).

    Build it with :meth:`from_reader`.

    Attributes:
        labels: video id -> (frames (L,) int64 sorted, boxes (L, 3) float64 (u, v, side)).
        widen_per_frame: growth of the side per frame of distance to the label.
    """

    labels: Mapping[str, tuple[np.ndarray, np.ndarray]]
    widen_per_frame: float = DEFAULT_WIDEN_PER_FRAME

    def __post_init__(self) -> None:
        if not self.widen_per_frame >= 0:
            raise ValueError(f"widen_per_frame must be >= 0, got {self.widen_per_frame!r}")

    @classmethod
    def from_reader(
        cls,
        reader: VideoFrames,
        *,
        margin: float = DEFAULT_MARGIN,
        widen_per_frame: float = DEFAULT_WIDEN_PER_FRAME,
    ) -> LabelBox:
        """The label boxes of every video of ``reader``, from its labelled frames'
        annotations only (valid joints projected with their intrinsics)."""
        if not isinstance(reader, VideoFrames):
            raise ValueError(f"reader must be a VideoFrames reader, got {type(reader).__name__}")
        frames: dict[str, list[int]] = {v: [] for v in reader.video_ids}
        boxes: dict[str, list[tuple[float, float, float]]] = {v: [] for v in reader.video_ids}
        for video_id, frame, annotation in _labelled_annotations(reader):
            valid = np.asarray(annotation["joint_valid"], dtype=bool)
            if not valid.any():
                raise ValueError(f"{video_id} frame {frame}: a labelled frame without a valid "
                                 "joint; the reader's labelled mask and annotations disagree")
            uv = project(np.asarray(annotation["joints"])[valid],
                         np.asarray(annotation["intrinsics"]))
            centre, side = joint_box(uv, margin=margin)
            frames[video_id].append(frame)
            boxes[video_id].append((float(centre[0]), float(centre[1]), side))
        labels = {
            v: (np.asarray(frames[v], dtype=np.int64), np.asarray(boxes[v], dtype=np.float64)
                .reshape(-1, 3))
            for v in reader.video_ids
        }
        return cls(labels, widen_per_frame=widen_per_frame)

    def __call__(self, record: FrameRecord) -> tuple[float, float, float]:
        if record.video_id not in self.labels:
            raise ValueError(f"LabelBox has no video {record.video_id!r}: build it from the "
                             "reader the record comes from")
        frames, boxes = self.labels[record.video_id]
        if len(frames) == 0:
            return _image_box(record)
        distance = np.abs(frames - record.frame_index)  # (L,)
        nearest = int(np.argmin(distance))  # frames are sorted: ties go to the earlier label
        u, v, side = boxes[nearest]
        height, width = record.image.shape[:2]
        widened = side * (1.0 + self.widen_per_frame * float(distance[nearest]))
        side = min(widened, max(side, float(max(height, width))))  # widening stops at the image
        return float(u), float(v), float(side)


@dataclass(frozen=True)
class GroundTruthBox:
    """**Leaks the hand's position**: each frame's own hand box, read from the reader's ground
    truth even when the record's is hidden (an unlabelled frame in training). What many papers'
    crops do; for comparisons only, never the default. Frames without valid joints (not
    annotated) fall back to ``fallback`` (a :class:`LabelBox`)."""

    reader: VideoFrames
    fallback: LabelBox
    margin: float = DEFAULT_MARGIN

    def __call__(self, record: FrameRecord) -> tuple[float, float, float]:
        truth = self.reader._annotation(record.video_id, record.frame_index)  # the leak
        valid = np.asarray(truth["joint_valid"], dtype=bool)
        if not valid.any():
            return self.fallback(record)
        centre, side = joint_box(project(np.asarray(truth["joints"])[valid], truth["intrinsics"]),
                                 margin=self.margin)
        return float(centre[0]), float(centre[1]), side


@dataclass(frozen=True)
class HandCrop:
    """Per-item transform ``(record, generator) -> record``: the (S, S, 3) crop of ``box``'s
    square (:func:`~handkit.data.crop.crop_record`; intrinsics M @ intrinsics, exact), the box
    optionally jittered in training. No roll: training rolls whole batches
    (:func:`handkit.data.batch.roll_frame_batch`, Appendix C).

    Args:
        out_size: S.
        box: ``record -> (u, v, side)``, e.g. :class:`LabelBox`.
        jitter: j >= 0: centre shifted by U(-j, j) x side in u and v, side scaled by
            U(1 - j, 1 + j), drawn from the item's generator (0: deterministic). A labelled
            frame's valid joints stay in its crop while (1 + 2 margin)(1 - 3 j) > 1, i.e.
            j < 2 margin / (3 (1 + 2 margin)) = 0.11 for the default margin 0.25 (so the
            default j = 0.1 keeps them in).
    """

    out_size: int
    box: BoxFunction
    jitter: float = 0.0

    def __post_init__(self) -> None:
        size = self.out_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 2:
            raise ValueError(f"out_size must be an integer >= 2, got {size!r}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter!r}")

    def __call__(self, record: FrameRecord, rng: np.random.Generator) -> FrameRecord:
        u, v, side = self.box(record)
        if self.jitter > 0:
            du, dv, scale = rng.uniform(-self.jitter, self.jitter, 3)
            u, v, side = u + du * side, v + dv * side, side * (1.0 + scale)
        return crop_record(record, out_size=self.out_size, box=(u, v, side))


def network_input(
    name: str,
    *,
    image_size: int | None = None,
    training: bool,
    reader: VideoFrames | None = None,
    box: str | None = None,
    margin: float = DEFAULT_MARGIN,
    widen_per_frame: float = DEFAULT_WIDEN_PER_FRAME,
    jitter: float | None = None,
) -> Callable[[FrameRecord, np.random.Generator], FrameRecord] | None:
    """The per-item transform making the Hand Predictor's square input from ``reader``'s frames
    (the ``transform=`` of :class:`~handkit.data.batch.FrameDataset` / ``PairDataset``).

    Args:
        name: the data set ("synthetic", "ho3d", "interhand").
        image_size: S; None: :data:`DATASET_DEFAULTS`' (the synthetic frames as they are).
        training: True for training (hand boxes jittered, see ``jitter``), False for
            evaluation (deterministic). The box is the same kind in both.
        reader: the reader the transform will see frames of; needed for hand boxes ("labels",
            "ground_truth") and to know the synthetic set's frame size.
        box: None: the data set's default: the whole frame for "synthetic" (a resize, or no
            transform at the set's own size), "labels" for the real sets. "labels":
            :class:`LabelBox` (no ground truth of unlabelled frames); "full_image":
            :class:`FullImageBox`; "ground_truth": :class:`GroundTruthBox`, which **leaks every
            frame's hand position into training and scenario 2**, for comparisons only.
        margin, widen_per_frame: of the hand boxes (:class:`LabelBox`).
        jitter: of the hand boxes (:class:`HandCrop`); None: DEFAULT_TRAINING_JITTER in
            training, 0 in evaluation.
    Returns:
        A transform ``(record, generator) -> record`` with (S, S, 3) images, or None when the
        frames are already the input (the synthetic set at its own size).

    >>> network_input("synthetic", training=True) is None
    True
    """
    defaults = _check_name(name)
    if not isinstance(training, bool):
        raise ValueError(f"training must be True or False, got {training!r}")
    if box is not None and box not in BOXES:
        raise ValueError(f"box must be None or one of {BOXES}, got {box!r}")
    if reader is not None and not isinstance(reader, VideoFrames):
        raise ValueError(f"reader must be a VideoFrames reader, got {type(reader).__name__}")
    size = image_size if image_size is not None else defaults.image_size
    if box is None:
        box = "full_image" if name == "synthetic" else "labels"
    if box == "full_image":
        if size is None:
            return None
        native = getattr(reader, "image_size", None)
        if name == "synthetic" and native is not None and tuple(native) == (size, size):
            return None
        if name == "synthetic":  # square frames: the whole frame, resized
            return CropTransform(out_size=size)
        return HandCrop(out_size=size, box=FullImageBox())
    if reader is None:
        raise ValueError(f"box={box!r} needs the reader whose frames it will crop: "
                         "network_input(..., reader=reader)")
    if size is None:
        size = int(reader.image_size[0])  # the synthetic set's own size
    labels = LabelBox.from_reader(reader, margin=margin, widen_per_frame=widen_per_frame)
    box_function: BoxFunction = labels
    if box == "ground_truth":
        box_function = GroundTruthBox(reader, labels, margin=margin)
    if jitter is None:
        jitter = DEFAULT_TRAINING_JITTER if training else 0.0
    return HandCrop(out_size=size, box=box_function, jitter=jitter)


# ----------------------------------------------------------------------------- network view

#: FrameRecord fields that come from a reader's annotation hook (everything but the image and
#: the frame's place).
_ANNOTATION_FIELDS = ("intrinsics", "root", "theta", "beta", "joints", "joint_valid", "verts",
                      "mask")


class NetworkFrames(VideoFrames):
    """A reader's frames as the Hand Predictor sees them: every record passed through an
    evaluation transform (:func:`network_input` with ``training=False``: deterministic), so
    ``frames[i].image`` is (S, S, 3) and ``frames[i].intrinsics`` the crop's. Videos, masks,
    labels and the camera-space ground truth are the reader's.

    Ground truth alone (:meth:`split_arrays`, the annotation hook) does not decode every image:
    for a :class:`HandCrop` the crop's intrinsics are computed from its box and the video's image
    size (read once per video from its first frame; one camera films a video).

    Args:
        reader: any :class:`~handkit.data.frames.VideoFrames`.
        transform: ``(record, generator) -> record`` that does not draw from the generator
            (a :class:`HandCrop` without jitter, a :class:`~handkit.data.crop.CropTransform`
            without roll).
    """

    def __init__(self, reader: VideoFrames, transform: Callable) -> None:
        if isinstance(transform, HandCrop) and transform.jitter != 0:
            raise ValueError(f"NetworkFrames shows frames as evaluation does: a HandCrop without "
                             f"jitter, got jitter={transform.jitter}")
        super().__init__(dict(zip(reader.video_ids, reader.annotated_masks(), strict=True)),
                         label_every=reader.label_every, unannotated=reader._unannotated,
                         notes=reader._notes)
        self.labelled_mask = reader.labelled_mask.copy()
        self.reader, self.transform = reader, transform
        size = getattr(transform, "out_size", None)
        self.image_size = (size, size) if size else getattr(reader, "image_size", None)
        self._shapes: dict[str, tuple[int, ...]] = {}

    def _read(self, video_id: str, frame_index: int, labelled: bool) -> FrameRecord:
        record = self.reader._read(video_id, frame_index, labelled)
        return self.transform(record, np.random.default_rng(0))

    def _image(self, video_id: str, frame_index: int) -> np.ndarray:
        return self._read(video_id, frame_index, False).image

    def _annotation(self, video_id: str, frame_index: int) -> dict[str, np.ndarray]:
        if not isinstance(self.transform, HandCrop):  # e.g. a resize: read the frame
            record = self._read(video_id, frame_index, False)
            return {name: getattr(record, name) for name in _ANNOTATION_FIELDS
                    if getattr(record, name) is not None}
        annotation = dict(self.reader._annotation(video_id, frame_index))
        annotation.pop("mask", None)  # full-image pixels, not the crop's
        if video_id not in self._shapes:
            self._shapes[video_id] = self.reader._image(video_id, 0).shape
        blank = np.broadcast_to(np.zeros((), np.uint8), self._shapes[video_id])  # no pixels read
        proxy = FrameRecord(image=blank, labelled=False, video_id=video_id,
                            frame_index=frame_index, **annotation)
        u, v, side = self.transform.box(proxy)
        matrix = crop_matrix(np.array([u, v]), side, self.transform.out_size)
        annotation["intrinsics"] = matrix @ np.asarray(annotation["intrinsics"], dtype=np.float64)
        return annotation


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
