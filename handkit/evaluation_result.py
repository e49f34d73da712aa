"""What an evaluation of a split gives: :class:`EvaluationResult` (overall, by distance to the
nearest label, per frame), built from the per-video parts of
:func:`handkit.evaluation_video.score_video`, and its rows for tables and plots.

Split from :mod:`handkit.evaluation`, which re-exports every name here
(``from handkit.evaluation import EvaluationResult, table_rows`` keeps working).

Letters: N evaluated frames, L labels of a video.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handkit.inference import MODE_TITLES, GateParams
from handkit.inference.gating import GateCalibration
from handkit.metrics import JOINT_KEYS, METRIC_KEYS, VERTEX_KEYS

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
        joints: (N,) float64 annotated joints per frame: a frame's weight in MPJPE means.
    """

    video: np.ndarray
    frame: np.ndarray
    distance: np.ndarray
    metrics: dict[str, dict[str, np.ndarray]]
    joints: np.ndarray

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


# --- building a result ------------------------------------------------------------------------


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


def split_result(modes: tuple[str, ...], parts: Sequence[dict], *, positions: Sequence[int],
                 video_ids: Sequence[str], label_frames: Sequence[np.ndarray],
                 skipped: dict[str, str], gate: GateParams | None,
                 calibration: GateCalibration | None) -> EvaluationResult:
    """The :class:`EvaluationResult` of one predictor from its per-video ``parts``
    (:func:`handkit.evaluation_video.score_video`, one per evaluated video, in order).

    Args:
        modes: the modes scored. positions: each evaluated video's position in its reader.
        video_ids: their ids. label_frames: their (L,) labelled frames.
        skipped, gate, calibration: as :class:`EvaluationResult`.
    """
    renumber = {position: i for i, position in enumerate(positions)}

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
                           metrics=metrics, joints=count),
        video_ids=tuple(video_ids), label_frames=tuple(label_frames),
        skipped=skipped, gate=gate, calibration=calibration,
    )


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
