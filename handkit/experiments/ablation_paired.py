"""Paired intervals for the ablation: is a variant's propagation below the Table I run's, on the
same test frames? Each evaluated run keeps its per-frame errors (``test_errors.npz`` in its
folder, :func:`save_frame_errors`); :func:`paired_rows` gives, per seed, variant, aligner mode
and distance band, the mean of (variant - table1) and its paired 95 % bootstrap interval over
the test videos (:func:`handkit.bootstrap.difference_interval`), and the same against copying
the nearest label. An interval below 0 says the variant is below, on resampled videos too; one
that holds 0 says these videos cannot tell.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from handkit.bootstrap import difference_interval
from handkit.comparison import interval_verdict
from handkit.evaluation_result import EvaluationResult, bin_name
from handkit.npz import write_npz

#: The per-frame errors of an evaluated run, in its folder.
ERRORS_FILE = "test_errors.npz"


def save_frame_errors(result: EvaluationResult, folder: Path) -> None:
    """Write ``result``'s per-frame MPJPE of every mode, with each frame's video, distance to
    its label and weight (annotated joints), and the distance bins, to ``folder/ERRORS_FILE``."""
    frames = result.frames
    arrays = {"video": frames.video, "frame": frames.frame, "distance": frames.distance,
              "joints": frames.joints, "bins": np.asarray(result.bins, dtype=np.int64)}
    arrays.update({f"mpjpe.{mode}": frames.mpjpe(mode) for mode in result.modes})
    write_npz(folder / ERRORS_FILE, arrays)


def read_frame_errors(folder: Path) -> dict[str, np.ndarray] | None:
    """What :func:`save_frame_errors` wrote in ``folder``; None if it wrote nothing there."""
    path = folder / ERRORS_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _bands(errors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Band name ("all", "1-15", ...) -> (N,) mask of its frames."""
    distance = errors["distance"]
    bands = {"all": np.ones(len(distance), dtype=bool)}
    for low, high in errors["bins"]:
        bands[bin_name(int(low), int(high))] = (distance >= low) & (distance <= high)
    return bands


def compare_runs(variant: dict[str, np.ndarray], reference: dict[str, np.ndarray], mode: str,
                 reference_mode: str) -> dict[str, dict[str, float]]:
    """Per band with frames: {"difference", "low", "high"} of ``mode`` in ``variant`` minus
    ``reference_mode`` in ``reference``, on the same frames.

    Raises:
        ValueError: the two runs were evaluated on different frames.
    """
    for key in ("video", "frame", "distance"):
        if not np.array_equal(variant[key], reference[key]):
            raise ValueError(f"the two runs were evaluated on different frames ({key} differs); "
                             f"paired intervals need the same test videos and K")
    out = {}
    for band, mask in _bands(reference).items():
        if mask.any():
            difference, low, high = difference_interval(
                variant[f"mpjpe.{mode}"][mask], reference[f"mpjpe.{reference_mode}"][mask],
                reference["video"][mask], weights=reference["joints"][mask])
            out[band] = {"difference": difference, "low": low, "high": high}
    return out


def paired_rows(out: Path, seeds: Sequence[int], variants: Sequence[str],
                modes: Sequence[str]) -> list[dict[str, Any]]:
    """One row per seed, variant (not "table1"), mode, reference ("table1": the same mode of
    the Table I run; "copy": copying the nearest label) and band, for the runs in
    ``out/seed<k>/<variant>/`` that kept their errors."""
    rows = []
    for seed in seeds:
        table1 = read_frame_errors(out / f"seed{seed}" / "table1")
        if table1 is None:
            continue
        for variant in variants:
            errors = read_frame_errors(out / f"seed{seed}" / variant)
            if variant == "table1" or errors is None:
                continue
            for mode in modes:
                for reference, reference_mode in (("table1", mode), ("copy", "copy")):
                    for band, numbers in compare_runs(errors, table1, mode,
                                                      reference_mode).items():
                        rows.append({"seed": seed, "variant": variant, "mode": mode,
                                     "against": reference, "distance": band, **numbers})
    return rows


def format_paired(rows: Sequence[dict[str, Any]]) -> str:
    """The rows of :func:`paired_rows` as lines: difference [interval] and a verdict."""
    lines = ["Paired differences (mm), variant minus reference on the same test frames, "
             "[95 % interval over test videos]:"]
    for row in rows:
        verdict = interval_verdict(row["low"], row["high"])
        lines.append(f"  seed {row['seed']} {row['variant']:>18} {row['mode']:>13} - "
                     f"{row['against']:<6} {row['distance']:>6}: {row['difference']:+6.1f} "
                     f"[{row['low']:+6.1f}, {row['high']:+6.1f}] {verdict}")
    return "\n".join(lines)


__all__ = ["ERRORS_FILE", "compare_runs", "format_paired", "paired_rows", "read_frame_errors",
           "save_frame_errors"]
