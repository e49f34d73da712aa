"""A reader's frames as the Hand Predictor sees them.

:func:`network_input` gives the per-item transform that turns a reader's frames into the
predictor's (S, S, 3) input: nothing or a resize for the synthetic set; a square crop around
the hand for the real sets (:mod:`handkit.data.hand_boxes`). :class:`NetworkFrames` is a reader
whose records have passed through that transform, as evaluation sees them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from handkit.data.crop import CropTransform, crop_matrix
from handkit.data.dataset_defaults import check_dataset_name
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
)
from handkit.data.record import FrameRecord


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
    (the ``transform=`` of :class:`~handkit.data.loaders.FrameDataset` / ``PairDataset``).

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
    defaults = check_dataset_name(name)
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


__all__ = ["NetworkFrames", "network_input"]
