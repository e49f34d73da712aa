"""Table I on a reader: the inference modes evaluated on the unlabelled frames of a split
(Sec. V-C), overall and by distance to the nearest label, with per-frame errors for timelines.

:func:`evaluate_split` reads each video once, runs the Hand Predictor once per frame
(:func:`handkit.inference.encode_video`), builds the video's labels from its labelled frames
only (:class:`handkit.inference.VideoLabels`), runs the chosen modes and scores them with
:mod:`handkit.metrics` on the frames that are annotated and not labelled: the paper's columns
F@5, F@15, MPVPE, MPVPE (P), MPJPE, MPJPE (T), MPJPE (SD), MPJPE (P).
:func:`evaluate_predictors` does the same for several predictors (Table I's Baseline, Control
and final predictor) in one pass: each video is read and its ground-truth vertices decoded
once, then every predictor encodes it and runs its modes; the numbers are those of
:func:`evaluate_split` for each predictor alone.

The per-video pieces (reading, scored frames, ground-truth vertices, scoring) live in
:mod:`handkit.evaluation_video`, the result records and tables in
:mod:`handkit.evaluation_result`; both are re-exported here.

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
  videos (:func:`handkit.inference.gating.calibrate_gate`): labels scenario 2 uses anyway, no
  unlabelled ground truth.

Letters: N evaluated frames, T frames of a video, L labels. Introduced in
``notebooks/07_evaluation.ipynb``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from handkit.data.frames import VideoFrames
from handkit.evaluation_result import (  # noqa: F401 (re-exported: handkit.evaluation names them)
    DISTANCE_BINS,
    EvaluationResult,
    FrameErrors,
    bin_name,
    distance_bins,
    distance_rows,
    split_result,
    table_rows,
)
from handkit.evaluation_video import (  # noqa: F401 (re-exported: handkit.evaluation names them)
    Transform,
    TruthVertices,
    VideoInputs,
    check_image_size,
    check_reader,
    labelled_frames,
    read_inputs,
    read_video,
    score_video,
    scored_rows,
    true_vertices,
    truth_vertices,
)
from handkit.inference import (
    MODES,
    GateParams,
    VideoFeatures,
    VideoLabels,
    check_modes,
    encode_video,
    predict_video,
)
from handkit.inference.gating import GateCalibration, calibrate_gate
from handkit.models.aligner import PoseAligner
from handkit.models.predictor import HandPredictor
from handkit.progress import progress_bar

# --- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Video:
    """What is kept of a video between encoding and scoring (not its images).

    Attributes:
        labels: its L labels. truth: :attr:`VideoInputs.truth` (T, ...).
        features: predictor name -> its :class:`VideoFeatures` of the video (T frames).
    """

    labels: VideoLabels
    truth: dict[str, np.ndarray]
    features: dict[str, VideoFeatures]


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
    return evaluate_predictors(
        reader, {"predictor": predictor}, aligner, {"predictor": modes}, label_every=label_every,
        transform=transform, gate=gate, vertices=vertices, batch_size=batch_size,
        aligner_batch_size=aligner_batch_size, progress=progress)["predictor"]


def evaluate_predictors(
    reader: VideoFrames,
    predictors: Mapping[str, HandPredictor],
    aligner: PoseAligner | None = None,
    modes: Mapping[str, Sequence[str]] | Sequence[str] = MODES,
    *,
    label_every: int | None = None,
    transform: Transform | None = None,
    gate: GateParams | None = None,
    vertices: bool = True,
    batch_size: int = 64,
    aligner_batch_size: int = 256,
    progress: bool = True,
) -> dict[str, EvaluationResult]:
    """:func:`evaluate_split` for several predictors in one pass over the split: each video is
    read once and its ground-truth vertices decoded once (with their k-d trees, per MANO
    decoder); then each predictor encodes it and runs its modes. Each result is the one
    :func:`evaluate_split` gives for that predictor alone (the same numbers).

    Args:
        predictors: name -> Hand Predictor (e.g. ``{"baseline": ..., "predictor": ...}``).
        modes: name -> its modes, or one list of modes for every predictor.
        gate: the gated mode's parameters for every predictor; None calibrates them per
            predictor on the evaluated videos' labels (with that predictor's features).
        Others: as :func:`evaluate_split`.
    Returns:
        name -> :class:`EvaluationResult`, in the order of ``predictors``.

    Every predictor's features of every evaluated video are held until scoring (as
    :func:`evaluate_split` holds one predictor's), so memory grows with the predictors.
    """
    check_reader(reader, transform)
    modes_of = _modes_by_name(predictors, modes, aligner)
    masks = labelled_frames(reader, label_every=label_every)
    videos, skipped = _encode_split(reader, predictors, masks, transform=transform,
                                    batch_size=batch_size, progress=progress)
    gates = {name: _gate(name, modes_of[name], gate, videos, aligner, aligner_batch_size)
             for name in predictors}
    parts = _score_split(videos, predictors, modes_of, {n: g for n, (g, _) in gates.items()},
                         aligner, vertices=vertices, batch_size=aligner_batch_size,
                         progress=progress)
    positions = list(videos)
    return {name: split_result(modes_of[name], parts[name], positions=positions,
                               video_ids=[reader.video_ids[p] for p in positions],
                               label_frames=[videos[p].labels.frames for p in positions],
                               skipped=skipped, gate=gates[name][0], calibration=gates[name][1])
            for name in predictors}


def _modes_by_name(predictors: Mapping[str, HandPredictor],
                   modes: Mapping[str, Sequence[str]] | Sequence[str],
                   aligner: PoseAligner | None) -> dict[str, tuple[str, ...]]:
    """Each predictor's checked modes (:func:`handkit.inference.check_modes`)."""
    if not isinstance(predictors, Mapping) or not predictors:
        raise ValueError(f"predictors must be a non-empty dict name -> HandPredictor, got "
                         f"{type(predictors).__name__} {predictors if not predictors else ''}")
    if not isinstance(modes, Mapping):
        modes = dict.fromkeys(predictors, modes)
    if set(modes) != set(predictors):
        raise ValueError(f"modes must give the modes of each predictor {sorted(predictors)}, "
                         f"got modes for {sorted(modes)}")
    return {name: check_modes(modes[name], aligner=aligner) for name in predictors}


def _skip_reason(labelled: np.ndarray, annotated: np.ndarray) -> str | None:
    """Why a video with these (T,) masks cannot be evaluated, or None."""
    if not labelled.any():
        return "no labelled frame"
    if not (annotated & ~labelled).any():
        return "no unlabelled annotated frame"
    return None


def _encode_split(reader: VideoFrames, predictors: Mapping[str, HandPredictor],
                  masks: list[np.ndarray], *, transform: Transform | None, batch_size: int,
                  progress: bool) -> tuple[dict[int, _Video], dict[str, str]]:
    """Read each video that can be evaluated once and encode it with every predictor.

    Returns:
        (reader position -> :class:`_Video`, skipped video id -> reason).
    """
    sizes = {predictor.image_size for predictor in predictors.values()}
    image_size = next(iter(sizes)) if len(sizes) == 1 else None  # checked per predictor below
    annotated_masks = reader.annotated_masks()
    videos: dict[int, _Video] = {}
    skipped: dict[str, str] = {}
    for position in progress_bar(range(len(reader.video_ids)), desc="encode", show=progress):
        reason = _skip_reason(masks[position], annotated_masks[position])
        if reason is not None:
            skipped[reader.video_ids[position]] = reason
            continue
        video = read_inputs(reader, position, masks[position], transform=transform,
                            image_size=image_size)
        features = {}
        for name, predictor in predictors.items():
            check_image_size(video.images, predictor.image_size)
            features[name] = encode_video(predictor, video.images, video.intrinsics,
                                          batch_size=batch_size)
        videos[position] = _Video(video.labels, video.truth, features)
    if not videos:
        raise ValueError(f"no video of the reader can be evaluated: {skipped}")
    return videos, skipped


def _gate(name: str, modes: tuple[str, ...], gate: GateParams | None,
          videos: dict[int, _Video], aligner: PoseAligner | None, batch_size: int
          ) -> tuple[GateParams | None, GateCalibration | None]:
    """(the gate predictor ``name`` runs with, its calibration if it was calibrated here)."""
    if "gated" not in modes or gate is not None:
        return gate, None
    calibration = calibrate_gate([(v.features[name], v.labels) for v in videos.values()],
                                 aligner, batch_size=batch_size)
    return calibration.gate, calibration


def _score_split(videos: dict[int, _Video], predictors: Mapping[str, HandPredictor],
                 modes_of: dict[str, tuple[str, ...]], gates: dict[str, GateParams | None],
                 aligner: PoseAligner | None, *, vertices: bool, batch_size: int,
                 progress: bool) -> dict[str, list[dict]]:
    """Each predictor's modes on each video, scored: name -> one
    :func:`~handkit.evaluation_video.score_video` part per video. A video's ground-truth
    vertices and their k-d trees are made once for all predictors (per MANO decoder)."""
    parts: dict[str, list[dict]] = {name: [] for name in predictors}
    for position, video in progress_bar(videos.items(), desc="evaluate", show=progress):
        rows = scored_rows(video.truth, video.labels)  # (R,)
        truths: dict[int, TruthVertices] = {}  # id(MANO decoder) -> its ground-truth vertices
        for name, predictor in predictors.items():
            mano = aligner.mano if aligner is not None else predictor.mano
            predictions = predict_video(video.features[name], video.labels, modes=modes_of[name],
                                        aligner=aligner, mano=mano, gate_params=gates[name],
                                        batch_size=batch_size)
            if vertices and id(mano) not in truths:
                truths[id(mano)] = truth_vertices(video.truth, rows, mano, batch_size=batch_size)
            parts[name].append(score_video(position, video.truth, video.labels, predictions, rows,
                                           truths[id(mano)] if vertices else None))
    return parts


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
    """:func:`handkit.inference.gating.calibrate_gate` on a reader's labelled frames: only those
    frames are read and encoded (an unlabelled frame is never opened). Use videos the predictor
    was not trained on (see :mod:`handkit.inference.gating`). Arguments as for
    :func:`evaluate_split`."""
    check_reader(reader, transform)
    masks = labelled_frames(reader, label_every=label_every)
    labelled = []
    for position in progress_bar(range(len(reader.video_ids)), desc="calibrate",
                                 show=progress):
        if masks[position].sum() < 2:
            continue
        video = read_inputs(reader, position, masks[position], transform=transform,
                            image_size=predictor.image_size, only_labelled=True)
        features = encode_video(predictor, video.images, video.intrinsics, batch_size=batch_size)
        labelled.append((features, video.labels))
    return calibrate_gate(labelled, aligner, score=score, batch_size=aligner_batch_size)
