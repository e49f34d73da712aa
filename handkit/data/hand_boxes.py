"""The crop box of a frame, and the crop that makes the Hand Predictor's square input.

**Crops never read an unlabelled frame's ground truth.** The default box,
:class:`LabelBox`, is the hand box of the nearest labelled frame of the same video (its
projected valid joints, enlarged by a margin, widened with the distance to that label): it is
built from the labelled frames' annotations only and looks at nothing of the frame it crops but
its video, position and image size. Many papers crop around every frame's own ground-truth hand
instead, which tells the network where the hand is on frames whose labels it must not use;
:class:`GroundTruthBox` does that, for comparisons only. :class:`FullImageBox` shows the whole
frame, as Hasson et al.'s HO-3D code does (the frame padded to a square and resized to 256).
:class:`HandCrop` crops a record to a box (:func:`handkit.data.network_view.network_input`
chooses the box).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from handkit.data.crop import crop_record, joint_box, project
from handkit.data.frames import VideoFrames
from handkit.data.record import FrameRecord

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




__all__ = ["BOXES", "DEFAULT_MARGIN", "DEFAULT_TRAINING_JITTER", "DEFAULT_WIDEN_PER_FRAME",
           "BoxFunction", "FullImageBox", "GroundTruthBox", "HandCrop", "LabelBox",
           "labelled_root_depths_mm"]
