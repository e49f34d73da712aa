"""Rows of an evaluation with intervals: MPJPE per mode and distance bin, each with its 95 %
bootstrap interval over the evaluated videos (:func:`handkit.bootstrap.video_bootstrap`)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from handkit.bootstrap import video_bootstrap
from handkit.evaluation_result import EvaluationResult, bin_name
from handkit.inference import MODE_TITLES


def result_rows(result: EvaluationResult, **keys: Any) -> list[dict[str, Any]]:
    """One row per mode and distance bin (and "all"): ``keys`` (e.g. seed, variant), then mode,
    method, distance, frames, videos, MPJPE (mm) and its 95 % bootstrap interval over the
    evaluated videos (ci_low, ci_high); None where a bin has no frame, and no interval where
    its frames come from one video."""
    frames = result.frames
    in_bins = [(bin_name(low, high), (frames.distance >= low) & (frames.distance <= high))
               for low, high in result.bins]
    in_bins.append(("all", np.ones_like(frames.distance, dtype=bool)))
    rows = []
    for mode in result.modes:
        errors = frames.mpjpe(mode)
        for name, mask in in_bins:
            weight = frames.joints[mask]
            mean = float((errors[mask] * weight).sum() / weight.sum()) if mask.any() else None
            videos = len(np.unique(frames.video[mask]))
            low, high = (video_bootstrap(errors[mask], frames.video[mask], weights=weight)
                         if videos > 1 else (None, None))  # one video: nothing to resample
            rows.append({**keys, "mode": mode, "method": MODE_TITLES[mode], "distance": name,
                         "frames": int(mask.sum()), "videos": videos, "mpjpe": mean,
                         "ci_low": low, "ci_high": high})
    return rows




#: Number columns of :func:`result_rows`' rows and their types.
RESULT_NUMBERS: dict[str, Callable[[str], Any]] = {
    "frames": int, "videos": int, "mpjpe": float, "ci_low": float, "ci_high": float}


def read_result_rows(path: Path, numbers: Mapping[str, Callable[[str], Any]]
                     ) -> list[dict[str, Any]]:
    """Rows of :func:`result_rows` saved as CSV, read back: :data:`RESULT_NUMBERS` and the
    key columns in ``numbers`` (name -> type) as numbers, empty cells as None, others text."""
    types = {**RESULT_NUMBERS, **numbers}
    with Path(path).open(newline="") as handle:
        return [{key: (None if value == "" else types[key](value)) if key in types else value
                 for key, value in row.items()} for row in csv.DictReader(handle)]
