"""Table I on a reader: the inference modes evaluated on the unlabelled frames of a split
(Sec. V-C), overall and by distance to the nearest label, with per-frame errors for timelines.

:func:`evaluate_split` reads each video once, runs the Hand Predictor once per frame
(:func:`handkit.inference.encode_video`), builds the video's labels from its labelled frames
only (:class:`handkit.inference.VideoLabels`), runs the chosen modes and scores them with
:mod:`handkit.metrics` on the frames that are annotated and not labelled: the paper's columns
F@5, F@15, MPVPE, MPVPE (P), MPJPE, MPJPE (T), MPJPE (SD), MPJPE (P).

Readings:

* Inputs are what training may see: an unlabelled frame's record has its ground truth removed
  (:func:`handkit.data.record.without_ground_truth`) before the optional ``transform`` (a crop
  with ``box="joints"`` therefore refuses unlabelled frames: crop with ``box="image"`` or a
  detector's box). Its ground truth is kept apart, untransformed, for the metrics alone, so a
  transform must not move the camera (crop or resize only: a :class:`CropTransform` with a roll
  is refused).
* Ground-truth vertices are MANO's for the ground-truth (r, theta, beta), by the same decoder
  as the predictions; joints are the dataset's, with its ``joint_valid``.
* Overall joint metrics weight each frame by its valid joints, as
  :func:`handkit.metrics.evaluate` does (MPJPE (T): frames with a valid wrist); vertex metrics
  are means over frames. Distance bins use the same weighting.
* ``label_every`` re-draws S_V = {0, K, 2K, ..., T-1} (annotated frames only) instead of the
  reader's own grid, e.g. for sweeps over K.
* The gated mode without a given gate is calibrated on the labelled frames of the evaluated
  videos (:func:`handkit.gating.calibrate_gate`): labels scenario 2 uses anyway, no unlabelled
  ground truth.

Letters: N evaluated frames, T frames of a video, L labels. Introduced in
``notebooks/07_evaluation.ipynb``.
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
from handkit.gating import GateCalibration, calibrate_gate
from handkit.inference import (
    MODE_TITLES,
    MODES,
    GateParams,
    VideoFeatures,
    VideoLabels,
    check_modes,
    decode,
    encode_video,
    evaluating,
    predict_video,
)
from handkit.metrics import JOINT_KEYS, METRIC_KEYS, VERTEX_KEYS, evaluate_per_frame
from handkit.models.aligner import PoseAligner
from handkit.models.predictor import HandPredictor
from handkit.models.records import HandParams
from handkit.progress import progress_bar

Transform = Callable[[FrameRecord, np.random.Generator], FrameRecord]

DISTANCE_BINS = ((1, 15), (16, 31), (32, 64))
"""|u - N(u)| bins of issue 9 (K = 128 puts every unlabelled frame within 64 of a label)."""


def distance_bins(max_distance: int) -> tuple[tuple[int, int], ...]:
    """:data:`DISTANCE_BINS`, then doubling bins (65-128, 129-256, ...) until ``max_distance``
    is covered (labels more than 128 frames apart).

    >>> distance_bins(64), distance_bins(100)[-1]
    (((1, 15), (16, 31), (32, 64)), (65, 128))
    """
    bins = list(DISTANCE_BINS)
    while bins[-1][1] < max_distance:
        bins.append((bins[-1][1] + 1, 2 * bins[-1][1]))
    return tuple(bins)


def bin_name(low: int, high: int) -> str:
    """``"1-15"`` for (1, 15)."""
    return f"{low}-{high}"


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameErrors:
    """Per-frame results on the N evaluated (unlabelled) frames, for timeline plots.

    Attributes:
        video: (N,) int64 position of the frame's video in ``EvaluationResult.video_ids``.
        frame: (N,) int64 frame u in its video.
        distance: (N,) int64 |u - N(u)|.
        metrics: mode -> metric key -> (N,) float64 (mm; F in [0, 1]); vertex keys absent
            without vertices.
    """

    video: np.ndarray
    frame: np.ndarray
    distance: np.ndarray
    metrics: dict[str, dict[str, np.ndarray]]

    def mpjpe(self, mode: str) -> np.ndarray:
        """(N,) per-frame MPJPE of ``mode``, mm."""
        return self.metrics[mode]["mpjpe"]


@dataclass(frozen=True)
class EvaluationResult:
    """What :func:`evaluate_split` measured.

    Attributes:
        modes: the modes, in order.
        overall: mode -> {metric key: value} over the evaluated frames (:data:`METRIC_KEYS`;
            vertex keys None without vertices).
        bins: the |u - N(u)| bins, inclusive (low, high).
        by_distance: mode -> MPJPE (mm) per bin (NaN for an empty bin).
        bin_counts: evaluated frames per bin.
        frames: :class:`FrameErrors`.
        video_ids: the evaluated videos (videos without labels or unlabelled annotated frames
            are left out; see ``skipped``).
        label_frames: per video, the (L,) labelled frames used.
        skipped: ids of videos left out, with the reason.
        gate: the gated mode's parameters, or None.
        calibration: the gate's fit when :func:`evaluate_split` calibrated it, else None.
    """

    modes: tuple[str, ...]
    overall: dict[str, dict[str, float | None]]
    bins: tuple[tuple[int, int], ...]
    by_distance: dict[str, tuple[float, ...]]
    bin_counts: tuple[int, ...]
    frames: FrameErrors
    video_ids: tuple[str, ...]
    label_frames: tuple[np.ndarray, ...]
    skipped: dict[str, str]
    gate: GateParams | None = None
    calibration: GateCalibration | None = None

    @property
    def num_frames(self) -> int:
        """N, the evaluated frames."""
        return len(self.frames.frame)


# --- reading videos -----------------------------------------------------------------------------


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


@dataclass(frozen=True)
class _Encoded:
    """What is kept of a video between encoding and scoring (not its images)."""

    labels: VideoLabels
    truth: dict[str, np.ndarray]
    features: VideoFeatures


def _check_reader(reader: object, transform: object) -> None:
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


def _pixels(records: Sequence[FrameRecord], image_size: int | None) -> torch.Tensor:
    shapes = sorted({np.asarray(r.image).shape for r in records})
    size = shapes[0][0]
    if len(shapes) > 1 or shapes[0] != (size, size, 3) or (image_size not in (None, size)):
        want = "square (S, S, 3)" if image_size is None else f"({image_size}, {image_size}, 3)"
        raise ValueError(f"images must be {want} for the predictor, got {shapes[:3]}: give "
                         "transform=CropTransform(out_size=S)")
    stacked = torch.from_numpy(np.stack([np.asarray(r.image) for r in records]))  # (T, S, S, 3)
    return stacked.permute(0, 3, 1, 2).to(torch.float32) / 255.0


def _params(records: Sequence[FrameRecord]) -> HandParams:
    def stack(name: str) -> torch.Tensor:
        return torch.as_tensor(np.stack([getattr(r, name) for r in records]), dtype=torch.float32)

    return HandParams(root=stack("root"), theta=stack("theta"), beta=stack("beta"))


def _read_video(reader: VideoFrames, position: int, labelled: np.ndarray, *,
                transform: Transform | None, image_size: int | None,
                only_labelled: bool = False) -> VideoInputs:
    """Read one video's frames (or only its labelled ones), hiding unlabelled ground truth."""
    video_id = reader.video_ids[position]
    frames = np.flatnonzero(labelled) if only_labelled else np.arange(len(labelled))
    indices = np.asarray(reader.video_indices(video_id))[frames]
    raw, seen = [], []
    for frame, index in zip(frames.tolist(), indices.tolist(), strict=True):
        record = reader[index]
        raw.append(record)
        shown = record if labelled[frame] else without_ground_truth(record)
        if transform is not None:
            rng = np.random.default_rng([0, 0, position, frame])
            shown = transform(shown, rng)
            if not labelled[frame]:
                shown = without_ground_truth(shown)
        seen.append(shown)
    label_rows = np.flatnonzero(labelled[frames])
    labels = None
    if len(label_rows):
        labels = VideoLabels(frames[label_rows] if not only_labelled else label_rows,
                             _params([seen[i] for i in label_rows]), num_frames=len(frames))
    truth = {name: np.stack([getattr(r, name) for r in raw])
             for name in ("root", "theta", "beta", "joints", "joint_valid")}
    truth["annotated"] = reader.annotated_mask[indices]
    return VideoInputs(images=_pixels(seen, image_size),
                  intrinsics=torch.as_tensor(np.stack([r.intrinsics for r in seen]),
                                             dtype=torch.float32),
                  labels=labels, truth=truth)


def read_video(reader: VideoFrames, video_id: str, *, label_every: int | None = None,
               transform: Transform | None = None, image_size: int | None = None
               ) -> VideoInputs:
    """One video of a reader ready for :mod:`handkit.inference`: its images and intrinsics, its
    labels (labelled frames only; unlabelled ground truth is hidden before ``transform``) and,
    apart, its ground truth for measuring."""
    _check_reader(reader, transform)
    position = reader.video_ids.index(video_id)
    mask = labelled_frames(reader, label_every=label_every)[position]
    return _read_video(reader, position, mask, transform=transform, image_size=image_size)


# --- evaluation ---------------------------------------------------------------------------------


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = weights.sum()
    return float(np.where(weights > 0, values * weights, 0.0).sum() / total) if total else np.nan


def _summarise(values: dict[str, np.ndarray], valid: np.ndarray) -> dict[str, float | None]:
    """Per-frame metrics -> the values :func:`handkit.metrics.evaluate` gives on those frames."""
    count = valid.sum(axis=1).astype(np.float64)  # (N,) valid joints
    count_t = count * valid[:, 0]  # frames without a valid wrist drop out of MPJPE (T)
    out: dict[str, float | None] = {}
    for key in JOINT_KEYS:
        out[key] = _weighted_mean(values[key], count_t if key == "mpjpe_t" else count)
    for key in VERTEX_KEYS:
        out[key] = float(values[key].mean()) if key in values and len(values[key]) else None
    return out


def evaluate_split(
    reader: VideoFrames,
    predictor: HandPredictor,
    aligner: PoseAligner | None = None,
    *,
    modes: Sequence[str] = MODES,
    label_every: int | None = None,
    transform: Transform | None = None,
    gate: GateParams | None = None,
    vertices: bool = True,
    batch_size: int = 64,
    aligner_batch_size: int = 256,
    progress: bool = True,
) -> EvaluationResult:
    """Table I on one split: every mode on the unlabelled annotated frames of ``reader``.

    Args:
        reader: the split's reader (e.g. ``VideoDataset(root, "test")``).
        predictor: the Hand Predictor (scenario 1; also encodes z for the aligner modes).
        aligner: the Pose Aligner; needed by propagation, bidirectional and gated.
        modes: names from :data:`handkit.inference.MODES`.
        label_every: K for S_V, or None for the reader's labels.
        transform: per-frame ``(record, rng) -> record`` making the predictor's input (e.g.
            ``CropTransform(out_size=64)``); it must not move the camera.
        gate: the gated mode's parameters; None calibrates them on the evaluated videos' labels.
        vertices: also compute MPVPE, MPVPE (P), F@5, F@15 (the slow part).
        batch_size: frames per encoder call. aligner_batch_size: rows per aligner/MANO call.
        progress: show tqdm progress bars.
    Returns:
        :class:`EvaluationResult`.
    """
    _check_reader(reader, transform)
    modes = check_modes(modes, aligner=aligner)
    mano = aligner.mano if aligner is not None else predictor.mano
    masks = labelled_frames(reader, label_every=label_every)
    annotated_masks = reader.annotated_masks()
    videos: dict[int, _Encoded] = {}
    skipped: dict[str, str] = {}
    for position in progress_bar(range(len(reader.video_ids)), desc="encode", show=progress):
        video_id, mask = reader.video_ids[position], masks[position]
        annotated = annotated_masks[position]
        if not mask.any():
            skipped[video_id] = "no labelled frame"
        elif not (annotated & ~mask).any():
            skipped[video_id] = "no unlabelled annotated frame"
        else:
            video = _read_video(reader, position, mask, transform=transform,
                                image_size=predictor.image_size)
            features = encode_video(predictor, video.images, video.intrinsics,
                                    batch_size=batch_size)
            videos[position] = _Encoded(video.labels, video.truth, features)
    if not videos:
        raise ValueError(f"no video of the reader can be evaluated: {skipped}")
    calibration = None
    if "gated" in modes and gate is None:
        calibration = calibrate_gate([(v.features, v.labels) for v in videos.values()], aligner,
                                     batch_size=aligner_batch_size)
        gate = calibration.gate
    parts = []
    for position, video in progress_bar(videos.items(), desc="evaluate", show=progress):
        predictions = predict_video(video.features, video.labels, modes=modes, aligner=aligner,
                                    mano=mano, gate_params=gate, batch_size=aligner_batch_size)
        parts.append(_score_video(position, video, predictions, mano, vertices=vertices,
                                  batch_size=aligner_batch_size))
    return _result(reader, modes, parts, videos, skipped, gate, calibration)


def true_vertices(truth: dict[str, np.ndarray], rows: np.ndarray, mano, *,
                  batch_size: int = 256) -> torch.Tensor:
    """(R, 778, 3) ground-truth vertices of frames ``rows``: MANO of the true (r, theta, beta),
    decoded as the predictions are; ``truth`` is :attr:`VideoInputs.truth`."""
    gt = HandParams(*(torch.as_tensor(truth[k][rows], dtype=torch.float32)
                      for k in ("root", "theta", "beta")))
    with evaluating(mano):
        return decode(mano, gt, batch_size=batch_size)[0].cpu()


def _score_video(position: int, video: _Encoded, predictions: dict, mano, *, vertices: bool,
                 batch_size: int) -> dict:
    """Per-frame metrics of every mode on the video's unlabelled annotated frames."""
    truth, labels = video.truth, video.labels
    rows = np.flatnonzero(truth["annotated"] & ~labels.mask & truth["joint_valid"].any(axis=1))
    gt_verts = true_vertices(truth, rows, mano, batch_size=batch_size) if vertices else None
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
            pred_verts, gt_verts, joint_valid=truth["joint_valid"][rows],
        )
        metrics[mode] = {k: v for k, v in values.items() if v is not None}
    nearest = labels.frames[labels.nearest_rows()]  # (T,) N(u)
    return {"video": np.full(len(rows), position), "frame": rows,
            "distance": np.abs(rows - nearest[rows]), "valid": truth["joint_valid"][rows],
            "metrics": metrics}


def _result(reader, modes, parts, videos, skipped, gate, calibration) -> EvaluationResult:
    order = list(videos)  # positions of the evaluated videos
    renumber = {position: i for i, position in enumerate(order)}

    def cat(name: str) -> np.ndarray:
        return np.concatenate([part[name] for part in parts])

    valid, distance = cat("valid"), cat("distance")
    metrics = {mode: {key: np.concatenate([part["metrics"][mode][key] for part in parts])
                      for key in parts[0]["metrics"][mode]} for mode in modes}
    bins = distance_bins(int(distance.max()) if len(distance) else 0)
    in_bin = [(distance >= low) & (distance <= high) for low, high in bins]
    count = valid.sum(axis=1).astype(np.float64)
    return EvaluationResult(
        modes=modes,
        overall={mode: _summarise(metrics[mode], valid) for mode in modes},
        bins=bins,
        by_distance={mode: tuple(_weighted_mean(metrics[mode]["mpjpe"][b], count[b])
                                 for b in in_bin) for mode in modes},
        bin_counts=tuple(int(b.sum()) for b in in_bin),
        frames=FrameErrors(video=np.array([renumber[v] for v in cat("video")], dtype=np.int64),
                           frame=cat("frame").astype(np.int64), distance=distance.astype(np.int64),
                           metrics=metrics),
        video_ids=tuple(reader.video_ids[p] for p in order),
        label_frames=tuple(videos[p].labels.frames for p in order),
        skipped=skipped, gate=gate, calibration=calibration,
    )


def calibrate_gate_on_reader(
    reader: VideoFrames,
    predictor: HandPredictor,
    aligner: PoseAligner,
    *,
    score: str = "cycle",
    label_every: int | None = None,
    transform: Transform | None = None,
    batch_size: int = 64,
    aligner_batch_size: int = 256,
    progress: bool = False,
) -> GateCalibration:
    """:func:`handkit.gating.calibrate_gate` on a reader's labelled frames: only those frames
    are read and encoded (an unlabelled frame is never opened). Use videos the predictor was not
    trained on (see :mod:`handkit.gating`). Arguments as for :func:`evaluate_split`."""
    _check_reader(reader, transform)
    masks = labelled_frames(reader, label_every=label_every)
    labelled = []
    for position in progress_bar(range(len(reader.video_ids)), desc="calibrate",
                                 show=progress):
        if masks[position].sum() < 2:
            continue
        video = _read_video(reader, position, masks[position], transform=transform,
                            image_size=predictor.image_size, only_labelled=True)
        features = encode_video(predictor, video.images, video.intrinsics, batch_size=batch_size)
        labelled.append((features, video.labels))
    return calibrate_gate(labelled, aligner, score=score, batch_size=aligner_batch_size)


# --- tables -------------------------------------------------------------------------------------


def table_rows(result: EvaluationResult) -> list[dict[str, object]]:
    """One row per mode: its name, the evaluated frames, the paper's columns (keys of
    :data:`handkit.metrics.METRIC_KEYS`, mm; F in [0, 1]) and ``mpjpe_<bin>`` per distance
    bin: ready for ``csv.DictWriter`` or ``plotly.express`` (wide form)."""
    rows = []
    for mode in result.modes:
        row: dict[str, object] = {"mode": mode, "method": MODE_TITLES[mode],
                                  "frames": result.num_frames}
        row |= {key: result.overall[mode][key] for key in METRIC_KEYS}
        row |= {f"mpjpe_{bin_name(*b)}": value
                for b, value in zip(result.bins, result.by_distance[mode], strict=True)}
        rows.append(row)
    return rows


def distance_rows(result: EvaluationResult) -> list[dict[str, object]]:
    """One row per (mode, distance bin): mode, method, distance ("1-15"), frames, mpjpe (mm);
    the long form for a grouped bar chart of error against distance to the nearest label."""
    return [
        {"mode": mode, "method": MODE_TITLES[mode], "distance": bin_name(*b), "frames": count,
         "mpjpe": value}
        for mode in result.modes
        for b, count, value in zip(result.bins, result.bin_counts, result.by_distance[mode],
                                   strict=True)
    ]
