"""One video of an evaluated split: read once (what inference may see, with its ground truth
kept apart), its scored frames, their ground-truth vertices (with k-d trees for the F-scores)
and the per-frame metrics of a set of predictions on them.

Split from :mod:`handkit.evaluation`, which evaluates whole splits with these pieces and
re-exports the public ones (``from handkit.evaluation import read_video, true_vertices``
keeps working). Nothing here depends on a predictor, so one read and one ground-truth decoding
of a video serve every predictor evaluated on it
(:func:`handkit.evaluation.evaluate_predictors`).

Letters: T frames of a video, L labels, R scored frames, S image side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from handkit.data.crop import CropTransform
from handkit.data.frames import VideoFrames
from handkit.data.pairs import labelled_mask
from handkit.data.record import FrameRecord, without_ground_truth
from handkit.inference import VideoLabels, VideoPrediction, decode, evaluating
from handkit.metrics import JOINT_KEYS, VERTEX_KEYS, evaluate_per_frame, vertex_trees
from handkit.models.records import HandParams

Transform = Callable[[FrameRecord, np.random.Generator], FrameRecord]

#: The ground-truth fields kept for measuring (:attr:`VideoInputs.truth`, besides "annotated").
TRUTH_FIELDS = ("root", "theta", "beta", "joints", "joint_valid")


@dataclass(frozen=True)
class VideoInputs:
    """One video as inference sees it (images, intrinsics, labels) and its ground truth, kept apart
    (:func:`read_video`).

    Attributes:
        images: (T, 3, S, S) float RGB in [0, 1].
        intrinsics: (T, 3, 3) intrinsics.
        labels: the labelled frames and their labels, or None when the video has none.
        truth: root, theta, beta, joints, joint_valid, annotated (T, ...) for evaluation only.
    """

    images: torch.Tensor
    intrinsics: torch.Tensor
    labels: VideoLabels | None
    truth: dict[str, np.ndarray]


def check_reader(reader: object, transform: object) -> None:
    """Refuse a reader that is not a :class:`VideoFrames`, or a transform that is not a function
    or rolls the camera (the ground truth is not transformed with the image)."""
    if not isinstance(reader, VideoFrames):
        raise ValueError(f"reader must be a VideoFrames reader, got {type(reader).__name__}")
    if isinstance(transform, CropTransform) and transform.max_rotation_rad != 0:
        raise ValueError(f"transform must not roll the camera for evaluation, got "
                         f"max_rotation_rad={transform.max_rotation_rad}")
    if transform is not None and not callable(transform):
        raise ValueError(f"transform must be a function (record, rng) -> record, got "
                         f"{type(transform).__name__}")


def labelled_frames(reader: VideoFrames, *, label_every: int | None = None) -> list[np.ndarray]:
    """S_V per video: the reader's own (``label_every=None``) or {0, K, 2K, ..., T-1} for
    ``label_every = K``, annotated frames only; one (T^i,) bool mask per video."""
    if label_every is None:
        return reader.labelled_masks()
    return [annotated & labelled_mask(len(annotated), label_every)
            for annotated in reader.annotated_masks()]


def _size_error(shapes: Sequence[tuple[int, ...]], image_size: int | None) -> ValueError:
    want = "square (S, S, 3)" if image_size is None else f"({image_size}, {image_size}, 3)"
    return ValueError(f"images must be {want} for the predictor, got {list(shapes)[:3]}: give "
                      "transform=CropTransform(out_size=S)")


def check_image_size(images: torch.Tensor, image_size: int | None) -> None:
    """Refuse (T, 3, S, S) ``images`` whose side S is not the predictor's ``image_size``
    (None: any side)."""
    side = images.shape[-1]
    if image_size not in (None, side):
        raise _size_error([(side, side, 3)], image_size)


def _pixels(records: Sequence[FrameRecord], image_size: int | None) -> torch.Tensor:
    """(T, 3, S, S) float RGB in [0, 1] from T records of equal square (S, S, 3) images."""
    shapes = sorted({np.asarray(r.image).shape for r in records})
    size = shapes[0][0]
    if len(shapes) > 1 or shapes[0] != (size, size, 3) or (image_size not in (None, size)):
        raise _size_error(shapes, image_size)
    stacked = torch.from_numpy(np.stack([np.asarray(r.image) for r in records]))  # (T, S, S, 3)
    return stacked.permute(0, 3, 1, 2).to(torch.float32) / 255.0


def _params(records: Sequence[FrameRecord]) -> HandParams:
    def stack(name: str) -> torch.Tensor:
        return torch.as_tensor(np.stack([getattr(r, name) for r in records]), dtype=torch.float32)

    return HandParams(root=stack("root"), theta=stack("theta"), beta=stack("beta"))


def _shown(record: FrameRecord, labelled: bool, transform: Transform | None,
           rng_key: list[int]) -> FrameRecord:
    """What inference sees of a frame: its ground truth hidden unless labelled, transformed."""
    shown = record if labelled else without_ground_truth(record)
    if transform is not None:
        shown = transform(shown, np.random.default_rng(rng_key))
        if not labelled:
            shown = without_ground_truth(shown)
    return shown


def read_inputs(reader: VideoFrames, position: int, labelled: np.ndarray, *,
                transform: Transform | None, image_size: int | None = None,
                only_labelled: bool = False) -> VideoInputs:
    """Read the video at ``position`` of the reader (all T frames, or only its labelled ones),
    hiding unlabelled ground truth; ``labelled`` is its (T,) S_V mask. Each frame's transform
    draws from the generator seeded [0, 0, position, frame], so a reading is reproducible."""
    video_id = reader.video_ids[position]
    frames = np.flatnonzero(labelled) if only_labelled else np.arange(len(labelled))
    indices = np.asarray(reader.video_indices(video_id))[frames]
    raw = [reader[index] for index in indices.tolist()]
    seen = [_shown(record, bool(labelled[frame]), transform, [0, 0, position, frame])
            for record, frame in zip(raw, frames.tolist(), strict=True)]
    label_rows = np.flatnonzero(labelled[frames])
    labels = None
    if len(label_rows):
        labels = VideoLabels(frames[label_rows] if not only_labelled else label_rows,
                             _params([seen[i] for i in label_rows]), num_frames=len(frames))
    truth = {name: np.stack([getattr(r, name) for r in raw]) for name in TRUTH_FIELDS}
    truth["annotated"] = reader.annotated_mask[indices]
    intrinsics = torch.as_tensor(np.stack([r.intrinsics for r in seen]), dtype=torch.float32)
    return VideoInputs(images=_pixels(seen, image_size), intrinsics=intrinsics, labels=labels,
                       truth=truth)


def read_video(reader: VideoFrames, video_id: str, *, label_every: int | None = None,
               transform: Transform | None = None, image_size: int | None = None
               ) -> VideoInputs:
    """One video of a reader ready for :mod:`handkit.inference`: its images and intrinsics, its
    labels (labelled frames only; unlabelled ground truth is hidden before ``transform``) and,
    apart, its ground truth for measuring."""
    check_reader(reader, transform)
    position = reader.video_ids.index(video_id)
    mask = labelled_frames(reader, label_every=label_every)[position]
    return read_inputs(reader, position, mask, transform=transform, image_size=image_size)


# --- scoring ------------------------------------------------------------------------------------


def scored_rows(truth: dict[str, np.ndarray], labels: VideoLabels) -> np.ndarray:
    """(R,) int64 frames that are scored: annotated, not labelled, with a valid joint."""
    return np.flatnonzero(truth["annotated"] & ~labels.mask & truth["joint_valid"].any(axis=1))


def true_vertices(truth: dict[str, np.ndarray], rows: np.ndarray, mano, *,
                  batch_size: int = 256) -> torch.Tensor:
    """(R, 778, 3) ground-truth vertices of frames ``rows``: MANO of the true (r, theta, beta),
    decoded as the predictions are; ``truth`` is :attr:`VideoInputs.truth`."""
    gt = HandParams(*(torch.as_tensor(truth[k][rows], dtype=torch.float32)
                      for k in ("root", "theta", "beta")))
    with evaluating(mano):
        return decode(mano, gt, batch_size=batch_size)[0].cpu()


@dataclass(frozen=True)
class TruthVertices:
    """The ground-truth vertices of a video's scored frames, ready for scoring any number of
    predictions of them (:func:`truth_vertices`).

    Attributes:
        verts: (R, 778, 3) :func:`true_vertices`.
        trees: R k-d trees of ``verts`` (:func:`handkit.metrics.vertex_trees`, for F-scores).
    """

    verts: torch.Tensor
    trees: list


def truth_vertices(truth: dict[str, np.ndarray], rows: np.ndarray, mano, *,
                   batch_size: int = 256) -> TruthVertices:
    """:func:`true_vertices` of frames ``rows`` and their k-d trees, made once per video."""
    verts = true_vertices(truth, rows, mano, batch_size=batch_size)
    return TruthVertices(verts, vertex_trees(verts))


def score_video(position: int, truth: dict[str, np.ndarray], labels: VideoLabels,
                predictions: dict[str, VideoPrediction], rows: np.ndarray,
                gt: TruthVertices | None) -> dict:
    """Per-frame metrics of every mode on the video's scored frames.

    Args:
        position: the video's position in its reader.
        truth: :attr:`VideoInputs.truth`; labels: the video's labels.
        predictions: mode -> the video's (T-frame) prediction.
        rows: (R,) :func:`scored_rows`.
        gt: :func:`truth_vertices` of ``rows``, or None for joints only.
    Returns:
        video, frame, distance |u - N(u)| (R,), valid (R, 21) and metrics: mode -> key -> (R,).
    """
    vertices = gt is not None
    index = torch.as_tensor(rows)
    metrics = {}
    keys = JOINT_KEYS + (VERTEX_KEYS if vertices else ())
    for mode, prediction in predictions.items():
        if not len(rows):  # every unlabelled frame lacks valid joints
            metrics[mode] = {key: np.zeros(0) for key in keys}
            continue
        pred_verts = prediction.verts[index.to(prediction.verts.device)].cpu() if vertices else None
        values = evaluate_per_frame(
            prediction.joints[index.to(prediction.joints.device)].cpu(), truth["joints"][rows],
            pred_verts, gt.verts if vertices else None, joint_valid=truth["joint_valid"][rows],
            gt_trees=gt.trees if vertices else None,
        )
        metrics[mode] = {k: v for k, v in values.items() if v is not None}
    nearest = labels.frames[labels.nearest_rows()]  # (T,) N(u)
    return {"video": np.full(len(rows), position), "frame": rows,
            "distance": np.abs(rows - nearest[rows]), "valid": truth["joint_valid"][rows],
            "metrics": metrics}
