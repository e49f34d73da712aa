"""Experiments over K (label spacing) and lambda_align (the weight of L_align, Eq. 9).

One point of the experiment (:func:`train_and_evaluate`) generates (once, cached) a synthetic
set made like the Table I videos, trains the three stages at the given K and lambda_align, and
evaluates every Table I method on the unlabelled frames of its test videos; notebook 08 runs one
point and writes the numbers, so ``python -m handkit sweep`` can run it over a grid.
:func:`read_sweep_table` and :func:`slice_rows` read a sweep's ``results.csv`` for the figures of
notebook 08 (:mod:`handkit.viz.sweep`). Introduced in ``notebooks/08_experiments.ipynb``.
"""

from __future__ import annotations

import argparse
import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handkit.comparison import compare_pairs, interval_verdict
from handkit.errors import check_output_folder, command, refuse
from handkit.evaluation_result import EvaluationResult, bin_name
from handkit.experiments.table1 import (
    TABLE1_KEY_GAP,
    Table1Setting,
    bin_mpjpe,
    dataset_for,
    evaluate_run_results,
    table1_rows,
)
from handkit.resources import course_path
from handkit.train import TrainConfig, train
from handkit.viz.sweep import sweep_slice_figure, write_png

#: The Table I methods an experiment point reports.
METHODS = ("Baseline", "Baseline + Align", "Propagation", "Copy nearest label", "Interpolation",
           "Bidirectional", "Fused")


@dataclass(frozen=True)
class PointResult:
    """One experiment point's numbers (mm) on the test videos' unlabelled frames.

    Attributes:
        mpjpe: method -> MPJPE.
        by_distance: method -> {"1-15": MPJPE, "16-31": ..., ...}; None for a bin without
            frames (no frame is 32 frames from a label when K = 16).
        frames: the unlabelled test frames evaluated.
        seconds: training and evaluation time.
        ci_low, ci_high: method -> {"all": bound, "1-15": bound, ...}: the 95 % bootstrap
            interval of each MPJPE over the test videos (None: no frame, or one video).
        paired: :data:`PAIRED` name -> {"all" or bin -> {"difference", "low", "high"}}: the
            paired 95 % interval of MPJPE(a) - MPJPE(b) over the test videos
            (:func:`handkit.comparison.compare_modes`); bins without frames are left out.
    """

    mpjpe: dict[str, float]
    by_distance: dict[str, dict[str, float]]
    frames: int
    seconds: dict[str, float]
    ci_low: dict[str, dict[str, float | None]] = field(default_factory=dict)
    ci_high: dict[str, dict[str, float | None]] = field(default_factory=dict)
    paired: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


#: The paired comparisons of each point: name -> (mode a, mode b) of the final predictor.
PAIRED = {
    "Propagation - Interpolation": ("propagation", "interpolation"),
    "Propagation - Copy nearest label": ("propagation", "copy"),
    "Propagation - Baseline + Align": ("propagation", "regression"),
}


def experiment_data(*, num_videos: int, num_frames: int, size: int = 64, seed: int = 0,
                    cache: str | Path = Path("runs") / "cache", progress: bool = False) -> Path:
    """A synthetic set made like the Table I videos (same motion), a quarter of its videos
    for test; generated once and cached. Every frame keeps its ground truth, so any K works."""
    data = dict(num_videos=num_videos, num_frames=num_frames, size=size, seed=seed,
                label_every=128, val_fraction=0.0, test_fraction=0.25,
                params={"key_gap": TABLE1_KEY_GAP})
    setting = Table1Setting(name="k-lambda", data=data, train={}, seeds=(), train_videos=0)
    return dataset_for(setting, Path(cache), progress=progress)


def train_and_evaluate(data: Path | None, folder: Path, *, label_every: int,
                       lambda_align: float, seed: int = 0,
                       steps: tuple[int, int, int] = (60, 40, 20), batch_size: int = 32,
                       lr: float = 1e-3, dataset: str = "synthetic",
                       data_root: str | None = None, mano_root: str | None = None,
                       progress: bool = True) -> PointResult:
    """Train the three stages at K = ``label_every`` and ``lambda_align`` into ``folder``
    (overwritten), then evaluate :data:`METHODS` on the test videos at the same K.

    Args:
        data: the synthetic set (:func:`experiment_data`); None for a real ``dataset``.
        steps: stage 1, 2, 3 steps; batch_size: frames per stage-1 step (pairs: half).
        dataset, data_root, mano_root: a real set instead (:class:`handkit.train.TrainConfig`).
    """
    if (data is None) != (dataset != "synthetic"):
        raise ValueError(f"give data (a synthetic set's folder) for dataset 'synthetic' and "
                         f"None for a real set; got data={data!r}, dataset={dataset!r}")
    loss = {"lambda_align": float(lambda_align)}
    config = TrainConfig.from_dict(dict(
        dataset=dataset, data="synthetic" if data is None else str(data), data_root=data_root,
        mano_root=mano_root, label_every=int(label_every), stage1_steps=steps[0],
        stage2_steps=steps[1], stage3_steps=steps[2], batch_size=batch_size,
        pair_batch_size=max(batch_size // 2, 1), lr=lr, lr_schedule="cosine", seed=seed,
        rotation_aug_rad=math.pi / 8, checkpoint_every=10_000, loss=loss))
    result = train(config, folder, force=True, progress=progress)
    results = evaluate_run_results(folder, splits=("test",), vertices=False, progress=progress)
    rows, distance = table1_rows(results, seed=seed)
    mpjpe = {r["method"]: float(r["mpjpe"]) for r in rows if r["method"] in METHODS}
    by_distance = {m: {r["distance"]: bin_mpjpe(r) for r in distance if r["method"] == m}
                   for m in mpjpe}
    ci_low, ci_high = _intervals(rows, distance, mpjpe)
    frames = int(next(r["frames"] for r in rows if r["method"] == "Propagation"))
    return PointResult(mpjpe=mpjpe, by_distance=by_distance, frames=frames,
                       seconds=dict(result.seconds), ci_low=ci_low, ci_high=ci_high,
                       paired=paired_differences(results["test"]["predictor"]))


def _intervals(rows: list[dict], distance: list[dict], methods: Any
               ) -> tuple[dict[str, dict[str, float | None]], dict[str, dict[str, float | None]]]:
    """(ci_low, ci_high) of :class:`PointResult` from Table I rows and distance rows."""
    low: dict[str, dict[str, float | None]] = {m: {} for m in methods}
    high: dict[str, dict[str, float | None]] = {m: {} for m in methods}
    for row in rows:
        if row["method"] in low:
            low[row["method"]]["all"] = row.get("mpjpe_ci_low")
            high[row["method"]]["all"] = row.get("mpjpe_ci_high")
    for row in distance:
        if row["method"] in low:
            low[row["method"]][row["distance"]] = row.get("ci_low")
            high[row["method"]][row["distance"]] = row.get("ci_high")
    return low, high


def paired_differences(result: EvaluationResult) -> dict[str, dict[str, dict[str, float]]]:
    """:attr:`PointResult.paired` of one evaluation of the final predictor: every
    :data:`PAIRED` comparison over all frames and per distance bin that has frames."""
    bands = {"all": None, **{bin_name(low, high): (low, high) for low, high in result.bins}}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, (a, b) in PAIRED.items():
        found = compare_pairs(result.frames, {band: (a, b, span) for band, span in bands.items()})
        out[name] = {band: {"difference": c.difference, "low": c.low, "high": c.high}
                     for band, c in found.items()}
    return out


#: The results table of the larger sweep notebook 08 reads (relative to the repository).
COMMITTED_SWEEP = Path("experiments") / "sweep_k_lambda" / "results.csv"


def committed_sweep_table() -> Path:
    """The committed sweep table of the kit (see notebook 08 for its command), in the checkout
    or the installed package (:mod:`handkit.resources`)."""
    return course_path(*COMMITTED_SWEEP.parts)


def read_sweep_table(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a sweep's ``results.csv`` (:mod:`handkit.experiments.sweep`) that finished,
    numbers as floats (empty cells as None)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sweep table at {path}; make one with python -m handkit sweep")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for row in rows:
        if row.get("status", "ok") != "ok":
            continue
        out.append({k: _number(v) for k, v in row.items()})
    return out


def _number(text: str) -> Any:
    try:
        return float(text) if text not in ("", "None") else None
    except ValueError:
        return text


def slice_rows(rows: list[dict[str, Any]], *, against: str, at: dict[str, Any]
               ) -> list[dict[str, Any]]:
    """The rows where every parameter of ``at`` has its value, sorted by ``against``."""
    chosen = [r for r in rows if all(r.get(k) == v for k, v in at.items())]
    return sorted(chosen, key=lambda r: r[against])


def summary_table(rows: list[dict[str, Any]], *, lambda_align: float = 0.1) -> str:
    """The sweep's points at ``lambda_align`` as a Markdown table, a row per K: the MPJPE over
    all unlabelled frames of each method [95 % interval over the test videos, where the table
    has one], then propagation minus interpolation and minus copying, paired, with their
    intervals (rows of a sweep made before notebook 08 wrote intervals show the means alone)."""
    chosen = slice_rows(rows, against="label_every", at={"lambda_align": lambda_align})
    if not chosen:
        raise ValueError(f"no finished point at lambda_align = {lambda_align}")
    pairs = ("Propagation - Interpolation", "Propagation - Copy nearest label")
    lines = ["| K | " + " | ".join(METHODS) + " | " + " | ".join(
                 p.replace(" nearest label", "") for p in pairs) + " |",
             "|---|" + "---|" * (len(METHODS) + len(pairs))]
    for row in chosen:
        cells = [_with_interval(row, f"mpjpe.{m}", f"ci_low.{m}.all", f"ci_high.{m}.all")
                 for m in METHODS]
        cells += [_with_interval(row, f"paired.{p}.all.difference", f"paired.{p}.all.low",
                                 f"paired.{p}.all.high", signed=True) for p in pairs]
        lines.append(f"| {int(row['label_every'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_paired(rows: list[dict[str, Any]], *, lambda_align: float = 0.1) -> str:
    """Per K at ``lambda_align``: propagation, interpolation and copy over all unlabelled
    frames [95 % interval], and propagation minus each of them on the same frames, paired
    [95 % interval] with a verdict ("below", "above", or "no clear difference")."""
    chosen = slice_rows(rows, against="label_every", at={"lambda_align": lambda_align})
    lines = [f"λ_align = {lambda_align:g}, all unlabelled test frames, MPJPE (mm) "
             f"[95 % interval over the test videos]"]
    for row in chosen:
        lines.append(f"  K = {int(row['label_every'])}: " + ", ".join(
            f"{m} {_with_interval(row, f'mpjpe.{m}', f'ci_low.{m}.all', f'ci_high.{m}.all')}"
            for m in ("Propagation", "Interpolation", "Copy nearest label")))
        for pair in PAIRED:
            prefix = f"paired.{pair}.all"
            if row.get(f"{prefix}.difference") is None:
                continue
            low, high = row.get(f"{prefix}.low"), row.get(f"{prefix}.high")
            verdict = interval_verdict(low, high)
            verdict = f": {verdict}" if verdict else ""
            text = _with_interval(row, f"{prefix}.difference", f"{prefix}.low",
                                  f"{prefix}.high", signed=True)
            lines.append(f"      {pair}: {text}{verdict}")
    return "\n".join(lines)


def _with_interval(row: dict[str, Any], mean: str, low: str, high: str, *,
                   signed: bool = False) -> str:
    """"31.8 [28.0, 35.9]" from a sweep row's columns ("—" without the mean)."""
    if row.get(mean) is None:
        return "—"
    sign = "+" if signed else ""
    text = f"{row[mean]:{sign}.1f}"
    if row.get(low) is not None and row.get(high) is not None:
        text += f" [{row[low]:{sign}.1f}, {row[high]:{sign}.1f}]"
    return text


#: The methods of the sweep figures in docs/sweeps.md.
FIGURE_METHODS = ("Baseline + Align", "Propagation", "Interpolation", "Copy nearest label",
                  "Fused")
#: name -> (distance, title) of the sweep figures of docs/sweeps.md (MPJPE vs K, lambda_align 0.1).
FIGURES = {
    "against_k_all_frames": (
        "all", "MPJPE against K (label spacing), all unlabelled frames (λ_align = 0.1)"),
    "against_k_mid_gap": (
        "32-64", "MPJPE against K (label spacing), frames 32-64 from a label (λ_align = 0.1)"),
}


def write_figures(table: str | Path, out: str | Path, *, lambda_align: float = 0.1
                  ) -> list[str]:
    """PNGs of MPJPE against K (:data:`FIGURES`) from a sweep's ``results.csv`` into ``out``;
    one note per figure (written, or why not: :func:`handkit.viz.sweep.write_png`)."""
    rows = slice_rows(read_sweep_table(table), against="label_every",
                      at={"lambda_align": lambda_align})
    if not rows:
        raise ValueError(f"{table} has no finished point at lambda_align = {lambda_align}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    notes = []
    for name, (distance, title) in FIGURES.items():
        fig = sweep_slice_figure(rows, against="label_every", methods=FIGURE_METHODS,
                                 distance=distance, log_x=True, title=title)
        notes.append(write_png(fig, out / f"{name}.png", width=640, height=420))
    return notes


@command("experiment sweep-figures")
def figures_main(argv: list[str] | None = None) -> int:
    """``python -m handkit experiment sweep-figures [--table CSV] [--out DIR]``: the figures of
    the committed K x lambda_align sweep."""
    parser = argparse.ArgumentParser(
        prog="python -m handkit experiment sweep-figures",
        description="PNG figures of MPJPE against K from a K x lambda_align sweep table.")
    parser.add_argument("--table", type=Path, default=committed_sweep_table())
    parser.add_argument("--out", type=Path, default=committed_sweep_table().parent)
    args = parser.parse_args(argv)
    try:
        notes = write_figures(args.table, check_output_folder(args.out, "--out"))
    except (FileNotFoundError, ValueError) as error:
        return refuse("experiment sweep-figures", str(error))
    print("\n".join(notes))
    return 0 if all(note.startswith("PNG:") for note in notes) else 1
